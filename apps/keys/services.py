"""Creating, rotating and revoking API keys. The secret is returned once, never stored."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.webhooks import events as webhook_events

from . import cache as key_cache
from . import tokens
from .errors import (
    AlreadyDone,
    InvalidRpmLimit,
    KeyCreditLimitReached,
    KeyLimitReached,
    KeyNotActive,
)
from .models import ApiKey, ApiKeyEvent

Event = ApiKeyEvent.Kind
LAST_USED_WRITE_INTERVAL = 60  # seconds: at most one last_used write per key per minute
GRACE_PERIODS = {0: "now", 3600: "1 hour", 86400: "24 hours", 604800: "7 days"}


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError("A key needs a name of 1 to 64 characters.")
    return name


def active_keys_q(now: datetime) -> Q:
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def _new_key(**fields) -> tuple[ApiKey, str]:
    secret = tokens.generate()
    prefix, last4 = tokens.display_parts(secret)
    key = ApiKey.objects.create(digest=tokens.digest(secret), prefix=prefix, last4=last4, **fields)
    return key, secret


def _check_rpm(rpm_limit: int | None) -> None:
    if rpm_limit is not None and not 1 <= rpm_limit <= settings.API_MAX_RPM:
        raise InvalidRpmLimit(f"Requests per minute must be from 1 to {settings.API_MAX_RPM}.")


def api_key_create(
    *,
    user_id: int,
    name: str,
    expires_at: datetime | None = None,
    credit_limit: int | None = None,
    rpm_limit: int | None = None,
    create_token: uuid.UUID | None = None,
    actor_id: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time the secret exists outside the caller's hands).

    At most ``API_KEYS_MAX_ACTIVE`` active keys per user; ``create_token`` makes a repeated
    submission of one form a no-op (``AlreadyDone``).
    """
    name = _clean_name(name)
    _check_rpm(rpm_limit)
    now = timezone.now()
    with transaction.atomic():
        # Serialise this user's key creations so the cap holds under concurrent requests.
        get_user_model().objects.select_for_update().filter(pk=user_id).first()
        mine = ApiKey.objects.filter(user_id=user_id)
        if create_token and mine.filter(create_token=create_token).exists():
            raise AlreadyDone("This key was already created by the same form.")
        active = mine.filter(active_keys_q(now))
        if hasattr(ApiKey, "playground"):  # the playground's own key is not the user's to count
            active = active.filter(playground__isnull=True)
        active = active.count()
        if active >= settings.API_KEYS_MAX_ACTIVE:
            raise KeyLimitReached(
                f"You have {active} active keys, the most allowed is "
                f"{settings.API_KEYS_MAX_ACTIVE}. Revoke a key you no longer use first."
            )
        try:
            with transaction.atomic():
                key, secret = _new_key(
                    user_id=user_id,
                    name=name,
                    expires_at=expires_at,
                    credit_limit=credit_limit,
                    rpm_limit=rpm_limit,
                    create_token=create_token,
                    created_at=now,
                )
        except IntegrityError as exc:
            raise AlreadyDone("This key was already created by the same form.") from exc
        ApiKeyEvent.objects.create(
            key=key, kind=Event.CREATED, actor_id=actor_id, detail="Created", created_at=now
        )
        webhook_events.key_created(key)
    return key, secret


def _owned_for_update(*, user_id: int, key_id: int) -> ApiKey:
    """The user's key, locked; ``ApiKey.DoesNotExist`` for anybody else's (callers answer 404)."""
    return ApiKey.objects.select_for_update().get(pk=key_id, user_id=user_id)


def api_key_revoke(*, user_id: int, key_id: int, actor_id: int | None = None) -> ApiKey:
    """Refuse the key from the very next request. Revoking a revoked key changes nothing."""
    with transaction.atomic():
        key = _owned_for_update(user_id=user_id, key_id=key_id)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            _forget(key)
            ApiKeyEvent.objects.create(
                key=key, kind=Event.REVOKED, actor_id=actor_id, detail="Revoked"
            )
            webhook_events.key_revoked(key)
    return key


def api_key_rotate(
    *, user_id: int, key_id: int, grace_seconds: int, actor_id: int | None = None
) -> tuple[ApiKey, str]:
    """A successor with the same settings; the old key keeps working for the grace period."""
    if grace_seconds not in GRACE_PERIODS:
        raise ValueError(f"Grace period must be one of {sorted(GRACE_PERIODS)} seconds.")
    now = timezone.now()
    with transaction.atomic():
        old = _owned_for_update(user_id=user_id, key_id=key_id)
        if ApiKey.objects.filter(rotated_from=old).exists():
            raise AlreadyDone("This key was already rotated; use its successor.")
        if old.status_at(now) != "active":
            raise KeyNotActive("Only an active key can be rotated.")
        budget = old.budget_key or old  # old and new keys share one credit limit
        successor, secret = _new_key(
            user_id=user_id,
            name=old.name,
            expires_at=old.expires_at,
            credit_limit=budget.credit_limit,
            budget_key=budget,
            rpm_limit=old.rpm_limit,
            rotated_from=old,
            created_at=now,
        )
        grace_end = now + timedelta(seconds=grace_seconds)
        if old.expires_at is None or old.expires_at > grace_end:
            old.expires_at = grace_end
            old.save(update_fields=["expires_at"])
            _forget(old)
        until = "now" if grace_seconds == 0 else f"until {grace_end:%Y-%m-%d %H:%M} UTC"
        ApiKeyEvent.objects.create(
            key=old,
            kind=Event.ROTATED,
            actor_id=actor_id,
            detail=f"Replaced by {successor.masked}; stops working {until}",
            created_at=now,
        )
        ApiKeyEvent.objects.create(
            key=successor,
            kind=Event.CREATED,
            actor_id=actor_id,
            detail=f"Created by rotating {old.masked}",
            created_at=now,
        )
        webhook_events.key_rotated(old, successor)
        webhook_events.key_created(successor)
    return successor, secret


def api_key_update(
    *,
    user_id: int,
    key_id: int,
    name: str,
    credit_limit: int | None,
    rpm_limit: int | None,
    actor_id: int | None = None,
) -> ApiKey:
    """Rename a key or change its limits; the gateway applies them from the next request."""
    name = _clean_name(name)
    _check_rpm(rpm_limit)
    with transaction.atomic():
        key = _owned_for_update(user_id=user_id, key_id=key_id)
        limit_changed = key.budget_limit != credit_limit
        changes = []
        for field, value in (
            ("name", name),
            ("credit_limit", credit_limit),
            ("rpm_limit", rpm_limit),
        ):
            if getattr(key, field) != value:
                changes.append(f"{field}: {getattr(key, field)} → {value}")
                setattr(key, field, value)
        if changes:
            key.save(update_fields=["name", "credit_limit", "rpm_limit"])
            ApiKeyEvent.objects.create(
                key=key, kind=Event.UPDATED, actor_id=actor_id, detail="; ".join(changes)[:300]
            )
            _forget(key)
        if limit_changed:
            # The limit belongs to the budget the rotated keys of this line share.
            budget_id = key.budget_key_id or key.pk
            group = ApiKey.objects.filter(Q(pk=budget_id) | Q(budget_key_id=budget_id))
            group.update(credit_limit=credit_limit)
            for member in group:
                _forget(member)
    return key


def _forget(key: ApiKey) -> None:
    """Drop the gateway's cached facts about ``key`` now and again once this commits."""
    key_cache.invalidate(key.digest)
    transaction.on_commit(lambda: key_cache.invalidate(key.digest))


def api_key_reserve(*, key_id: int, amount: int) -> None:
    """Reserve ``amount`` µcr of a key's credit limit for a request in flight, or raise
    ``KeyCreditLimitReached``. One conditional UPDATE, so concurrent requests cannot together
    exceed the limit."""
    reserved = ApiKey.objects.filter(
        pk=key_id, credit_limit__gte=F("spent") + F("held") + amount
    ).update(held=F("held") + amount)
    if not reserved:
        key = ApiKey.objects.filter(pk=key_id).values("credit_limit", "spent", "held").first()
        left = max((key["credit_limit"] or 0) - key["spent"] - key["held"], 0) if key else 0
        raise KeyCreditLimitReached(needed=amount, left=left)


def api_key_settle(*, key_id: int, reserved: int, charged: int) -> None:
    """Count what a request through this key cost and give back its reservation."""
    ApiKey.objects.filter(pk=key_id).update(spent=F("spent") + charged, held=F("held") - reserved)


def api_key_touch(*, key_id: int, now: datetime | None = None) -> bool:
    """Record that a key was used, writing to the database at most once a minute per key."""
    if not cache.add(f"apikey:used:{key_id}", 1, timeout=LAST_USED_WRITE_INTERVAL):
        return False
    api_key_mark_used(key_id=key_id, at=now or timezone.now())
    return True


def api_key_mark_used(*, key_id: int, at: datetime) -> None:
    ApiKey.objects.filter(pk=key_id).update(last_used_at=at)


def api_keys_forget_user(*, user_id: int) -> int:
    """Drop every cached fact about a user's keys (the user was deactivated or reactivated):
    the gateway reads them from the database on the very next request. Returns how many."""
    digests = list(ApiKey.objects.filter(user_id=user_id).values_list("digest", flat=True))
    key_cache.invalidate(*digests)
    return len(digests)


def api_keys_close_account(*, user_id: int) -> int:
    """The user is deleting their account: every key is revoked at once (the gateway refuses it
    from the next request) and loses its name. Rows and history stay, as the records of what was
    spent. Returns how many keys were still usable."""
    now = timezone.now()
    with transaction.atomic():
        keys = list(ApiKey.objects.select_for_update().filter(user_id=user_id))
        revoked = 0
        for key in keys:
            if key.revoked_at is None:
                key.revoked_at = now
                revoked += 1
                ApiKeyEvent.objects.create(
                    key=key, kind=Event.REVOKED, actor_id=None, detail="Account deleted"
                )
            key.name = "deleted"
            key.save(update_fields=["revoked_at", "name"])
            _forget(key)
    return revoked
