import hmac

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control, never_cache


def home(request):
    if request.user.is_authenticated and request.GET.get("landing") is None:
        return redirect("dashboard")
    return render(request, "core/home.html")


@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: send them to the SVG icon."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


# Readiness: each app registers the probe of what it owns in settings.READINESS_PROBES (name →
# dotted path of a function that raises when not ready), as Django resolves its backends; core
# runs them without knowing them. Results are kept READINESS_CACHE_SECONDS, so a load balancer
# polling every second does not open a connection to every dependency each time.
_ready: dict = {"at": 0.0, "checks": {}}


def _run_probes() -> dict[str, str | Exception]:
    import time

    from django.utils.module_loading import import_string

    now = time.monotonic()
    if now - _ready["at"] < settings.READINESS_CACHE_SECONDS and _ready["checks"]:
        return _ready["checks"]
    checks: dict[str, str | Exception] = {}
    for name, path in settings.READINESS_PROBES.items():
        try:
            import_string(path)()
        except Exception as exc:
            checks[name] = exc
        else:
            checks[name] = "ok"
    _ready.update(at=now, checks=checks)
    return checks


def _operator(request) -> bool:
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(presented.encode(), token.encode())


@never_cache
def readyz(request):
    """Whether this process can serve: 503 when a registered probe fails, so a load balancer
    takes it out of rotation. Anyone sees which check fails; only the operator (the
    METRICS_TOKEN as a Bearer token) sees why (exception texts name hosts and users)."""
    checks = _run_probes()
    detailed = _operator(request)
    shown = {
        name: "ok"
        if state == "ok"
        else (f"failing: {type(state).__name__}: {str(state)[:200]}" if detailed else "failing")
        for name, state in checks.items()
    }
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": shown}, status=200 if ready else 503
    )


@never_cache
def metrics(request):
    """Prometheus metrics, for whoever holds METRICS_TOKEN (404 when it is unset)."""
    from apps.core.metrics import exposition

    if not settings.METRICS_TOKEN:
        raise Http404
    if not _operator(request):
        return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")


def support(request):
    return render(request, "core/support.html", {"support_email": settings.SUPPORT_EMAIL})


def legal_page(request, name: str):
    from django.utils import translation

    from .legal import legal_html

    titles = {"terms": _("Terms of Service"), "privacy": _("Privacy Policy")}
    html = legal_html(name, translation.get_language() or "en")
    return render(request, "core/legal.html", {"title": titles[name], "html": html})
