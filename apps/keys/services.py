"""Creating, rotating and revoking API keys. The secret is returned once, never stored."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from apps.audit import services as audit
from apps.webhooks import events as webhook_events

from . import cache as key_cache
from . import tokens, windows
from .errors import (
    AlreadyDone,
    InvalidGuardrail,
    InvalidRpmLimit,
    KeyCreditLimitReached,
    KeyLimitReached,
    KeyNotActive,
    KeySpendLimitReached,
)
from .guardrails import clean_models, clean_networks
from .models import ApiKey, ApiKeyEvent
from .selectors import SPEND_SOURCES

Event = ApiKeyEvent.Kind
LAST_USED_WRITE_INTERVAL = 60  # seconds: at most one last_used write per key per minute
GRACE_PERIODS = {0: "now", 3600: "1 hour", 86400: "24 hours", 604800: "7 days"}
# What the audit log keeps of a new key (those set): its name, limits and guardrails.
AUDITED = ("name", "expires_at", "credit_limit", "rpm_limit", "tpm_limit", "spend_limit")
AUDITED += ("spend_window", "allowed_models", "allowed_ips")


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


KEEP = object()  # api_key_update: leave this setting as it is


def _guardrails(
    *, tpm_limit=KEEP, spend_limit=KEEP, spend_window=KEEP, allowed_models=KEEP, allowed_ips=KEEP
) -> dict:
    """The guardrail settings given, checked and in their stored form."""
    fields = {}
    if tpm_limit is not KEEP:
        if tpm_limit is not None and not 1 <= tpm_limit <= settings.API_MAX_TPM:
            raise InvalidGuardrail(f"Tokens per minute must be from 1 to {settings.API_MAX_TPM:,}.")
        fields["tpm_limit"] = tpm_limit
    if spend_limit is not KEEP or spend_window is not KEEP:
        limit = None if spend_limit is KEEP else spend_limit
        window = "" if spend_window in (KEEP, None) else spend_window
        if limit is not None and (not isinstance(limit, int) or limit <= 0):
            raise InvalidGuardrail("A spend limit is a positive number of credits.")
        if limit is not None and window not in windows.WINDOWS:
            raise InvalidGuardrail("A spend limit needs its window: day, week or month.")
        fields["spend_limit"], fields["spend_window"] = limit, window if limit else ""
    if allowed_models is not KEEP:
        fields["allowed_models"] = clean_models(allowed_models)
    if allowed_ips is not KEEP:
        fields["allowed_ips"] = clean_networks(allowed_ips)
    return fields


def _seed_window(key: ApiKey, *, now: datetime) -> None:
    """Start counting a (new or changed) spend window of a budget key: from the start of the
    current window, with what its line's requests that started since then were charged, so a
    daily limit set at noon counts the morning too. ``key`` is locked: a settlement of the line
    waits for this transaction, then adds its charge to the count (its record was not summed)."""
    if not key.spend_window:
        key.window_start, key.window_spent = None, 0
        return
    tz = get_user_model().objects.filter(pk=key.user_id).values_list("time_zone", flat=True)
    start = windows.starts(tz.first(), now).of(key.spend_window)
    line = list(ApiKey.objects.filter(Q(pk=key.pk) | Q(budget_key_id=key.pk)).values_list("pk"))
    ids = [pk for (pk,) in line]
    key.window_start = start
    key.window_spent = sum(source(key_ids=ids, since=start) for source in SPEND_SOURCES)


def api_key_create(
    *,
    user_id: int,
    name: str,
    expires_at: datetime | None = None,
    credit_limit: int | None = None,
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    spend_limit: int | None = None,
    spend_window: str = "",
    allowed_models: list[str] | str | None = None,
    allowed_ips: list[str] | str | None = None,
    create_token: uuid.UUID | None = None,
    actor_id: int | None = None,
    ip: str | None = None,
    created_by_id: int | None = None,
    spend_cap_id: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time the secret exists outside the caller's hands).

    At most ``API_KEYS_MAX_ACTIVE`` active keys per user; ``create_token`` makes a repeated
    submission of one form a no-op (``AlreadyDone``). Guardrails: ``tpm_limit`` (tokens per
    minute), ``spend_limit`` µcr per ``spend_window`` (day, week, month), ``allowed_models``
    and ``allowed_ips`` (addresses or CIDR networks); empty means no restriction.
    ``created_by_id`` is the person who made it (default: the actor, else the owner);
    ``spend_cap_id`` a ``credits.SpendCap`` of the owner's account the key shares.
    """
    name = _clean_name(name)
    _check_rpm(rpm_limit)
    guardrails = _guardrails(
        tpm_limit=tpm_limit,
        spend_limit=spend_limit,
        spend_window=spend_window,
        allowed_models=allowed_models,
        allowed_ips=allowed_ips,
    )
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
                    created_by_id=created_by_id or actor_id or user_id,
                    spend_cap_id=spend_cap_id,
                    **guardrails,
                )
                if key.spend_window:
                    _seed_window(key, now=now)
                    key.save(update_fields=["window_start", "window_spent"])
        except IntegrityError as exc:
            raise AlreadyDone("This key was already created by the same form.") from exc
        ApiKeyEvent.objects.create(
            key=key, kind=Event.CREATED, actor_id=actor_id, detail="Created", created_at=now
        )
        webhook_events.key_created(key)
        audit.record(
            account_id=user_id,
            actor=actor_id,
            action="key.created",
            target=key.masked,
            after=audit.set_fields(key, AUDITED),
            ip=ip,
        )
    return key, secret


def _owned_for_update(*, user_id: int, key_id: int) -> ApiKey:
    """The user's key, locked; ``ApiKey.DoesNotExist`` for anybody else's (callers answer 404)."""
    return ApiKey.objects.select_for_update().get(pk=key_id, user_id=user_id)


def api_key_revoke(
    *, user_id: int, key_id: int, actor_id: int | None = None, ip: str | None = None
) -> ApiKey:
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
            audit.record(
                account_id=user_id,
                actor=actor_id,
                action="key.revoked",
                target=key.masked,
                after={"name": key.name},
                ip=ip,
            )
    return key


def api_key_rotate(
    *,
    user_id: int,
    key_id: int,
    grace_seconds: int,
    actor_id: int | None = None,
    ip: str | None = None,
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
            tpm_limit=old.tpm_limit,
            spend_limit=budget.spend_limit,
            spend_window=budget.spend_window,
            allowed_models=old.allowed_models,
            allowed_ips=old.allowed_ips,
            rotated_from=old,
            created_at=now,
            created_by_id=old.created_by_id,
            spend_cap_id=old.spend_cap_id,
        )
        grace_end = now + timedelta(seconds=grace_seconds)
        old_expiry = old.expires_at
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
        audit.record(
            account_id=user_id,
            actor=actor_id,
            action="key.rotated",
            target=old.masked,
            before={"expires_at": old_expiry},
            after={"expires_at": old.expires_at, "successor": successor.masked},
            ip=ip,
        )
    return successor, secret


def api_key_update(
    *,
    user_id: int,
    key_id: int,
    name: str,
    credit_limit: int | None,
    rpm_limit: int | None,
    tpm_limit=KEEP,
    spend_limit=KEEP,
    spend_window=KEEP,
    allowed_models=KEEP,
    allowed_ips=KEEP,
    expires_at=KEEP,
    actor_id: int | None = None,
    ip: str | None = None,
) -> ApiKey:
    """Rename a key or change its limits and guardrails (those not given stay as they are); the
    gateway applies them from the next request. The credit and spend limits belong to the
    budget the rotated keys of a line share; a new or changed spend window starts counting at
    the current window's start, with what the line was charged since."""
    name = _clean_name(name)
    _check_rpm(rpm_limit)
    guardrails = _guardrails(
        tpm_limit=tpm_limit,
        spend_limit=spend_limit,
        spend_window=spend_window,
        allowed_models=allowed_models,
        allowed_ips=allowed_ips,
    )
    now = timezone.now()
    with transaction.atomic():
        key = _owned_for_update(user_id=user_id, key_id=key_id)
        budget_id = key.budget_key_id or key.pk
        budget = (
            key if budget_id == key.pk else _owned_for_update(user_id=user_id, key_id=budget_id)
        )
        shared = {"credit_limit": credit_limit}
        for field in ("spend_limit", "spend_window"):
            if field in guardrails:
                shared[field] = guardrails.pop(field)
        own = {"name": name, "rpm_limit": rpm_limit, **guardrails}
        if expires_at is not KEEP:
            own["expires_at"] = expires_at
        changes = [
            f"{field}: {getattr(key, field)!r} → {value!r}".replace("'", "")
            for field, value in own.items()
            if getattr(key, field) != value
        ]
        changes += [
            f"{field}: {getattr(budget, field)!r} → {value!r}".replace("'", "")
            for field, value in shared.items()
            if getattr(budget, field) != value
        ]
        if not changes:
            return key
        before = {f: getattr(key, f) for f, v in own.items() if getattr(key, f) != v}
        before |= {f: getattr(budget, f) for f, v in shared.items() if getattr(budget, f) != v}
        audit.record(
            account_id=user_id,
            actor=actor_id,
            action="key.limits_changed",
            target=key.masked,
            before=before,
            after={f: {**own, **shared}[f] for f in before},
            ip=ip,
        )
        for field, value in own.items():
            setattr(key, field, value)
        key.save(update_fields=list(own))
        ApiKeyEvent.objects.create(
            key=key, kind=Event.UPDATED, actor_id=actor_id, detail="; ".join(changes)[:300]
        )
        _forget(key)
        if any(getattr(budget, field) != value for field, value in shared.items()):
            # The limits belong to the budget the rotated keys of this line share.
            reseed = shared.get("spend_window", budget.spend_window) != budget.spend_window
            for field, value in shared.items():
                setattr(budget, field, value)
            if reseed:
                _seed_window(budget, now=now)
                ApiKey.objects.filter(pk=budget_id).update(
                    window_start=budget.window_start, window_spent=budget.window_spent
                )
            group = ApiKey.objects.filter(Q(pk=budget_id) | Q(budget_key_id=budget_id))
            group.update(**shared)
            for member in group:
                _forget(member)
            if key.pk == budget_id:
                key.window_start, key.window_spent = budget.window_start, budget.window_spent
                for field, value in shared.items():
                    setattr(key, field, value)
    return key


def _forget(key: ApiKey) -> None:
    """Drop the gateway's cached facts about ``key`` now and again once this commits."""
    key_cache.invalidate(key.digest)
    transaction.on_commit(lambda: key_cache.invalidate(key.digest))


def _window_start(starts: windows.Starts | None):
    """The start of the window the key's row counts in (NULL for a key without one)."""
    if starts is None:
        return Value(None, output_field=DateTimeField())
    return Case(
        *(When(spend_window=w, then=Value(starts.of(w))) for w in windows.WINDOWS),
        default=Value(None),
        output_field=DateTimeField(),
    )


def api_key_reserve(
    *, key_id: int, amount: int, starts: windows.Starts | None = None, time_zone: str = "UTC"
) -> None:
    """Reserve ``amount`` µcr of a key's credit limit and of its spend limit in the current
    window (``starts``: the current windows' starts in the owner's time zone) for a request in
    flight, or raise ``KeyCreditLimitReached`` / ``KeySpendLimitReached``. One conditional
    UPDATE, so concurrent requests cannot together exceed either limit; a key whose count is
    of an earlier window starts this one from nothing. (apps/gateway/pg.py is the same rule in
    SQL.)"""
    start = _window_start(starts)
    this_window = Case(When(window_start__gte=start, then=F("window_spent")), default=Value(0))
    reserved = (
        ApiKey.objects.filter(pk=key_id)
        .filter(Q(credit_limit__isnull=True) | Q(credit_limit__gte=F("spent") + F("held") + amount))
        .filter(Q(spend_limit__isnull=True) | Q(spend_limit__gte=F("held") + amount + this_window))
        .update(
            held=F("held") + amount,
            window_spent=this_window,
            window_start=Case(
                When(Q(window_start__isnull=True) | Q(window_start__lt=start), then=start),
                default=F("window_start"),
            ),
        )
    )
    if not reserved:
        api_key_refusal_raise(key_id=key_id, amount=amount, starts=starts, time_zone=time_zone)


def api_key_refusal_raise(
    *, key_id: int, amount: int, starts: windows.Starts | None, time_zone: str
) -> None:
    """Why a key could not reserve ``amount``: its spend limit in this window, or its total
    credit limit, whichever leaves less."""
    key = (
        ApiKey.objects.filter(pk=key_id)
        .values("credit_limit", "spent", "held", "spend_limit", "spend_window")
        .annotate(this_window=Case(
            When(window_start__gte=_window_start(starts), then=F("window_spent")),
            default=Value(0),
        ))
        .first()
    )  # fmt: skip
    raise_refusal(key, amount=amount, starts=starts, time_zone=time_zone)


def raise_refusal(key: dict | None, *, amount: int, starts, time_zone: str) -> None:
    """``key``: the key's credit_limit, spent, held, spend_limit, spend_window and this_window
    (what the current window counted)."""
    if key is None:
        raise KeyCreditLimitReached(needed=amount, left=0)
    total_left = None
    if key["credit_limit"] is not None:
        total_left = key["credit_limit"] - key["spent"] - key["held"]
    if key["spend_limit"] is not None and starts is not None:
        left = key["spend_limit"] - key["held"] - key["this_window"]
        if left < amount and (total_left is None or left <= total_left):
            now = timezone.now()
            raise KeySpendLimitReached(
                needed=amount,
                left=max(left, 0),
                limit=key["spend_limit"],
                window=key["spend_window"],
                resets_at=windows.next_start(key["spend_window"], time_zone, now),
            )
    raise KeyCreditLimitReached(needed=amount, left=max(total_left or 0, 0))


def api_key_settle(
    *, key_id: int, reserved: int, charged: int, started_at: datetime | None = None
) -> None:
    """Count what a request through this key cost (in its spend window too, when the request
    started in it: ``started_at``) and give back its reservation."""
    fields = {"spent": F("spent") + charged, "held": F("held") - reserved}
    if charged and started_at is not None:
        fields["window_spent"] = F("window_spent") + Case(
            When(window_start__lte=started_at, then=Value(charged)), default=Value(0)
        )
    ApiKey.objects.filter(pk=key_id).update(**fields)


def api_key_touch(*, key_id: int, now: datetime | None = None) -> bool:
    """Record that a key was used, writing to the database at most once a minute per key."""
    if not cache.add(f"apikey:used:{key_id}", 1, timeout=LAST_USED_WRITE_INTERVAL):
        return False
    api_key_mark_used(key_id=key_id, at=now or timezone.now())
    return True


def api_key_mark_used(*, key_id: int, at: datetime) -> None:
    ApiKey.objects.filter(pk=key_id).update(last_used_at=at)


def api_keys_forget_cap(cap_id: int) -> int:
    """Drop every cached fact about the keys sharing a spend cap (its limit or models changed:
    ``apps.credits.services.SPEND_CAP_CHANGED``). Returns how many."""
    digests = list(ApiKey.objects.filter(spend_cap_id=cap_id).values_list("digest", flat=True))
    key_cache.invalidate(*digests)
    return len(digests)


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
