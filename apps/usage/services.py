"""Recording requests and settling what they cost."""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
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
    # µcr the same usage costs us upstream, at the serving deployment's cost prices (None:
    # unknown, the deployment declares none)
    upstream_cost: int | None = None
    error_code: str = ""
    latency_ms: int = 0
    ttft_ms: int = 0  # time to the first byte of the answer
    stream: bool = False
    usage_counted: bool = False
    held: bool = True  # a hold was taken under request_id
    deployment: str = ""  # the deployment that answered (provider:key variable:upstream id)
    attempts: list = field(default_factory=list)  # [deployment, status, ms] of each attempt

    def record_fields(self) -> dict:
        """The UsageRecord columns this outcome fills (all but the cost actually charged)."""
        fields = dict(self.__dict__)  # flat: not asdict's deep copy (23 µs on the hot path)
        del fields["held"], fields["cost"]
        return fields


def usage_record_of(request_id: str) -> UsageRecord | None:
    """The record of a request, through the (request_id, created_at) index of each partition
    (``.first()`` would order by id, and could walk every day's primary key instead)."""
    return next(iter(UsageRecord.objects.filter(request_id=request_id).order_by()[:1]), None)


def request_settle(*, outcome: RequestOutcome) -> UsageRecord:
    """Charge a finished request, give back the rest of its hold and write its one usage record,
    all in one transaction. Safe to repeat: a request already recorded is returned as it is."""
    with transaction.atomic():
        existing = usage_record_of(outcome.request_id)
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
                    started_at=outcome.created_at,
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


MEDIA_MIN_CHARS = 1024  # a base64 run at least this long is media: kept as its type and size


def _decoded_size(data: str) -> int:
    return len(data) * 3 // 4 - data[-2:].count("=")


def _media_free(value):
    """``value`` with every embedded file (data URLs, base64 ``data`` of images and documents)
    replaced by a short note of its type and size: what a person reading a request needs."""
    if isinstance(value, dict):
        media = value.get("media_type") if isinstance(value.get("media_type"), str) else ""
        out = {}
        for key, item in value.items():
            if key == "data" and isinstance(item, str) and len(item) >= MEDIA_MIN_CHARS:
                out[key] = f"[{media or 'file'}, {_decoded_size(item):,} bytes]"
            else:
                out[key] = _media_free(item)
        return out
    if isinstance(value, list):
        return [_media_free(item) for item in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) >= MEDIA_MIN_CHARS:
        head, _, data = value.partition(",")
        kind = head[5:].split(";")[0] or "file"
        return f"[{kind}, {_decoded_size(data):,} bytes]"
    return value


def _bounded(value, limit: int) -> tuple[object, int]:
    """``value`` without media, cut to ``limit`` bytes of JSON when larger; and its size."""
    import orjson

    value = _media_free(value)
    raw = orjson.dumps(value)
    if len(raw) <= limit:
        return value, len(raw)
    head = raw[:limit].decode(errors="ignore")
    return {"truncated": True, "bytes": len(raw), "head": head}, limit


def content_store(
    *, request_id: str, user_id: int, created_at: datetime, request, response, cost: int
) -> bool:
    """Keep a charged request's prompt and answer, if its user keeps them *now*: the user's
    setting is read under their row's lock at write time (turning keeping off, or deleting the
    account, takes the same lock and deletes what is kept), so a request that was in flight when
    the user said stop stores nothing. Media are kept as their type and size, each request is
    capped (CONTENT_MAX_BYTES), and an account keeps at most CONTENT_QUOTA_BYTES. Returns
    whether anything was kept."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db.models import Sum

    from .models import UsageContent

    if cost <= 0:
        return False  # refused or free: nothing worth keeping
    limit = settings.CONTENT_MAX_BYTES
    request, request_size = _bounded(request, limit // 2)
    response, response_size = _bounded(response, limit // 2)
    size = request_size + response_size
    with transaction.atomic():
        days = (
            get_user_model()
            .objects.select_for_update()
            .filter(pk=user_id, is_active=True)
            .values_list("store_content_days", flat=True)
            .first()
        )
        if not days:
            return False
        kept = UsageContent.objects.filter(user_id=user_id).aggregate(total=Sum("size"))["total"]
        if (kept or 0) + size > settings.CONTENT_QUOTA_BYTES:
            return False
        UsageContent.objects.create(
            request_id=request_id,
            user_id=user_id,
            created_at=created_at,
            expires_at=created_at + timedelta(days=days),
            request=request,
            response=response,
            size=size,
        )
    return True


def content_keep_for(*, user_id: int, days: int) -> int:
    """The user changed how long content is kept: nothing kept stays longer than ``days`` from
    its request (0: nothing at all). Returns how many kept requests were deleted."""
    from datetime import timedelta

    from django.db.models import F

    from .models import UsageContent

    mine = UsageContent.objects.filter(user_id=user_id)
    if not days:
        return mine.delete()[0]
    mine.filter(expires_at__gt=F("created_at") + timedelta(days=days)).update(
        expires_at=F("created_at") + timedelta(days=days)
    )
    return mine.filter(expires_at__lte=timezone.now()).delete()[0]


def content_forget_user(*, user_id: int) -> int:
    from .models import UsageContent

    return UsageContent.objects.filter(user_id=user_id).delete()[0]


def content_purge_expired(*, now: datetime | None = None) -> int:
    from .models import UsageContent

    return UsageContent.objects.filter(expires_at__lte=now or timezone.now()).delete()[0]
