import secrets
from datetime import UTC, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.audit.client import client_ip
from apps.core.errors import ServiceError
from apps.core.money import micro_to_credits
from apps.core.roles import acting_user, membership_of, own_keys_only, require_role
from apps.core.sealed import seal, unseal

from . import selectors, services
from .forms import CreateKeyForm, EditKeyForm, RotateKeyForm
from .models import ApiKey


def _owned_key(request, key_id: int) -> ApiKey:
    """A key of the account the request acts for (a plain member of an organization: one they
    created); any other key is not there at all."""
    try:
        key = selectors.api_key_for_user(user_id=acting_user(request).pk, key_id=key_id)
    except ApiKey.DoesNotExist as exc:
        raise Http404("No such key.") from exc
    only = own_keys_only(request)
    if only is not None and key.created_by_id != only:
        raise Http404("No such key.")
    return key


# A new secret survives one redirect (POST → redirect → GET) in the cache, sealed (the cache
# never holds it readable), never in the session or the database: the browser's next GET of the
# list shows it once and it is gone.
REVEAL_SECONDS = 300
REVEAL_SESSION_KEY = "keys_reveal"


def _reveal_after_redirect(request, *, key: ApiKey, secret: str):
    token = secrets.token_urlsafe(16)
    cache.set(f"keys:reveal:{token}", (key.pk, seal(secret, purpose="key-reveal")), REVEAL_SECONDS)
    request.session[REVEAL_SESSION_KEY] = token
    return redirect("keys:list")


def _take_revealed(request) -> tuple[ApiKey | None, str | None]:
    token = request.session.pop(REVEAL_SESSION_KEY, None)
    if not token:
        return None, None
    value = cache.get(f"keys:reveal:{token}")
    cache.delete(f"keys:reveal:{token}")
    if not value:
        return None, None
    key_id, secret = value[0], unseal(value[1], purpose="key-reveal")
    if secret is None:
        return None, None
    try:
        return _owned_key(request, key_id), secret
    except Http404:
        return None, None


def _render_list(request, *, form=None, new_key=None, secret=None, partial=None):
    keys = selectors.api_keys_for_user(user_id=acting_user(request).pk)
    only = own_keys_only(request)
    if only is not None:
        keys = [k for k in keys if k.created_by_id == only]
    show_revoked = request.GET.get("revoked") == "1"
    hidden = 0
    if not show_revoked:
        keys, hidden = selectors.split_old_revoked(keys)
    context = {
        "keys": keys,
        "hidden_revoked": hidden,
        "show_revoked": show_revoked,
        "form": form or CreateKeyForm(),
        "new_key": new_key,
        "secret": secret,
    }
    if partial is None:
        partial = bool(request.htmx)
    template = "keys/partials/area.html" if partial else "keys/list.html"
    response = render(request, template, context)
    if secret:
        # The one response that carries a secret: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_role("keys")
@require_http_methods(["GET", "POST"])
def key_list(request):
    """GET: the user's keys and the create form. POST: create a key and show its secret once."""
    if request.method == "GET":
        new_key, secret = _take_revealed(request)
        return _render_list(request, new_key=new_key, secret=secret)
    form = CreateKeyForm(request.POST)
    if form.is_valid():
        try:
            membership = membership_of(request)
            key, secret = services.api_key_create(
                user_id=acting_user(request).pk,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at,
                credit_limit=form.credit_limit_micro,
                rpm_limit=form.cleaned_data["rpm_limit"],
                create_token=form.cleaned_data["token"],
                actor_id=request.user.pk,
                ip=client_ip(request),
                created_by_id=request.user.pk,
                spend_cap_id=membership.spend_cap_id if membership is not None else None,
                **form.guardrails,
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            if request.htmx:  # the fragment replaces the form in place: nothing to re-post
                return _render_list(request, new_key=key, secret=secret)
            return _reveal_after_redirect(request, key=key, secret=secret)
    return _render_list(request, form=form)


@login_required
@require_role("keys")
@require_http_methods(["GET", "POST"])
def key_detail(request, key_id: int):
    """The key's facts and history; POST changes its name and limits."""
    key = _owned_key(request, key_id)
    form = EditKeyForm(request.POST or None, initial=_edit_initial(key))
    if request.method == "POST" and form.is_valid():
        try:
            services.api_key_update(
                user_id=acting_user(request).pk,
                key_id=key.pk,
                name=form.cleaned_data["name"],
                credit_limit=form.credit_limit_micro,
                rpm_limit=form.cleaned_data["rpm_limit"],
                actor_id=request.user.pk,
                ip=client_ip(request),
                **form.guardrails,
                **form.expiry_changes,
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("keys:detail", key_id=key.pk)
    events = selectors.api_key_events(key_id=key.pk)
    window = selectors.api_key_window(key=key, time_zone=acting_user(request).time_zone)
    return render(
        request,
        "keys/detail.html",
        {"key": key, "events": events, "form": form, "window": window},
    )


def _edit_initial(key: ApiKey) -> dict:
    """The edit form as the key is now (its line's budget carries the credit and spend limits)."""
    spend_limit = key.budget_spend_limit
    return {
        "name": key.name,
        # The day it stops working (the form's dates end at midnight UTC).
        "expires_on": (key.expires_at - timedelta(microseconds=1)).astimezone(UTC).date()
        if key.expires_at
        else None,
        "credit_limit": None if key.budget_limit is None else micro_to_credits(key.budget_limit),
        "rpm_limit": key.rpm_limit,
        "spend_limit": None if spend_limit is None else micro_to_credits(spend_limit),
        "spend_window": key.budget_spend_window or "day",
        "tpm_limit": key.tpm_limit,
        "allowed_models": ", ".join(key.allowed_models or []),
        "allowed_ips": ", ".join(key.allowed_ips or []),
    }


@login_required
@require_role("keys")
@require_http_methods(["GET", "POST"])
def key_revoke(request, key_id: int):
    key = _owned_key(request, key_id)
    if request.method == "GET":  # the confirmation step for browsers without JavaScript
        return render(request, "keys/revoke_confirm.html", {"key": key})
    services.api_key_revoke(
        user_id=acting_user(request).pk,
        key_id=key.pk,
        actor_id=request.user.pk,
        ip=client_ip(request),
    )
    messages.success(
        request,
        _("Key “%(name)s” (%(masked)s) is revoked.") % {"name": key.name, "masked": key.masked},
    )
    if request.htmx:
        return _render_list(request)
    return redirect("keys:list")


@login_required
@require_role("keys")
@require_http_methods(["GET", "POST"])
def key_rotate(request, key_id: int):
    key = _owned_key(request, key_id)
    successor = getattr(key, "successor", None) if key.is_active else None
    if not key.is_active or successor is not None:
        # Already rotating (or no longer usable): nothing to choose, say where things stand.
        return render(request, "keys/rotate.html", {"key": key, "successor": successor})
    form = RotateKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            successor, secret = services.api_key_rotate(
                user_id=acting_user(request).pk,
                key_id=key.pk,
                grace_seconds=form.cleaned_data["grace_seconds"],
                actor_id=request.user.pk,
                ip=client_ip(request),
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return _reveal_after_redirect(request, key=successor, secret=secret)
    return render(request, "keys/rotate.html", {"key": key, "form": form})
