"""Incremental rollups: each run adds to the hourly buckets only the records that arrived since
the previous run, and posts their cost to the ledger, one entry per account.

The cursor (``UsageCursor`` "rollup") is a *position* in the order records commit:

- PostgreSQL: records carry ``txid``, the id of the transaction that wrote them. A run reads
  the records with ``cursor <= txid < horizon``, where the horizon is the oldest other
  transaction still running (from ``pg_current_snapshot()``): every transaction below it has
  ended, so no record below it can still appear, while one that commits late (its transaction
  began early) has a txid above the cursor and is read by the next run. Exact, whatever the
  commit order.
- SQLite: one writer at a time, so ids are given in commit order; the position is the id.

A run is one transaction: it locks the cursor row (a second run finds it locked and does
nothing), reads the window, upserts the sums into ``UsageHour``, writes one ``usage`` ledger
entry per account for the window's charges, and moves the cursor. A run killed half-way rolls
all of it back and the next run reads the same window again. The cost of a run is the records
of its window, not the traffic of the last hours.

Until its window is posted, a request's charge is in its account's balance (taken at
settlement, with the request's record, in one transaction) but not yet in the ledger: the
ledger check counts it as pending (``unposted_by_account``), so balance = ledger - pending
holds at every instant.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from .models import DeploymentHour, UsageCursor, UsageDay, UsageHour, UsageRecord

log = logging.getLogger("opencodex.usage")

CURSOR = "rollup"

UPSERT = """
INSERT INTO usage_usagehour
    (hour, user_id, key_id, model, requests, errors, prompt_tokens, completion_tokens,
     cached_tokens, cache_write_tokens, cost, upstream_cost, unknown_cost)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (hour, user_id, key_id, model) DO UPDATE SET
    requests = usage_usagehour.requests + excluded.requests,
    errors = usage_usagehour.errors + excluded.errors,
    prompt_tokens = usage_usagehour.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_usagehour.completion_tokens + excluded.completion_tokens,
    cached_tokens = usage_usagehour.cached_tokens + excluded.cached_tokens,
    cache_write_tokens = usage_usagehour.cache_write_tokens + excluded.cache_write_tokens,
    cost = usage_usagehour.cost + excluded.cost,
    upstream_cost = usage_usagehour.upstream_cost + excluded.upstream_cost,
    unknown_cost = usage_usagehour.unknown_cost + excluded.unknown_cost
"""


# PostgreSQL: the same two steps as one statement each, summed and written by the server.
PG_BUCKETS = """
WITH b AS (
    SELECT date_trunc('hour', created_at, 'UTC') AS hour, user_id,
        COALESCE(api_key_id, 0) AS key_id, model, count(*) AS requests,
        count(*) FILTER (WHERE status >= 400) AS errors, sum(prompt_tokens) AS prompt_tokens,
        sum(completion_tokens) AS completion_tokens, sum(cached_tokens) AS cached_tokens,
        sum(cache_write_tokens) AS cache_write_tokens, sum(cost) AS cost,
        COALESCE(sum(upstream_cost), 0) AS upstream_cost,
        count(*) FILTER (WHERE upstream_cost IS NULL) AS unknown_cost
    FROM usage_usagerecord WHERE txid >= %(start)s AND txid < %(end)s
    GROUP BY 1, 2, 3, 4
), written AS (
    INSERT INTO usage_usagehour
        (hour, user_id, key_id, model, requests, errors, prompt_tokens, completion_tokens,
         cached_tokens, cache_write_tokens, cost, upstream_cost, unknown_cost)
    SELECT * FROM b
    ON CONFLICT (hour, user_id, key_id, model) DO UPDATE SET
        requests = usage_usagehour.requests + excluded.requests,
        errors = usage_usagehour.errors + excluded.errors,
        prompt_tokens = usage_usagehour.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = usage_usagehour.completion_tokens + excluded.completion_tokens,
        cached_tokens = usage_usagehour.cached_tokens + excluded.cached_tokens,
        cache_write_tokens = usage_usagehour.cache_write_tokens + excluded.cache_write_tokens,
        cost = usage_usagehour.cost + excluded.cost,
    upstream_cost = usage_usagehour.upstream_cost + excluded.upstream_cost,
    unknown_cost = usage_usagehour.unknown_cost + excluded.unknown_cost
    RETURNING 1
), days AS (  -- the daily buckets from the hourly sums: no second pass over the records
    INSERT INTO usage_usageday
        (day, user_id, requests, errors, cost, upstream_cost, unknown_cost)
    SELECT date_trunc('day', hour, 'UTC'), user_id, sum(requests), sum(errors), sum(cost),
        sum(upstream_cost), sum(unknown_cost)
    FROM b GROUP BY 1, 2
    ON CONFLICT (day, user_id) DO UPDATE SET
        requests = usage_usageday.requests + excluded.requests,
        errors = usage_usageday.errors + excluded.errors,
        cost = usage_usageday.cost + excluded.cost,
        upstream_cost = usage_usageday.upstream_cost + excluded.upstream_cost,
        unknown_cost = usage_usageday.unknown_cost + excluded.unknown_cost
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT COALESCE(sum(requests), 0) FROM b),
    (SELECT count(*) FROM days)
"""

PG_POSTINGS = """
INSERT INTO credits_ledgerentry
    (account_id, amount, balance_after, kind, reference, memo, created_by_id, created_at)
SELECT a.id, -sum(r.cost), a.balance, 'usage',
    'usage:' || %(start)s || '-' || %(end)s || ':' || a.id, count(*) || ' API requests', NULL,
    now()
FROM usage_usagerecord AS r JOIN credits_account AS a ON a.user_id = r.user_id
WHERE r.txid >= %(start)s AND r.txid < %(end)s AND r.cost > 0
GROUP BY a.id, a.balance
ON CONFLICT (reference) DO NOTHING
"""


# The same window by model and serving deployment (the staff console's margins).
DEPLOYMENT_UPSERT = """
INSERT INTO usage_deploymenthour
    (hour, model, deployment, requests, errors, cost, upstream_cost, unknown_cost)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (hour, model, deployment) DO UPDATE SET
    requests = usage_deploymenthour.requests + excluded.requests,
    errors = usage_deploymenthour.errors + excluded.errors,
    cost = usage_deploymenthour.cost + excluded.cost,
    upstream_cost = usage_deploymenthour.upstream_cost + excluded.upstream_cost,
    unknown_cost = usage_deploymenthour.unknown_cost + excluded.unknown_cost
"""

PG_DEPLOYMENT_BUCKETS = """
INSERT INTO usage_deploymenthour
    (hour, model, deployment, requests, errors, cost, upstream_cost, unknown_cost)
SELECT date_trunc('hour', created_at, 'UTC'), model, deployment, count(*),
    count(*) FILTER (WHERE status >= 400), sum(cost), COALESCE(sum(upstream_cost), 0),
    count(*) FILTER (WHERE upstream_cost IS NULL)
FROM usage_usagerecord WHERE txid >= %(start)s AND txid < %(end)s
GROUP BY 1, 2, 3
ON CONFLICT (hour, model, deployment) DO UPDATE SET
    requests = usage_deploymenthour.requests + excluded.requests,
    errors = usage_deploymenthour.errors + excluded.errors,
    cost = usage_deploymenthour.cost + excluded.cost,
    upstream_cost = usage_deploymenthour.upstream_cost + excluded.upstream_cost,
    unknown_cost = usage_deploymenthour.unknown_cost + excluded.unknown_cost
"""


# The same window by UTC day and user (the staff console's customers over weeks; on PostgreSQL
# written by PG_BUCKETS from its hourly sums).
DAY_UPSERT = """
INSERT INTO usage_usageday (day, user_id, requests, errors, cost, upstream_cost, unknown_cost)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (day, user_id) DO UPDATE SET
    requests = usage_usageday.requests + excluded.requests,
    errors = usage_usageday.errors + excluded.errors,
    cost = usage_usageday.cost + excluded.cost,
    upstream_cost = usage_usageday.upstream_cost + excluded.upstream_cost,
    unknown_cost = usage_usageday.unknown_cost + excluded.unknown_cost
"""


class RollupBusy(Exception):
    """Another rollup holds the cursor; this one did nothing."""


@dataclass(frozen=True)
class RollupRun:
    start: int  # the window read: start <= position < end
    end: int
    records: int
    buckets: int
    postings: int


def position_field() -> str:
    return "txid" if connection.vendor == "postgresql" else "id"


# The oldest other transaction of this database that is running (pg_stat_activity; its 32-bit
# id widened to the 64-bit one records carry), else the next id to come after this one and
# after every completed one: every record below it is committed, aborted, or this transaction's
# own, which commits with the run that counts it. Transaction ids are the cluster's: other
# databases' transactions are not waited for, and read-only ones (pg_dump, reports) have no id.
HORIZON = """
WITH me AS (
    SELECT pg_current_xact_id()::text::bigint AS own,
           pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
), others AS (
    SELECT me.own - ((me.own - backend_xid::text::bigint) % 4294967296 + 4294967296)
        % 4294967296 AS xid
    FROM pg_stat_activity, me
    WHERE datname = current_database() AND backend_xid IS NOT NULL
        AND pid <> pg_backend_pid()
)
SELECT LEAST((SELECT min(xid) FROM others), (SELECT GREATEST(xmax, own + 1) FROM me))
"""


def horizon() -> int:
    """The position below which every record that will ever exist is already visible."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # activity as of now
            cursor.execute(HORIZON)
            return cursor.fetchone()[0]
    last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first()
    return (last or 0) + 1


def cursor_position() -> int:
    return UsageCursor.objects.filter(name=CURSOR).values_list("position", flat=True).first() or 0


def _lock_cursor() -> UsageCursor:
    UsageCursor.objects.bulk_create([UsageCursor(name=CURSOR)], ignore_conflicts=True)
    try:
        return UsageCursor.objects.select_for_update(nowait=True).get(name=CURSOR)
    except Exception as exc:  # DatabaseError: the row is locked by a run in progress
        if connection.vendor == "postgresql" and "could not obtain lock" in str(exc):
            raise RollupBusy("a usage rollup is already running") from None
        raise


def window(start: int, end: int):
    field = position_field()
    return UsageRecord.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end})


def bucket_sums(records):
    return (
        records.annotate(bucket=TruncHour("created_at", tzinfo=UTC))
        .values("bucket", "user_id", "api_key_id", "model")
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(status__gte=400)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cached=Sum("cached_tokens"),
            written=Sum("cache_write_tokens"),
            spent=Sum("cost"),
            upstream=Sum("upstream_cost"),
            unknown=Count("id", filter=Q(upstream_cost__isnull=True)),
        )
        .order_by()
    )


def _add_to_buckets(records) -> tuple[int, int]:
    """Add the records' sums to their buckets: (buckets touched, records counted)."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            adapt(b["bucket"]),
            b["user_id"],
            b["api_key_id"] or 0,
            b["model"],
            b["n"],
            b["failed"],
            b["prompt"] or 0,
            b["completion"] or 0,
            b["cached"] or 0,
            b["written"] or 0,
            b["spent"] or 0,
            b["upstream"] or 0,
            b["unknown"],
        )
        for b in bucket_sums(records).iterator(chunk_size=5000)
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(UPSERT, rows)
    return len(rows), sum(row[4] for row in rows)


def _bucket_sums(records, trunc, *keys):
    """The records' requests, failures, charges and upstream costs per (bucket, *keys)."""
    return (
        records.annotate(bucket=trunc("created_at", tzinfo=UTC))
        .values("bucket", *keys)
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(status__gte=400)),
            spent=Sum("cost"),
            upstream=Sum("upstream_cost"),
            unknown=Count("id", filter=Q(upstream_cost__isnull=True)),
        )
        .order_by()
    )


def deployment_sums(records):
    return _bucket_sums(records, TruncHour, "model", "deployment")


def day_sums(records):
    return _bucket_sums(records, TruncDay, "user_id")


def _upsert_sums(sql: str, sums, keys: tuple[str, ...]) -> int:
    """Add the sums to their buckets with ``sql``: buckets touched."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            adapt(b["bucket"]),
            *(b[key] for key in keys),
            b["n"],
            b["failed"],
            b["spent"] or 0,
            b["upstream"] or 0,
            b["unknown"],
        )
        for b in sums.iterator(chunk_size=5000)
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return len(rows)


def _add_to_deployment_buckets(records) -> int:
    """Add the records' sums to their (hour, model, deployment) buckets: buckets touched."""
    return _upsert_sums(DEPLOYMENT_UPSERT, deployment_sums(records), ("model", "deployment"))


def _add_to_day_buckets(records) -> None:
    """Add the records' sums to their (day, user) buckets."""
    _upsert_sums(DAY_UPSERT, day_sums(records), ("user_id",))


def _days_from_hours(start: datetime, end: datetime) -> None:
    """Recompute the UTC days that [start, end) touches from their hours (a day partly outside
    a rebuild keeps its other hours' sums)."""
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    last = end.replace(hour=0, minute=0, second=0, microsecond=0)
    last += timedelta(days=1) if last != end else timedelta(0)
    UsageDay.objects.filter(day__gte=first, day__lt=last).delete()
    sums = (
        UsageHour.objects.filter(hour__gte=first, hour__lt=last)
        .annotate(bucket=TruncDay("hour", tzinfo=UTC))
        .values("bucket", "user_id")
        .annotate(
            n=Sum("requests"),
            failed=Sum("errors"),
            spent=Sum("cost"),
            upstream=Sum("upstream_cost"),
            unknown=Sum("unknown_cost"),
        )
        .order_by()
    )
    UsageDay.objects.bulk_create(
        [
            UsageDay(
                day=row["bucket"],
                user_id=row["user_id"],
                requests=row["n"],
                errors=row["failed"],
                cost=row["spent"],
                upstream_cost=row["upstream"],
                unknown_cost=row["unknown"],
            )
            for row in sums.iterator(chunk_size=5000)
        ],
        batch_size=5000,
    )


def _post_to_ledger(records, start: int, end: int) -> int:
    """One ``usage`` ledger entry per account for the window's charges (apps.credits' rule for
    charges posted later); on PostgreSQL one statement."""
    from apps.credits.models import Account
    from apps.credits.services import credits_post_pending

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PG_POSTINGS, {"start": start, "end": end})
            return cursor.rowcount

    charges = (
        records.filter(cost__gt=0)
        .values("user_id")
        .annotate(total=Sum("cost"), n=Count("id"))
        .order_by()
    )
    by_user = {c["user_id"]: c for c in charges}
    if not by_user:
        return 0
    accounts = Account.objects.filter(user_id__in=list(by_user)).values_list("pk", "user_id")
    entries = [
        (
            account_id,
            -by_user[user_id]["total"],
            f"usage:{start}-{end}:{account_id}",
            f"{by_user[user_id]['n']} API requests",
        )
        for account_id, user_id in accounts
    ]
    return credits_post_pending(entries=entries)


def _count_window(start: int, end: int) -> tuple[int, int, int]:
    """Add the window's records to their buckets and post their charges, then move the cursor
    past them (inside the caller's transaction): (buckets, records, postings)."""
    if connection.vendor == "postgresql":  # summed and written by the server
        with connection.cursor() as cursor:
            cursor.execute(PG_BUCKETS, {"start": start, "end": end})
            buckets, count, _ = cursor.fetchone()
            cursor.execute(PG_DEPLOYMENT_BUCKETS, {"start": start, "end": end})
    else:
        buckets, count = _add_to_buckets(window(start, end))
        _add_to_deployment_buckets(window(start, end))
        _add_to_day_buckets(window(start, end))
    postings = _post_to_ledger(window(start, end), start, end)
    UsageCursor.objects.filter(name=CURSOR).update(position=end, updated_at=timezone.now())
    return buckets, int(count), postings


def rollup_step(*, limit: int | None = None) -> RollupRun:
    """Count what arrived since the last run: one transaction, a cost that follows the new
    records only. ``limit``: at most this many positions (a backlog is read in several runs)."""
    with transaction.atomic():
        cursor = _lock_cursor()
        start, end = cursor.position, horizon()
        if limit is not None:
            end = min(end, start + limit)
        if end <= start:
            return RollupRun(start, start, 0, 0, 0)
        buckets, count, postings = _count_window(start, end)
    return RollupRun(start, end, count, buckets, postings)


def rollup_rebuild(*, since: datetime, until: datetime | None = None) -> int:
    """Recompute the hourly buckets from ``since``'s hour to ``until`` (default: now) from the
    raw records, replacing them (a repair, or after changing how buckets are made). Counts and
    posts what is new first, so the cursor and the rebuilt hours agree. Returns the buckets."""
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = (until or timezone.now()).astimezone(UTC)
    if end != end.replace(minute=0, second=0, microsecond=0):  # whole hours: a bucket is
        end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)  # all or none
    with transaction.atomic():
        cursor = _lock_cursor()
        low, high = cursor.position, horizon()
        if high > low:
            _count_window(low, high)
        else:
            high = low
        UsageHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        DeploymentHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        counted = UsageRecord.objects.filter(
            created_at__gte=start, created_at__lt=end, **{f"{position_field()}__lt": high}
        )
        _add_to_deployment_buckets(counted)
        written = _add_to_buckets(counted)[0]
        _days_from_hours(start, end)
        return written


def retention_cutoff(*, now: datetime | None = None, days: int | None = None) -> datetime:
    """Records created before this may be gone (``USAGE_RETENTION_DAYS``; whole UTC days)."""
    from django.conf import settings

    days = settings.USAGE_RETENTION_DAYS if days is None else days
    if days <= 0:
        return datetime.min.replace(tzinfo=UTC)
    today = (now or timezone.now()).astimezone(UTC)
    return today.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)


def rollup_differences(*, since: datetime, until: datetime, limit: int = 50) -> list[str]:
    """Where the hourly buckets of [since, until) differ from the raw records the cursor has
    passed, read in one snapshot: empty when the rollups are exact. Hours before the retention
    cutoff are left out (their records may be gone; their rollups are kept)."""
    from apps.credits.selectors import one_snapshot

    start = max(since, retention_cutoff()).astimezone(UTC)
    start = start.replace(minute=0, second=0, microsecond=0)
    fields = (
        "n",
        "failed",
        "prompt",
        "completion",
        "cached",
        "written",
        "spent",
        "upstream",
        "unknown",
    )
    with one_snapshot():
        position = cursor_position()
        raw = {
            (b["bucket"], b["user_id"], b["api_key_id"] or 0, b["model"]): tuple(
                b[k] or 0 for k in fields
            )
            for b in bucket_sums(
                UsageRecord.objects.filter(
                    created_at__gte=start,
                    created_at__lt=until,
                    **{f"{position_field()}__lt": position},
                )
            )
        }
        stored = {
            (h.hour, h.user_id, h.key_id, h.model): (
                h.requests,
                h.errors,
                h.prompt_tokens,
                h.completion_tokens,
                h.cached_tokens,
                h.cache_write_tokens,
                h.cost,
                h.upstream_cost,
                h.unknown_cost,
            )
            for h in UsageHour.objects.filter(hour__gte=start, hour__lt=until)
        }
        dfields = ("n", "failed", "spent", "upstream", "unknown")
        for b in deployment_sums(
            UsageRecord.objects.filter(
                created_at__gte=start,
                created_at__lt=until,
                **{f"{position_field()}__lt": position},
            )
        ):
            key = (b["bucket"], "deployment", b["deployment"], b["model"])
            raw[key] = tuple(b[k] or 0 for k in dfields)
        for h in DeploymentHour.objects.filter(hour__gte=start, hour__lt=until):
            stored[(h.hour, "deployment", h.deployment, h.model)] = (
                h.requests,
                h.errors,
                h.cost,
                h.upstream_cost,
                h.unknown_cost,
            )
        # Each day of UsageDay equals its records (whole UTC days).
        first = start.replace(hour=0)
        last = until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        last += timedelta(days=1)
        for d in day_sums(
            UsageRecord.objects.filter(
                created_at__gte=first,
                created_at__lt=last,
                **{f"{position_field()}__lt": position},
            )
        ):
            raw[(d["bucket"], d["user_id"], "day", "")] = tuple(d[k] or 0 for k in dfields)
        for d in UsageDay.objects.filter(day__gte=first, day__lt=last):
            stored[(d.day, d.user_id, "day", "")] = (
                d.requests,
                d.errors,
                d.cost,
                d.upstream_cost,
                d.unknown_cost,
            )
    problems = []
    for key in sorted(raw.keys() | stored.keys(), key=str):
        if raw.get(key) != stored.get(key):
            problems.append(
                f"{key[0]:%Y-%m-%d %H}h user {key[1]} key {key[2]} {key[3]!r}: "
                f"records {raw.get(key)} != rollup {stored.get(key)}"
            )
            if len(problems) >= limit:
                break
    return problems


def unposted_by_account() -> dict[int, int]:
    """µcr charged by requests the rollup has not posted to the ledger yet, by account (a
    pending source of apps.credits' ledger check; read in the caller's snapshot)."""
    from apps.credits.models import Account

    position = cursor_position()
    totals = (
        UsageRecord.objects.filter(**{f"{position_field()}__gte": position}, cost__gt=0)
        .values("user_id")
        .annotate(total=Sum("cost"))
        .order_by()
    )
    by_user = {row["user_id"]: row["total"] for row in totals}
    if not by_user:
        return {}
    accounts = Account.objects.filter(user_id__in=list(by_user)).values_list("pk", "user_id")
    return {pk: by_user[user_id] for pk, user_id in accounts}


def rollup_lag_seconds() -> float:
    """How long ago the oldest record not rolled up yet was created (0 when none)."""
    position = cursor_position()
    oldest = (
        UsageRecord.objects.filter(**{f"{position_field()}__gte": position})
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if oldest is None:
        return 0.0
    return max((timezone.now() - oldest) / timedelta(seconds=1), 0.0)
