import hmac

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
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


def _check(name: str, probe) -> tuple[str, str]:
    try:
        probe()
    except Exception as exc:
        return name, f"failing: {type(exc).__name__}: {str(exc)[:200]}"
    return name, "ok"


@never_cache
def readyz(request):
    """Whether this process can serve: the database, Redis, the Celery broker and a loaded
    catalog. 503 (with what fails) otherwise, so a load balancer takes it out of rotation."""
    from apps.catalog.models import Model

    def database():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def redis():
        if settings.REDIS_URL:
            from apps.keys.cache import sync_redis

            sync_redis().ping()

    def broker():
        from config.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)

    def catalog():
        if not Model.objects.filter(enabled=True).exists():
            raise LookupError("no enabled model: run manage.py sync_catalog")

    checks = dict(
        _check(name, probe)
        for name, probe in (
            ("database", database),
            ("redis", redis),
            ("broker", broker),
            ("catalog", catalog),
        )
    )
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


@never_cache
def metrics(request):
    """Prometheus metrics, for whoever holds METRICS_TOKEN (404 when it is unset)."""
    from apps.core.metrics import exposition

    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
