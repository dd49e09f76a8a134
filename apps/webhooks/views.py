import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.errors import ServiceError
from apps.core.roles import acting_user, require_role
from apps.core.sealed import seal, unseal

from . import selectors, services
from .addresses import UnsafeURL
from .forms import EndpointForm
from .models import EVENT_TYPES, WebhookEndpoint

LOG_LIMIT = 50
# A new secret survives one redirect (POST → redirect → GET) sealed in the cache, as the keys
# page does with a new key: the browser's next GET of the endpoint shows it once.
REVEAL_SECONDS = 300
REVEAL_SESSION_KEY = "webhooks_reveal"


def _owned(request, endpoint_id: int) -> WebhookEndpoint:
    try:
        return selectors.endpoint_for_user(user_id=acting_user(request).pk, endpoint_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist as exc:
        raise Http404("No such endpoint.") from exc


def _reveal_after_redirect(request, *, endpoint: WebhookEndpoint, secret: str):
    token = secrets.token_urlsafe(16)
    sealed = seal(secret, purpose="webhook-reveal")
    cache.set(f"webhooks:reveal:{token}", (endpoint.pk, sealed), REVEAL_SECONDS)
    request.session[REVEAL_SESSION_KEY] = token
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)


def _take_revealed(request, endpoint: WebhookEndpoint) -> str | None:
    token = request.session.pop(REVEAL_SESSION_KEY, None)
    value = cache.get(f"webhooks:reveal:{token}") if token else None
    if token:
        cache.delete(f"webhooks:reveal:{token}")
    if not value or value[0] != endpoint.pk:
        return None
    return unseal(value[1], purpose="webhook-reveal")


def _no_store(response, secret):
    if secret:  # the one response that carries a secret: keep it out of every cache
        response["Cache-Control"] = "no-store"
    return response


def _render_list(request, *, form=None, new_endpoint=None, secret=None, status=200):
    context = {
        "endpoints": selectors.endpoints_for_user(user_id=acting_user(request).pk),
        "form": form or EndpointForm(),
        "new_endpoint": new_endpoint,
        "secret": secret,
        "endpoints_max": settings.WEBHOOK_ENDPOINTS_MAX,
        "event_types": EVENT_TYPES,
    }
    template = "webhooks/partials/area.html" if request.htmx else "webhooks/list.html"
    return _no_store(render(request, template, context, status=status), secret)


def _render_detail(request, endpoint: WebhookEndpoint, *, secret=None, partial=None):
    context = {
        "endpoint": endpoint,
        "secret": secret,
        "pending": selectors.endpoint_pending(endpoint_id=endpoint.pk),
        "log": selectors.endpoint_log(endpoint_id=endpoint.pk, limit=LOG_LIMIT),
        "log_limit": LOG_LIMIT,
        "event_types": {kind: EVENT_TYPES[kind] for kind in endpoint.event_types},
    }
    if partial is None:
        partial = bool(request.htmx)
    template = "webhooks/partials/endpoint.html" if partial else "webhooks/detail.html"
    return _no_store(render(request, template, context), secret)


@login_required
@require_role("webhooks")
@require_http_methods(["GET", "POST"])
def endpoint_list(request):
    """GET: the user's endpoints and the form to add one. POST: add one, its secret shown once."""
    if request.method == "GET":
        return _render_list(request)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(
                user_id=acting_user(request).pk,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except UnsafeURL as exc:
            form.add_error("url", exc.message)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            if request.htmx:  # the fragment replaces the form in place: nothing to re-post
                return _render_list(request, new_endpoint=endpoint, secret=secret)
            return _reveal_after_redirect(request, endpoint=endpoint, secret=secret)
    # htmx swaps only 2xx answers: the form with its errors comes back as a 200 to htmx.
    return _render_list(request, form=form, status=200 if request.htmx else 400)


@login_required
@require_role("webhooks")
@require_GET
def endpoint_detail(request, endpoint_id: int):
    """The endpoint, its actions and its delivery log."""
    endpoint = _owned(request, endpoint_id)
    return _render_detail(request, endpoint, secret=_take_revealed(request, endpoint))


@login_required
@require_role("webhooks")
@require_GET
def endpoint_log(request, endpoint_id: int):
    """The delivery log alone (htmx's refresh), or the whole page."""
    endpoint = _owned(request, endpoint_id)
    if not request.htmx:
        return _render_detail(request, endpoint)
    context = {
        "endpoint": endpoint,
        "log": selectors.endpoint_log(endpoint_id=endpoint.pk, limit=LOG_LIMIT),
        "log_limit": LOG_LIMIT,
        "pending": selectors.endpoint_pending(endpoint_id=endpoint.pk),
    }
    return render(request, "webhooks/partials/log.html", context)


def _after_action(request, endpoint: WebhookEndpoint):
    if request.htmx:
        return _render_detail(request, endpoint)
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)


@login_required
@require_role("webhooks")
@require_POST
def endpoint_enable(request, endpoint_id: int):
    endpoint = _owned(request, endpoint_id)
    enabled = request.POST.get("enabled") == "1"
    try:
        endpoint = services.endpoint_enable(
            user_id=acting_user(request).pk, endpoint_id=endpoint.pk, enabled=enabled
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("The endpoint is on.") if endpoint.enabled else _("The endpoint is off.")
        )
    return _after_action(request, endpoint)


@login_required
@require_role("webhooks")
@require_POST
def endpoint_test(request, endpoint_id: int):
    endpoint = _owned(request, endpoint_id)
    try:
        services.webhook_test_send(user_id=acting_user(request).pk, endpoint_id=endpoint.pk)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A test event was queued: its delivery shows in the log."))
    return _after_action(request, endpoint)


@login_required
@require_role("webhooks")
@require_POST
def endpoint_roll_secret(request, endpoint_id: int):
    endpoint = _owned(request, endpoint_id)
    secret = services.endpoint_secret_roll(user_id=acting_user(request).pk, endpoint_id=endpoint.pk)
    endpoint.refresh_from_db()
    if request.htmx:
        return _render_detail(request, endpoint, secret=secret)
    return _reveal_after_redirect(request, endpoint=endpoint, secret=secret)


@login_required
@require_role("webhooks")
@require_http_methods(["GET", "POST"])
def endpoint_delete(request, endpoint_id: int):
    endpoint = _owned(request, endpoint_id)
    if request.method == "GET":  # the confirmation step
        return render(request, "webhooks/delete_confirm.html", {"endpoint": endpoint})
    services.endpoint_delete(user_id=acting_user(request).pk, endpoint_id=endpoint.pk)
    messages.success(request, _("The endpoint %(url)s was deleted.") % {"url": endpoint.url})
    return redirect("webhooks:list")
