"""Customer webhooks: endpoints (created with a secret shown once, turned on and off, deleted,
their secret rolled), events recorded in the transaction of what they describe, and the sender.

Delivery: every event gets one delivery per subscribed endpoint, with a ``webhook-id`` that
stays the same on every attempt. An endpoint's deliveries go out one at a time in the order
they were recorded (one sender per endpoint, under a lease): a failed one is retried with
backoff (``WEBHOOK_RETRY_DELAYS``) for ``WEBHOOK_RETRY_WINDOW`` seconds from its first attempt,
and the ones after it wait. A delivery still failing at the end of that window turns the
endpoint off (its other pending deliveries are cancelled) and e-mails the owner. The first
attempt is queued when the event commits; retries are sent by the beat
(``apps.webhooks.tasks.deliver_due``)."""

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.i18n import language_of_recipient
from apps.core.queue import enqueue_on_commit
from apps.core.recipients import account_recipients
from apps.core.sealed import seal, unseal

from . import signing, transport
from .addresses import url_target
from .models import (
    EVENT_TYPES,
    TEST_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

log = logging.getLogger("opencodex.webhooks")

SEAL_PURPOSE = "webhook-secret"
DELIVER_TASK = "apps.webhooks.tasks.deliver_endpoint"
LEASE_SECONDS = 60
Status = WebhookDelivery.Status
Disabled = WebhookEndpoint.Disabled


class EndpointLimitReached(ServiceError):
    code = "endpoint_limit"


class EndpointDisabled(ServiceError):
    code = "endpoint_disabled"


# --- endpoints ----------------------------------------------------------------------------------


def _clean_types(event_types) -> list[str]:
    chosen = [kind for kind in EVENT_TYPES if kind in set(event_types or ())]
    unknown = set(event_types or ()) - set(EVENT_TYPES)
    if unknown:
        raise ServiceError(
            _("Unknown event types: %(types)s.") % {"types": ", ".join(sorted(unknown))}
        )
    if not chosen:
        raise ServiceError(_("Choose at least one event."))
    return chosen


def _owned(*, user_id: int, endpoint_id: int, lock: bool = False) -> WebhookEndpoint:
    """The user's endpoint; ``WebhookEndpoint.DoesNotExist`` for anybody else's (404)."""
    endpoints = WebhookEndpoint.objects.select_for_update() if lock else WebhookEndpoint.objects
    return endpoints.get(pk=endpoint_id, user_id=user_id)


def endpoint_create(
    *, user_id: int, url: str, event_types, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret: the only time the secret leaves the server
    readable. The URL must reach public addresses only (``UnsafeURL`` says why not)."""
    url = url.strip()
    url_target(url)
    types = _clean_types(event_types)
    description = (description or "").strip()[:100]
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user_id).first()
        count = WebhookEndpoint.objects.filter(user_id=user_id).count()
        if count >= settings.WEBHOOK_ENDPOINTS_MAX:
            raise EndpointLimitReached(
                _(
                    "You have %(count)s endpoints, the most allowed is %(max)s. Delete one you "
                    "no longer use first."
                )
                % {"count": count, "max": settings.WEBHOOK_ENDPOINTS_MAX}
            )
        secret = signing.secret_new()
        endpoint = WebhookEndpoint.objects.create(
            user_id=user_id,
            url=url,
            description=description,
            event_types=types,
            secret_sealed=seal(secret, purpose=SEAL_PURPOSE),
        )
    return endpoint, secret


def _cancel_pending(endpoint_id: int) -> int:
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING).update(
        status=Status.CANCELLED
    )


def endpoint_enable(*, user_id: int, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    """Turn an endpoint on (its URL is checked again) or off (its pending deliveries are
    cancelled: an endpoint that is off receives nothing, now or later)."""
    with transaction.atomic():
        endpoint = _owned(user_id=user_id, endpoint_id=endpoint_id, lock=True)
        if enabled == endpoint.enabled:
            return endpoint
        if enabled:
            url_target(endpoint.url)
            endpoint.enabled, endpoint.disabled_reason = True, ""
        else:
            endpoint.enabled, endpoint.disabled_reason = False, Disabled.BY_USER
            _cancel_pending(endpoint.pk)
        endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    return endpoint


def endpoint_delete(*, user_id: int, endpoint_id: int) -> None:
    """The endpoint goes with its deliveries and their log."""
    _owned(user_id=user_id, endpoint_id=endpoint_id).delete()


def endpoint_secret_roll(*, user_id: int, endpoint_id: int) -> str:
    """A new secret (returned, shown once). The old one keeps signing beside it for
    ``WEBHOOK_SECRET_OVERLAP_SECONDS``, so the receiver can switch without a failed delivery."""
    with transaction.atomic():
        endpoint = _owned(user_id=user_id, endpoint_id=endpoint_id, lock=True)
        secret = signing.secret_new()
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_secret_until = timezone.now() + timedelta(
            seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS
        )
        endpoint.secret_sealed = seal(secret, purpose=SEAL_PURPOSE)
        endpoint.save(
            update_fields=[
                "previous_secret_sealed",
                "previous_secret_until",
                "secret_sealed",
                "updated_at",
            ]
        )
    return secret


def endpoint_secrets(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> list[str]:
    """The secrets that sign a request now: the current one, then a rolled-away one still in
    its overlap. Empty when the current one cannot be unsealed (SECRET_KEY changed)."""
    now = now or timezone.now()
    found = [unseal(endpoint.secret_sealed, purpose=SEAL_PURPOSE)]
    if endpoint.previous_secret_sealed and (endpoint.previous_secret_until or now) > now:
        found.append(unseal(endpoint.previous_secret_sealed, purpose=SEAL_PURPOSE))
    if found[0] is None:
        return []
    return [secret for secret in found if secret]


def webhook_endpoints_forget_user(*, user_id: int) -> int:
    """The user is deleting their account: their endpoints go, with what was queued for
    them and the events themselves. Returns how many endpoints there were."""
    endpoints = WebhookEndpoint.objects.filter(user_id=user_id)
    count = endpoints.count()
    endpoints.delete()
    WebhookEvent.objects.filter(user_id=user_id).delete()
    return count


# --- events -------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _body(kind: str, data: dict, occurred_at: datetime) -> str:
    return json.dumps(
        {"type": kind, "timestamp": _iso(occurred_at), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        default=lambda value: _iso(value) if isinstance(value, datetime) else str(value),
    )


def _record(
    *, user_id: int, kind: str, data: dict, endpoints, reference, occurred_at
) -> WebhookEvent | None:
    try:
        with transaction.atomic():  # a savepoint: a duplicate never breaks the caller's work
            event = WebhookEvent.objects.create(
                user_id=user_id,
                type=kind,
                reference=reference,
                body=_body(kind, data, occurred_at),
                occurred_at=occurred_at,
            )
            now = timezone.now()
            WebhookDelivery.objects.bulk_create(
                WebhookDelivery(
                    endpoint=endpoint,
                    event=event,
                    message_id=signing.message_id_new(),
                    next_attempt_at=now,
                )
                for endpoint in endpoints
            )
    except IntegrityError:
        return None  # recorded before under this reference
    for endpoint in endpoints:
        enqueue_on_commit(DELIVER_TASK, endpoint.pk)
    return event


def webhook_emit(
    *,
    user_id: int,
    event_type: str,
    data: dict,
    reference: str | None = None,
    occurred_at: datetime | None = None,
) -> WebhookEvent | None:
    """Record that ``event_type`` happened to the user's account, for each of their endpoints that
    is on and subscribes to it (None when there is none): call it inside the transaction that
    makes the change, so the event exists exactly when the change does. ``reference`` makes a
    repeated emission of the same fact a no-op; an endpoint created after ``occurred_at`` does
    not get it. The endpoints' rows are locked until the caller commits, so deliveries are
    numbered in the order their events commit."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        endpoints = [  # one query, and the only one for an account without endpoints
            endpoint
            for endpoint in WebhookEndpoint.objects.select_for_update()
            .filter(user_id=user_id, enabled=True, created_at__lte=occurred_at)
            .order_by("pk")
            if event_type in endpoint.event_types
        ]
        if not endpoints:
            return None
        if reference and WebhookEvent.objects.filter(reference=reference).exists():
            return None
        return _record(
            user_id=user_id,
            kind=event_type,
            data=data,
            endpoints=endpoints,
            reference=reference,
            occurred_at=occurred_at,
        )


def webhook_test_send(*, user_id: int, endpoint_id: int) -> WebhookDelivery:
    """Queue a ``webhook.test`` event for this one endpoint (after what it has pending)."""
    with transaction.atomic():
        endpoint = _owned(user_id=user_id, endpoint_id=endpoint_id, lock=True)
        if not endpoint.enabled:
            raise EndpointDisabled(
                _("Turn the endpoint on first: an endpoint that is off receives nothing.")
            )
        event = _record(
            user_id=user_id,
            kind=TEST_EVENT,
            data={
                "endpoint_id": endpoint.pk,
                "message": "A test event from OpenCodex: your endpoint is set up.",
            },
            endpoints=[endpoint],
            reference=None,
            occurred_at=timezone.now(),
        )
        return event.deliveries.get()


# --- sending ------------------------------------------------------------------------------------


def _lease_take(endpoint_id: int, token: uuid.UUID) -> bool:
    now = timezone.now()
    return bool(
        WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_token=token, lease_until=now + timedelta(seconds=LEASE_SECONDS))
    )


def _lease_renew(endpoint_id: int, token: uuid.UUID) -> bool:
    now = timezone.now()
    return bool(
        WebhookEndpoint.objects.filter(
            pk=endpoint_id, enabled=True, lease_token=token, lease_until__gte=now
        ).update(lease_until=now + timedelta(seconds=LEASE_SECONDS))
    )


def _lease_release(endpoint_id: int, token: uuid.UUID) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, lease_token=token).update(
        lease_token=None, lease_until=None
    )


def _next_attempt(delivery: WebhookDelivery, now: datetime) -> datetime | None:
    """When to try again after ``delivery.attempts`` failed attempts; None: give up."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    deadline = delivery.first_attempt_at + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW)
    if now >= deadline:
        return None
    delay = delays[min(delivery.attempts, len(delays)) - 1]
    return min(now + timedelta(seconds=delay), deadline)


def _attempt(delivery: WebhookDelivery) -> bool:
    """Send one delivery once and record the outcome. True when it was delivered."""
    endpoint, event = delivery.endpoint, delivery.event
    now = timezone.now()
    body = event.body.encode()
    secrets_ = endpoint_secrets(endpoint, now=now)
    if not secrets_:
        outcome = transport.Outcome(
            ok=False, error="The signing secret cannot be read (SECRET_KEY changed): roll it."
        )
    else:
        outcome = transport.post(
            endpoint.url,
            body=body,
            headers=signing.headers(
                secrets_,
                message_id=delivery.message_id,
                timestamp=int(now.timestamp()),
                body=body,
            ),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=settings.WEBHOOK_RESPONSE_MAX_BYTES,
        )
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_attempt_at = now
    retry_at = None
    if outcome.ok:
        delivery.status, delivery.delivered_at = Status.SUCCEEDED, timezone.now()
    else:
        retry_at = _next_attempt(delivery, now)
        if retry_at is None:
            delivery.status = Status.FAILED
        else:
            delivery.next_attempt_at = retry_at
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).update(
            status=delivery.status,
            attempts=delivery.attempts,
            first_attempt_at=delivery.first_attempt_at,
            last_attempt_at=now,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
        )
        if not updated:  # cancelled (or deleted) while it was in flight
            return False
        WebhookAttempt.objects.create(
            delivery=delivery,
            endpoint_id=endpoint.pk,
            attempted_at=now,
            status_code=outcome.status,
            ok=outcome.ok,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
        )
        if delivery.status == Status.FAILED:
            _endpoint_turn_off_failing(endpoint, delivery, outcome)
    return outcome.ok


def _endpoint_turn_off_failing(endpoint, delivery, outcome) -> None:
    turned_off = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=Disabled.FAILING, updated_at=timezone.now()
    )
    if not turned_off:
        return
    _cancel_pending(endpoint.pk)
    user = get_user_model().objects.filter(pk=endpoint.user_id).first()
    last = f"HTTP {outcome.status}" if outcome.status else outcome.error
    hours = settings.WEBHOOK_RETRY_WINDOW // 3600
    log.warning(
        "webhook endpoint %s turned off after %s failed attempts", endpoint.pk, delivery.attempts
    )
    if user is None:
        return
    values = {
        "url": endpoint.url,
        "hours": hours,
        "attempts": delivery.attempts,
        "last": last,
        "page": f"{settings.SITE_URL}/account/webhooks/{endpoint.pk}/",
    }
    transaction.on_commit(lambda: _send_turned_off(user, values))


def _send_turned_off(user, values: dict) -> None:
    """The e-mail that a webhook endpoint was turned off, in its owner's language."""
    with language_of_recipient(user):
        subject = _("[OpenCodex] A webhook endpoint was turned off")
        body = (
            _(
                "Deliveries to your webhook endpoint\n\n    %(url)s\n\nfailed for %(hours)s "
                "hours (%(attempts)s attempts; the last one: %(last)s), so it was turned off "
                "and its pending events were dropped."
            )
            % values
            + "\n\n"
            + _(
                "Fix the receiver, then turn the endpoint back on (and send a test event) at "
                "%(page)s"
            )
            % values
            + "\n"
        )
    send_mail(subject, body, None, account_recipients(user, "webhooks"))


def endpoint_deliver(*, endpoint_id: int, limit: int | None = None) -> int:
    """Send the endpoint's due deliveries in order, one at a time, until one fails, none is
    due, or ``limit`` (``WEBHOOK_BATCH``) went out. Another sender holding the endpoint's
    lease makes this a no-op. Returns how many were delivered."""
    token = uuid.uuid4()
    if not _lease_take(endpoint_id, token):
        return 0
    delivered = 0
    try:
        for _turn in range(limit or settings.WEBHOOK_BATCH):
            delivery = (
                WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING)
                .select_related("endpoint", "event")
                .order_by("id")
                .first()
            )
            if delivery is None or delivery.next_attempt_at > timezone.now():
                break
            if not _lease_renew(endpoint_id, token) or not _attempt(delivery):
                break
            delivered += 1
    finally:
        _lease_release(endpoint_id, token)
    return delivered


def webhooks_prune(*, now: datetime | None = None) -> int:
    """Events older than ``WEBHOOK_LOG_DAYS`` go, with their deliveries and log, unless one
    is still pending. Returns how many events went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    pending = WebhookDelivery.objects.filter(event_id=OuterRef("pk"), status=Status.PENDING)
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(Exists(pending))
    ids = list(old.values_list("pk", flat=True)[:5000])
    WebhookEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
