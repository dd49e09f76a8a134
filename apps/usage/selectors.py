"""What the usage pages read. Charts and totals read the hourly rollups, never raw records; the
request log reads raw records one keyset page at a time."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from apps.keys.models import ApiKey

from .models import UsageHour, UsageRecord

RANGES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
LOG_PAGE = 50


@dataclass(frozen=True)
class UsageQuery:
    start: datetime
    end: datetime
    tz: ZoneInfo
    group: str = "model"  # or "key"
    key_id: int | None = None
    model: str | None = None

    @property
    def bucket(self) -> str:
        return "hour" if self.end - self.start <= timedelta(days=2) else "day"

    def buckets(self) -> list[datetime]:
        """Every bucket start in the range, in the user's time zone (empty ones too)."""
        step = timedelta(hours=1) if self.bucket == "hour" else timedelta(days=1)
        local = self.start.astimezone(self.tz)
        if self.bucket == "hour":
            current = local.replace(minute=0, second=0, microsecond=0)
        else:
            current = local.replace(hour=0, minute=0, second=0, microsecond=0)
        out = []
        while current < self.end:
            out.append(current)
            current = (current + step).astimezone(self.tz)
            if self.bucket == "day":  # stay on local midnight across DST changes
                current = current.replace(hour=0)
        return out


def _rollups(user_id: int, q: UsageQuery):
    rows = UsageHour.objects.filter(user_id=user_id, hour__gte=q.start, hour__lt=q.end)
    if q.key_id is not None:
        rows = rows.filter(key_id=q.key_id)
    if q.model:
        rows = rows.filter(model=q.model)
    return rows


SUMS = {
    "requests": Sum("requests"),
    "errors": Sum("errors"),
    "prompt": Sum("prompt_tokens"),
    "completion": Sum("completion_tokens"),
    "cached": Sum("cached_tokens"),
    "cost": Sum("cost"),
}


def key_labels(*, user_id: int) -> dict[int, str]:
    return {
        key.pk: f"{key.name} ({key.masked})"
        for key in ApiKey.objects.filter(user_id=user_id).only("name", "prefix", "last4")
    }


def usage_report(*, user_id: int, q: UsageQuery) -> dict:
    """Series per bucket and group, and totals per group, from the rollups in two queries
    (three with key names)."""
    group_field = "key_id" if q.group == "key" else "model"
    trunc = (TruncHour if q.bucket == "hour" else TruncDay)("hour", tzinfo=q.tz)
    rows = (
        _rollups(user_id, q)
        .annotate(bucket=trunc)
        .values("bucket", group_field)
        .annotate(**SUMS)
        .order_by("bucket")
    )
    buckets = q.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    labels = key_labels(user_id=user_id) if q.group == "key" else {}
    series: dict[str, dict[str, list]] = {}
    requests = [0] * len(buckets)
    errors = [0] * len(buckets)
    for row in rows:
        position = index.get(row["bucket"].astimezone(q.tz))
        if position is None:
            continue
        name = row[group_field]
        name = labels.get(name, "deleted key") if q.group == "key" else name
        entry = series.setdefault(name, {"cost": [0] * len(buckets), "tokens": [0] * len(buckets)})
        entry["cost"][position] += row["cost"] or 0
        entry["tokens"][position] += (row["prompt"] or 0) + (row["completion"] or 0)
        requests[position] += row["requests"] or 0
        errors[position] += row["errors"] or 0
    totals = [
        {
            "name": labels.get(t[group_field], "deleted key")
            if q.group == "key"
            else t[group_field],
            **{k: t[k] or 0 for k in SUMS},
        }
        for t in _rollups(user_id, q).values(group_field).annotate(**SUMS).order_by("-cost")
    ]
    fmt = "%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d"
    return {
        "labels": [b.strftime(fmt) for b in buckets],
        "series": series,
        "requests": requests,
        "errors": errors,
        "totals": totals,
        "empty": not totals,
    }


def used_models(*, user_id: int) -> list[str]:
    return list(
        UsageHour.objects.filter(user_id=user_id)
        .values_list("model", flat=True)
        .distinct()
        .order_by("model")
    )


def spend_summary(*, user_id: int, tz: ZoneInfo) -> dict:
    """Today's spend and the last seven days' daily spend (for the dashboard)."""
    now = timezone.now().astimezone(tz)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    q = UsageQuery(start=today - timedelta(days=6), end=now, tz=tz)
    daily = dict.fromkeys(b.date() for b in q.buckets())
    for row in (
        _rollups(user_id, q)
        .annotate(day=TruncDay("hour", tzinfo=tz))
        .values("day")
        .annotate(cost=Sum("cost"))
        .order_by()
    ):
        daily[row["day"].astimezone(tz).date()] = row["cost"] or 0
    values = [daily[d] or 0 for d in sorted(daily)]
    return {"today": values[-1] if values else 0, "week": values, "days": sorted(daily)}


def request_log(
    *,
    user_id: int,
    key_id: int | None = None,
    model: str | None = None,
    status: str | None = None,
    cursor: tuple[datetime, int] | None = None,
    limit: int = LOG_PAGE,
):
    """One page of single requests, newest first, after ``cursor`` (keyset, not OFFSET)."""
    rows = UsageRecord.objects.filter(user_id=user_id).select_related("api_key")
    if key_id is not None:
        rows = rows.filter(api_key_id=key_id)
    if model:
        rows = rows.filter(model=model)
    if status == "ok":
        rows = rows.filter(status__lt=400)
    elif status == "error":
        rows = rows.filter(status__gte=400)
    if cursor is not None:
        at, pk = cursor
        rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    page = list(rows.order_by("-created_at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (page[-1].created_at, page[-1].pk) if more and page else None
    return page, next_cursor


def records_for_export(*, user_id: int, start: datetime, end: datetime):
    return (
        UsageRecord.objects.filter(user_id=user_id, created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")
        .values_list(
            "created_at",
            "request_id",
            "api_key__name",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "status",
            "error_code",
            "latency_ms",
            "stream",
            "cached_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "protocol",
        )
        .iterator(chunk_size=2000)
    )


def hours_for_export(*, user_id: int, start: datetime, end: datetime):
    return (
        UsageHour.objects.filter(user_id=user_id, hour__gte=start, hour__lt=end)
        .order_by("hour", "model", "key_id")
        .values_list(
            "hour",
            "key_id",
            "model",
            "requests",
            "errors",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "cached_tokens",
            "cache_write_tokens",
        )
        .iterator(chunk_size=2000)
    )


def usage_charge_problems(*, limit: int = 100) -> list[str]:
    """What a payments system would also keep true, beside balance = ledger:

    - every successful request that cost something has its one ``usage:`` ledger entry, for
      exactly its cost;
    - every key line's spend (a rotated key and its successors) equals its requests' cost;
    - no hold expired, charging nothing, for a request whose usage was recorded as delivered.
    """
    from django.db.models import F, OuterRef, Subquery, Sum, Value
    from django.db.models.functions import Coalesce, Concat

    from apps.credits.models import Hold, LedgerEntry
    from apps.keys.models import ApiKey

    problems = []
    charged = LedgerEntry.objects.filter(
        reference=Concat(Value("usage:"), OuterRef("request_id"))
    ).values("amount")[:1]
    unbilled = (
        UsageRecord.objects.filter(status=200, cost__gt=0)
        .annotate(charged=Subquery(charged))
        .exclude(charged=-F("cost"))
        .values_list("request_id", "cost", "charged")[:limit]
    )
    for request_id, cost, entry in unbilled:
        problems.append(f"request {request_id}: cost {cost} µcr but its ledger entry is {entry}")
    spent = (
        UsageRecord.objects.filter(api_key__isnull=False)
        .annotate(line=Coalesce("api_key__budget_key_id", "api_key_id"))
        .values("line")
        .annotate(total=Sum("cost"))
        .order_by()
    )
    totals = {row["line"]: row["total"] or 0 for row in spent}
    lines = (
        ApiKey.objects.annotate(line=Coalesce("budget_key_id", "id"))
        .values("line")
        .annotate(spent=Sum("spent"))
        .order_by("line")
    )
    for row in lines:
        cost = totals.get(row["line"], 0)
        if row["spent"] != cost:
            problems.append(f"key line {row['line']}: spent {row['spent']} µcr, requests {cost}")
            if len(problems) >= limit:
                break
    delivered = UsageRecord.objects.filter(
        request_id=OuterRef("reference"), status=200, completion_tokens__gt=0
    )
    expired = Hold.objects.filter(status=Hold.Status.EXPIRED, charged=0).filter(
        reference__in=Subquery(delivered.values("request_id"))
    )
    for reference in expired.values_list("reference", flat=True)[:limit]:
        problems.append(f"hold {reference}: expired charging nothing for a delivered request")
    return problems
