"""What the staff console shows: read-only, from the hourly rollups (``UsageHour``,
``DeploymentHour``), the payments table and the accounts; only upstream health reads raw
records (the last hour's). Money in µcr (integers); margin = revenue − upstream cost, where
revenue is what usage charged and the upstream cost is known (``unknown`` counts the records
whose deployment declares no cost)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from apps.billing.models import Payment
from apps.credits.models import Account
from apps.usage.models import DeploymentHour, UsageDay, UsageHour
from apps.usage.selectors import HealthSpan, deployment_health_span

# Payments whose money came in (refunds and disputes are reported beside them).
CASH_STATUSES = (
    Payment.Status.PAID,
    Payment.Status.PARTIALLY_REFUNDED,
    Payment.Status.REFUNDED,
    Payment.Status.DISPUTED,
)
TOP_CUSTOMERS = 50


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


@dataclass(frozen=True)
class Period:
    """[since, until), whole UTC hours."""

    since: datetime
    until: datetime

    @classmethod
    def last_days(cls, days: int = 30, now: datetime | None = None) -> "Period":
        until = hour_ceil(now or timezone.now())
        start = until.replace(hour=0) - timedelta(days=days - 1)
        if until.hour == 0:  # the window ends on a day boundary: the day before is the last
            start -= timedelta(days=1)
        return cls(start, until)

    @classmethod
    def last_hours(cls, hours: int = 48, now: datetime | None = None) -> "Period":
        until = hour_ceil(now or timezone.now())
        return cls(until - timedelta(hours=hours), until)


def _money(row: dict) -> dict:
    revenue = row.get("revenue") or 0
    cost = row.get("upstream_cost") or 0
    row["revenue"], row["upstream_cost"] = revenue, cost
    row["unknown"] = row.get("unknown") or 0
    row["margin"] = revenue - cost
    return row


_SUMS = {
    "requests": Sum("requests"),
    "revenue": Sum("cost"),
    "upstream_cost": Sum("upstream_cost"),
    "unknown": Sum("unknown_cost"),
}


def _hours(period: Period):
    """The per-model figures: ``DeploymentHour`` (hours × models × deployments, a few thousand
    rows a month) holds the same sums as ``UsageHour`` (× customers × keys, millions)."""
    return DeploymentHour.objects.filter(hour__gte=period.since, hour__lt=period.until)


def margin_by_day(period: Period) -> list[dict]:
    """One row per UTC day of ``period`` (days without traffic included, as zeros)."""
    rows = (
        _hours(period)
        .annotate(day=TruncDay("hour", tzinfo=UTC))
        .values("day")
        .annotate(**_SUMS)
        .order_by("day")
    )
    found = {row["day"]: _money(row) for row in rows}
    out, day = [], period.since.replace(hour=0)
    while day < period.until:
        out.append(found.get(day) or _money({"day": day, "requests": 0}))
        day += timedelta(days=1)
    return out


def margin_by_hour(period: Period) -> list[dict]:
    """One row per hour of ``period`` (hours without traffic included, as zeros)."""
    rows = _hours(period).values("hour").annotate(**_SUMS).order_by("hour")
    found = {row["hour"]: _money(row) for row in rows}
    out, hour = [], period.since
    while hour < period.until:
        out.append(found.get(hour) or _money({"hour": hour, "requests": 0}))
        hour += timedelta(hours=1)
    return out


def margin_by_model(period: Period) -> list[dict]:
    rows = _hours(period).values("model").annotate(**_SUMS).order_by("-revenue", "model")
    return [_money(row) for row in rows]


def margin_by_deployment(period: Period) -> list[dict]:
    """By serving deployment (and model), its provider beside it; from ``DeploymentHour``."""
    rows = (
        DeploymentHour.objects.filter(hour__gte=period.since, hour__lt=period.until)
        .values("deployment", "model")
        .annotate(errors=Sum("errors"), **_SUMS)
        .order_by("-revenue", "deployment", "model")
    )
    out = []
    for row in rows:
        row["provider"] = row["deployment"].split(":", 1)[0] if row["deployment"] else ""
        out.append(_money(row))
    return out


def margin_by_provider(rows: list[dict]) -> list[dict]:
    """``margin_by_deployment``'s rows summed by provider."""
    found: dict[str, dict] = {}
    for row in rows:
        total = found.setdefault(
            row["provider"],
            {
                "provider": row["provider"],
                "requests": 0,
                "revenue": 0,
                "upstream_cost": 0,
                "unknown": 0,
                "errors": 0,
            },
        )
        for name in ("requests", "revenue", "upstream_cost", "unknown", "errors"):
            total[name] += row[name] or 0
    return sorted((_money(t) for t in found.values()), key=lambda t: -t["revenue"])


def margin_by_customer(period: Period, limit: int = TOP_CUSTOMERS) -> list[dict]:
    """The top customers by revenue: from ``UsageDay`` for the period's whole UTC days, plus
    ``UsageHour`` for a part day at either end. A period that runs to now (the console's) takes
    today from ``UsageDay`` too: no record is later than now."""
    first = period.since.replace(hour=0)
    if first != period.since:
        first += timedelta(days=1)
    last = period.until.replace(hour=0)
    if last != period.until and period.until >= timezone.now():
        last += timedelta(days=1)
    sums: dict[int, dict] = {}

    def add(rows):
        for row in rows:
            total = sums.setdefault(row["user_id"], {"user_id": row["user_id"]})
            for name in _SUMS:
                total[name] = total.get(name, 0) + (row[name] or 0)

    if first < last:
        days = UsageDay.objects.filter(day__gte=first, day__lt=last)
        add(days.values("user_id").annotate(**_SUMS).order_by())
    ends = ((period.since, min(first, period.until)), (max(last, first), period.until))
    # (when ``last`` is past ``until``, the second is empty)
    for since, until in ends:
        if since < until:
            hours = UsageHour.objects.filter(hour__gte=since, hour__lt=until)
            add(hours.values("user_id").annotate(**_SUMS).order_by())
    top = sorted(sums.values(), key=lambda r: (-r["revenue"], r["user_id"]))[:limit]
    users = get_user_model().objects.filter(pk__in=[r["user_id"] for r in top])
    emails = dict(users.values_list("pk", "email"))
    return [_money({**row, "user__email": emails.get(row["user_id"], "")}) for row in top]


def totals(rows: list[dict]) -> dict:
    return _money(
        {
            "requests": sum(r["requests"] or 0 for r in rows),
            "revenue": sum(r["revenue"] for r in rows),
            "upstream_cost": sum(r["upstream_cost"] for r in rows),
            "unknown": sum(r["unknown"] for r in rows),
        }
    )


def cash_in(period: Period) -> list[dict]:
    """Payments whose money came in during ``period`` (by ``paid_at``), by payment method and
    currency: how many, the amount, what was refunded of them since, and the credits."""
    rows = (
        Payment.objects.filter(
            status__in=CASH_STATUSES, paid_at__gte=period.since, paid_at__lt=period.until
        )
        .values("payment_method", "currency")
        .annotate(
            payments=Count("id"),
            amount_cents=Sum("amount_cents"),
            refunded_cents=Sum("amount_refunded_cents"),
            credits=Sum("credits"),
            credits_refunded=Sum("credits_refunded"),
            disputed=Count("id", filter=Q(status=Payment.Status.DISPUTED)),
        )
        .order_by("currency", "payment_method")
    )
    out = []
    for row in rows:
        row["net_cents"] = (row["amount_cents"] or 0) - (row["refunded_cents"] or 0)
        out.append(row)
    return out


def credits_outstanding() -> dict:
    """What we owe in service: the sum of every account's balance (held credits are part of
    it until their requests settle); negative balances (overruns) apart."""
    # (Aggregates named apart from the columns: a filter on ``balance`` must read the column.)
    found = Account.objects.aggregate(
        total=Sum("balance", default=0),
        total_held=Sum("held", default=0),
        accounts=Count("id"),
        negative=Count("id", filter=Q(balance__lt=0)),
        negative_sum=Sum("balance", filter=Q(balance__lt=0), default=0),
    )
    found["balance"], found["held"] = found.pop("total"), found.pop("total_held")
    return found


def accounts_activity(now: datetime | None = None) -> dict:
    """New sign-ups (last 24 h, 7 and 30 days) and active accounts (with any request), from
    the daily rollup: today (UTC), and the last 7 and 30 days counted from their first day's
    midnight."""
    now = now or timezone.now()
    # An organization's principal user (its wallet) is not a person who signed up.
    users = get_user_model().objects.filter(organization__isnull=True)
    spans = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
    signups = users.aggregate(
        total=Count("id"),
        **{
            name: Count("id", filter=Q(date_joined__gte=now - span)) for name, span in spans.items()
        },
    )
    active = {"day": _active(hour_floor(now).replace(hour=0))}
    for name in ("week", "month"):
        active[name] = _active(hour_floor(now - spans[name]).replace(hour=0))
    return {"signups": signups, "active": active}


def _active(since: datetime) -> int:
    return UsageDay.objects.filter(day__gte=since).values("user_id").distinct().count()


def upstream_health() -> tuple[list[dict], HealthSpan]:
    """Every deployment tried in the last hour: attempts, errors, 429s, p50 latency and time to
    the first token (from the raw records of the hour, at most the latest
    ``apps.usage.selectors.HEALTH_RECORDS`` of them: the span says what was read)."""
    found, span = deployment_health_span()
    rows = [
        {
            "deployment": name,
            "provider": name.split(":", 1)[0],
            "attempts": h.attempts,
            "errors": h.errors,
            "rate_limited": h.rate_limited,
            "error_rate": h.error_rate,
            "p50_ms": h.p50_ms,
            "p50_ttft_ms": h.p50_ttft_ms,
            "last_error": h.last_error,
        }
        for name, h in sorted(found.items())
    ]
    return rows, span
