"""Recording requests and settling what they cost."""

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.credits.models import Hold
from apps.credits.selectors import expired_hold_references
from apps.credits.services import credits_expire_hold, credits_release, credits_settle
from apps.keys.services import api_key_settle

from .models import UsageRecord

log = logging.getLogger("opencodex.usage")


@dataclass(frozen=True)
class RequestOutcome:
    """What the gateway knows about a finished request."""

    request_id: str
    user_id: int
    api_key_id: int | None
    model: str
    status: int
    created_at: datetime
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    protocol: str = "chat"
    cost: int = 0  # µcr the request costs: charged in full, also beyond its hold
    error_code: str = ""
    latency_ms: int = 0
    ttft_ms: int = 0  # time to the first byte of the answer
    stream: bool = False
    usage_counted: bool = False
    held: bool = True  # a hold was taken under request_id

    def record_fields(self) -> dict:
        """The UsageRecord columns this outcome fills (all but the cost actually charged)."""
        fields = asdict(self)
        del fields["held"], fields["cost"]
        return fields


def request_settle(*, outcome: RequestOutcome) -> UsageRecord:
    """Charge a finished request, give back the rest of its hold and write its one usage record,
    all in one transaction. Safe to repeat: a request already recorded is returned as it is."""
    with transaction.atomic():
        existing = UsageRecord.objects.filter(request_id=outcome.request_id).first()
        if existing is not None:
            return existing
        charged = 0
        if outcome.held and not Hold.objects.filter(reference=outcome.request_id).exists():
            # The hold is gone (lost in a database crash): record the request, charge nothing.
            outcome = replace(outcome, held=False)
        if outcome.held:
            if outcome.cost > 0:
                # The record written below is the charge's line until the rollup posts it to
                # the ledger with the account's others (apps/usage/rollup.py).
                result = credits_settle(
                    reference=outcome.request_id,
                    amount=outcome.cost,
                    memo=outcome.model,
                    posted_later=True,
                )
            else:
                result = credits_release(reference=outcome.request_id)
            charged = result.charged
            if result.closed and outcome.api_key_id is not None:
                api_key_settle(  # on the key carrying the budget when the hold reserved one
                    key_id=result.api_key_id or outcome.api_key_id,
                    reserved=result.amount if result.api_key_id else 0,
                    charged=result.charged,
                )
        return UsageRecord.objects.create(**outcome.record_fields(), cost=charged)


def request_release(*, request_id: str) -> None:
    """Give back the hold of a request refused after it was taken, with its key reservation;
    nothing is charged and nothing recorded."""
    with transaction.atomic():
        result = credits_release(reference=request_id)
        if result.closed and result.api_key_id is not None:
            api_key_settle(key_id=result.api_key_id, reserved=result.amount, charged=0)


def holds_release_expired(*, now=None, limit: int = 500) -> int:
    """Give back holds whose request never settled (a worker died mid-request), with the API
    key reservation they carried. Returns how many were released."""
    released = 0
    for reference in expired_hold_references(now=now or timezone.now(), limit=limit):
        with transaction.atomic():
            result = credits_expire_hold(reference=reference)
            if result.closed and result.api_key_id is not None:
                api_key_settle(key_id=result.api_key_id, reserved=result.amount, charged=0)
            released += result.closed
            if result.closed:
                # No outcome anywhere (not settled, not in a journal): the process died before
                # the response was complete, so nothing was delivered to charge. Reported.
                log.warning(
                    "hold %s expired without a known outcome: released, nothing charged",
                    reference,
                )
    return released


def content_store(
    *, request_id: str, user_id: int, created_at: datetime, days: int, request, response
) -> None:
    """Keep a request's prompt and answer for ``days`` (the user asked for it)."""
    from datetime import timedelta

    from .models import UsageContent

    UsageContent.objects.create(
        request_id=request_id,
        user_id=user_id,
        created_at=created_at,
        expires_at=created_at + timedelta(days=days),
        request=request,
        response=response,
    )


def content_forget_user(*, user_id: int) -> int:
    from .models import UsageContent

    return UsageContent.objects.filter(user_id=user_id).delete()[0]


def content_purge_expired(*, now: datetime | None = None) -> int:
    from .models import UsageContent

    return UsageContent.objects.filter(expires_at__lte=now or timezone.now()).delete()[0]
