"""What the usage pages read. Charts and totals read the hourly rollups, never raw records; the
request log reads raw records one keyset page at a time."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.translation import gettext

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
    models: tuple[str, ...] | None = None  # raw model ids to keep (None: all)

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
    if q.models is not None:
        rows = rows.filter(model__in=q.models)
    return rows


# Filter values for the two groups that are not models of their own.
NO_MODEL = ":none"
OTHER_MODELS = ":other"


@dataclass(frozen=True)
class UsedModels:
    """The model ids a user's requests named, sorted into what a person wants to see:

    - ``known``: catalog models (enabled or not), and any model that served a request;
    - ``unknown``: ids that are in no catalog and never served anything (a typo such as
      "gpt-5" answered 404): shown together as "other", never as a series or option each;
    - ``blank``: requests that named no model at all (refused 400), shown as "(no model)".
    """

    known: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    blank: bool = False

    def label(self, model: str) -> str:
        if not model:
            return gettext("(no model)")
        if model in self.unknown:
            return gettext("other")
        return model

    def choices(self) -> list[tuple[str, str]]:
        """The model filter's options (value, label), without "all models"."""
        out = [(m, m) for m in self.known]
        if self.unknown:
            out.append((OTHER_MODELS, gettext("other (models not in the catalog)")))
        if self.blank:
            out.append((NO_MODEL, gettext("(no model)")))
        return out

    def models_for(self, value: str | None) -> tuple[str, ...] | None:
        """The raw model ids a filter value stands for (None: every model)."""
        if not value:
            return None
        if value == OTHER_MODELS:
            return self.unknown
        if value == NO_MODEL:
            return ("",)
        return (value,)


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


def usage_report(*, user_id: int, q: UsageQuery, used: UsedModels | None = None) -> dict:
    """Series per bucket and group, and totals per group, from the rollups in two queries
    (three with key names). With ``used``, models are labelled by ``UsedModels.label``: requests
    without a model and unknown model ids each become one group, not a blank or a typo each."""
    label_model = used.label if used is not None else (lambda m: m or gettext("(no model)"))
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
    inputs = [0] * len(buckets)
    outputs = [0] * len(buckets)
    for row in rows:
        position = index.get(row["bucket"].astimezone(q.tz))
        if position is None:
            continue
        name = row[group_field]
        name = labels.get(name, "deleted key") if q.group == "key" else label_model(name)
        entry = series.setdefault(name, {"cost": [0] * len(buckets), "tokens": [0] * len(buckets)})
        entry["cost"][position] += row["cost"] or 0
        entry["tokens"][position] += (row["prompt"] or 0) + (row["completion"] or 0)
        requests[position] += row["requests"] or 0
        errors[position] += row["errors"] or 0
        inputs[position] += row["prompt"] or 0
        outputs[position] += row["completion"] or 0
    merged: dict[str, dict] = {}
    for t in _rollups(user_id, q).values(group_field).annotate(**SUMS).order_by("-cost"):
        name = (
            labels.get(t[group_field], "deleted key")
            if q.group == "key"
            else label_model(t[group_field])
        )
        row = merged.setdefault(name, {"name": name, **dict.fromkeys(SUMS, 0)})
        for k in SUMS:
            row[k] += t[k] or 0
    totals = sorted(merged.values(), key=lambda r: (-r["cost"], -r["requests"], r["name"]))
    # Series in the order of the totals (the biggest spender first, keeping its colour).
    rank = {row["name"]: i for i, row in enumerate(totals)}
    series = dict(sorted(series.items(), key=lambda item: rank.get(item[0], len(rank))))
    fmt = "%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d"
    return {
        "labels": [b.strftime(fmt) for b in buckets],
        "series": series,
        "requests": requests,
        "errors": errors,
        "input_tokens": inputs,
        "output_tokens": outputs,
        "totals": totals,
        "total": {k: sum(row[k] for row in totals) for k in SUMS},
        "empty": not totals,
    }


def used_models(*, user_id: int) -> UsedModels:
    """The models the user's requests named, sorted out (two queries)."""
    from apps.catalog.models import Model

    rows = (
        UsageHour.objects.filter(user_id=user_id)
        .values("model")
        .annotate(requests=Sum("requests"), errors=Sum("errors"))
        .order_by("model")
    )
    rows = list(rows)
    if not rows:
        return UsedModels()
    catalog = set(
        Model.objects.filter(public_id__in=[r["model"] for r in rows]).values_list(
            "public_id", flat=True
        )
    )
    known, unknown, blank = [], [], False
    for row in rows:
        model = row["model"]
        if not model:
            blank = True
        elif model in catalog or (row["requests"] or 0) > (row["errors"] or 0):
            known.append(model)
        else:
            unknown.append(model)
    return UsedModels(known=tuple(known), unknown=tuple(unknown), blank=blank)


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


PROTOCOLS = ("chat", "messages", "responses")


@dataclass(frozen=True)
class LogFilter:
    """What the request log (and its CSV) shows: always a time range, then any of key, models,
    status ("ok", "error" or one HTTP status) and protocol. Each narrows an index of the
    day-partitioned records: (user, created_at), (api_key, created_at), (user, model,
    created_at), (user, protocol, created_at), and failed requests alone: (user, created_at),
    (user, status, created_at) and (user, model, created_at) where status >= 400."""

    start: datetime
    end: datetime
    key_id: int | None = None
    models: tuple[str, ...] | None = None
    status: str | int | None = None
    protocol: str | None = None


def _log_rows(user_id: int, f: LogFilter):
    rows = UsageRecord.objects.filter(
        user_id=user_id, created_at__gte=f.start, created_at__lt=f.end
    )
    if f.key_id is not None:
        rows = rows.filter(api_key_id=f.key_id)
    if f.models is not None:
        rows = rows.filter(model__in=f.models)
    if f.status == "ok":
        rows = rows.filter(status__lt=400)
    elif f.status == "error":
        rows = rows.filter(status__gte=400)
    elif isinstance(f.status, int):
        rows = rows.filter(status=f.status)
        if f.status >= 400:  # says the partial index of failures applies
            rows = rows.filter(status__gte=400)
    if f.protocol:
        rows = rows.filter(protocol=f.protocol)
    return rows


def request_log(
    *,
    user_id: int,
    filters: LogFilter | None = None,
    key_id: int | None = None,
    model: str | None = None,
    status: str | None = None,
    cursor: tuple[datetime, int] | None = None,
    limit: int = LOG_PAGE,
    models: tuple[str, ...] | None = None,
):
    """One page of single requests, newest first, after ``cursor`` (keyset, not OFFSET), in
    ``filters``' time range (default: the last 90 days)."""
    if filters is None:
        now = timezone.now()
        if model:
            models = (model,) if models is None else tuple(m for m in models if m == model)
        filters = LogFilter(
            start=now - RANGES["90d"],
            end=now + timedelta(minutes=1),
            key_id=key_id,
            models=models,
            status=status,
        )
    rows = _log_rows(user_id, filters).select_related("api_key")
    if cursor is not None:
        at, pk = cursor
        rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    page = list(rows.order_by("-created_at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (page[-1].created_at, page[-1].pk) if more and page else None
    return page, next_cursor


def deployment_shown(name: str) -> dict:
    """A deployment's name (provider:key variable:upstream id) as its owner may see it: the
    provider and the model's id there, never which of our keys."""
    provider, _, rest = (name or "").partition(":")
    return {"provider": provider, "upstream": rest.partition(":")[2]}


COST_PARTS = ("input", "cached", "cache_write", "output", "reasoning")


def cost_split(record, route) -> dict | None:
    """What each kind of token of ``record`` cost, in µcr: uncached input, cached input read,
    cache writes, output (reasoning apart) and reasoning, plus the price per request; at the
    model's prices (``route``, the catalog's now). Records keep only their total: when the
    prices changed since, the parts are scaled to that total and marked ``approximate``.
    None for a model not in the catalog or a request that cost nothing."""
    from apps.catalog.pricing import tokens_cost

    if route is None or not record.cost:
        return None
    uncached = max(record.prompt_tokens - record.cached_tokens - record.cache_write_tokens, 0)
    reasoning = min(record.reasoning_tokens, record.completion_tokens)
    parts = {
        "input": tokens_cost(uncached, route.input_price),
        "cached": tokens_cost(record.cached_tokens, route.cached_price),
        "cache_write": tokens_cost(record.cache_write_tokens, route.write_price),
        "output": tokens_cost(record.completion_tokens - reasoning, route.output_price),
        "reasoning": tokens_cost(reasoning, route.output_price),
        "request": route.request_price if record.status < 400 else 0,
    }
    total = sum(parts.values())
    approximate = total != record.cost
    if approximate and total:
        scaled = {k: v * record.cost // total for k, v in parts.items()}
        biggest = max(scaled, key=lambda k: parts[k])
        scaled[biggest] += record.cost - sum(scaled.values())
        parts = scaled
    elif approximate:
        return None
    return {**parts, "approximate": approximate, "total": record.cost}


def records_for_export(
    *, user_id: int, start: datetime, end: datetime, filters: LogFilter | None = None
):
    """The log's records oldest first (every one of ``filters``, or all in the range)."""
    rows = _log_rows(user_id, filters or LogFilter(start=start, end=end))
    return (
        rows.order_by("created_at", "id")
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
            "deployment",
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


def usage_charge_problems(*, limit: int = 100, windows: int = 60) -> list[str]:
    """What a payments system would also keep true, beside balance = ledger - pending charges
    (apps.credits' check, with the requests not posted yet as the pending part):

    - each of the last ``windows`` ledger postings of the rollup equals, account by account,
      the cost of the requests in its window (while their records are kept);
    - every key line's spend (a rotated key and its successors) equals its requests' cost:
      the hourly rollups (kept forever) plus the records not rolled up yet;
    - what a key holds of its credit and spend limits equals its requests' active holds;
    - no hold expired, charging nothing, for a request whose usage was recorded as delivered.

    Read in one snapshot."""
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from apps.credits.models import Account, Hold, LedgerEntry
    from apps.credits.selectors import one_snapshot

    from .rollup import cursor_position, position_field, window

    problems = []
    with one_snapshot():
        postings: dict[tuple[int, int], dict[int, tuple[int, int]]] = {}
        for reference, account_id, amount, memo in (
            LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE, reference__regex=r"^usage:\d+-")
            .order_by("-id")
            .values_list("reference", "account_id", "amount", "memo")[: windows * 50]
        ):
            span = reference.removeprefix("usage:").split(":")[0]
            start, end = (int(x) for x in span.split("-"))
            count = int(memo.split(" ")[0]) if memo[:1].isdigit() else 0
            if (start, end) in postings or len(postings) < windows:
                postings.setdefault((start, end), {})[account_id] = (amount, count)
        accounts = dict(Account.objects.values_list("user_id", "pk"))
        for (start, end), entries in postings.items():
            costs = {
                accounts[row["user_id"]]: (-row["total"], row["n"])
                for row in window(start, end)
                .filter(cost__gt=0)
                .values("user_id")
                .annotate(total=Sum("cost"), n=Count("id"))
                .order_by()
            }
            for account_id in entries.keys() | costs.keys():
                posted, n_posted = entries.get(account_id, (0, 0))
                cost, n_kept = costs.get(account_id, (0, 0))
                if n_kept < n_posted:
                    continue  # some of its records are past the retention: not checkable
                if posted != cost or n_kept != n_posted:
                    problems.append(
                        f"posting {start}-{end} account {account_id}: ledger {posted} µcr for "
                        f"{n_posted} requests, requests {cost} µcr for {n_kept}"
                    )

        position = cursor_position()
        lines = dict(
            ApiKey.objects.annotate(line=Coalesce("budget_key_id", "id")).values_list("id", "line")
        )
        totals: dict[int, int] = {}
        for key_id, cost in (
            UsageHour.objects.filter(key_id__in=list(lines))
            .values("key_id")
            .annotate(total=Sum("cost"))
            .values_list("key_id", "total")
            .order_by()
        ):
            totals[lines[key_id]] = totals.get(lines[key_id], 0) + (cost or 0)
        for key_id, cost in (
            UsageRecord.objects.filter(
                api_key__isnull=False, **{f"{position_field()}__gte": position}
            )
            .values("api_key_id")
            .annotate(total=Sum("cost"))
            .values_list("api_key_id", "total")
            .order_by()
        ):
            totals[lines[key_id]] = totals.get(lines[key_id], 0) + (cost or 0)
        spent = (
            ApiKey.objects.annotate(line=Coalesce("budget_key_id", "id"))
            .values("line")
            .annotate(spent=Sum("spent"))
            .order_by("line")
        )
        for row in spent:
            cost = totals.get(row["line"], 0)
            if row["spent"] != cost:
                problems.append(
                    f"key line {row['line']}: spent {row['spent']} µcr, requests {cost}"
                )

        # What a key holds of its credit and spend limits is its requests' active holds.
        holding = dict(
            Hold.objects.filter(status=Hold.Status.ACTIVE, api_key_id__isnull=False)
            .values("api_key_id")
            .annotate(total=Sum("amount"))
            .values_list("api_key_id", "total")
            .order_by()
        )
        for key_id, held in ApiKey.objects.filter(
            Q(held__gt=0) | Q(pk__in=list(holding))
        ).values_list("pk", "held"):
            if held != holding.get(key_id, 0):
                problems.append(
                    f"key {key_id}: held {held} µcr, active holds {holding.get(key_id, 0)} µcr"
                )

        delivered = UsageRecord.objects.filter(
            request_id=OuterRef("reference"), status=200, completion_tokens__gt=0
        )
        expired = Hold.objects.filter(status=Hold.Status.EXPIRED, charged=0).filter(
            reference__in=Subquery(delivered.values("request_id"))
        )
        for reference in expired.values_list("reference", flat=True)[:limit]:
            problems.append(f"hold {reference}: expired charging nothing for a delivered request")
    return problems[:limit]


@dataclass
class DeploymentHealth:
    """A deployment over the last hour, from the usage records' attempt chains: attempts made
    to it, how many failed (and the last failure), its p50 time to answer, and the p50 time to
    the first token of the streamed requests it served."""

    attempts: int = 0
    errors: int = 0
    rate_limited: int = 0  # of ``errors``: answered 429
    last_error: str = ""  # "HTTP 429 at 14:02:11"
    p50_ms: int | None = None
    p50_ttft_ms: int | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0


def _median(values: list[int]) -> int | None:
    values = sorted(values)
    return values[len(values) // 2] if values else None


# At most this many of the hour's records are read for health: at high traffic, the latest of
# them (10 seconds' worth at 1,000 requests a second), so the pages that show it stay fast.
HEALTH_RECORDS = 10_000


@dataclass(frozen=True)
class HealthSpan:
    """What a health reading covers: from ``since`` (the oldest record read) to now, ``records``
    requests; ``capped`` when the hour held more than were read (the latest were)."""

    since: datetime | None
    records: int
    capped: bool


# PostgreSQL: the same reading summed by the server (decoding 10,000 attempt chains in Python
# costs ~0.25 s). Medians are the upper ones, as ``_median``'s; the last error is the first
# read (newest position first, then the chain's order) of those at the latest time, as there.
HEALTH_SQL = """
WITH recent AS (
    SELECT *, row_number() OVER (ORDER BY txid DESC, id DESC) AS rank FROM (
        SELECT id, txid, created_at, deployment, ttft_ms, stream, attempts
        FROM usage_usagerecord
        WHERE created_at >= %(since)s AND attempts <> '[]'::jsonb
        ORDER BY txid DESC LIMIT %(limit)s  -- (the txid index alone: no sort)
    ) AS latest
), tries AS (
    SELECT r.created_at, r.rank, a.n, (a.value ->> 0) COLLATE "C" AS name,
        (a.value ->> 1)::int AS status, (a.value ->> 2)::int AS ms
    FROM recent AS r, jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.attempts) = 'array' THEN r.attempts ELSE '[]' END
    ) WITH ORDINALITY AS a (value, n)
    WHERE jsonb_typeof(a.value) = 'array' AND jsonb_array_length(a.value) >= 3
        AND COALESCE(a.value ->> 0, '') <> '' AND jsonb_typeof(a.value -> 1) = 'number'
        AND jsonb_typeof(a.value -> 2) = 'number'
), ttfts AS (
    SELECT deployment COLLATE "C" AS name,
        (array_agg(ttft_ms ORDER BY ttft_ms))[count(*) / 2 + 1] AS p50
    FROM recent WHERE deployment <> '' AND stream AND ttft_ms > 0 GROUP BY 1
), health AS (
    SELECT name, count(*) AS attempts, count(*) FILTER (WHERE status <> 200) AS errors,
        count(*) FILTER (WHERE status = 429) AS rate_limited,
        (array_agg(ms ORDER BY ms))[count(*) / 2 + 1] AS p50,
        max(created_at) FILTER (WHERE status <> 200) AS last_at,
        (array_agg(status ORDER BY created_at DESC, rank, n)
            FILTER (WHERE status <> 200))[1] AS last_status
    FROM tries GROUP BY name
)
SELECT 0, '', (SELECT count(*) FROM recent), NULL, NULL, NULL,
    (SELECT min(created_at) FROM recent), NULL, NULL
UNION ALL
SELECT 1, h.name, h.attempts, h.errors, h.rate_limited, h.p50, h.last_at, h.last_status, t.p50
FROM health AS h LEFT JOIN ttfts AS t ON t.name = h.name
"""


def _health_postgresql(since: datetime, limit: int):
    found: dict[str, DeploymentHealth] = {}
    span = HealthSpan(None, 0, False)
    with connection.cursor() as cursor:
        cursor.execute(HEALTH_SQL, {"since": since, "limit": limit})
        rows = cursor.fetchall()
    for kind, name, attempts, errors, limited, p50, last_at, last_status, ttft in rows:
        if kind == 0:  # what was read
            span = HealthSpan(last_at, attempts, attempts >= limit)
            continue
        found[name] = DeploymentHealth(
            attempts=attempts,
            errors=errors,
            rate_limited=limited,
            last_error=(
                f"HTTP {last_status} at {last_at.astimezone(UTC):%H:%M:%S} UTC" if last_at else ""
            ),
            p50_ms=p50,
            p50_ttft_ms=ttft,
        )
    return found, span


def deployment_health_span(
    *, since: datetime | None = None, limit: int | None = None, in_python: bool = False
) -> tuple[dict[str, DeploymentHealth], HealthSpan]:
    """Every deployment tried since ``since`` (default: an hour ago), by name, from the latest
    ``limit`` records of that time (newest first by their rollup position, an index scan of the
    partitioned table): summed by PostgreSQL, or here (SQLite, or ``in_python``)."""
    from .rollup import position_field

    since = since or timezone.now() - timedelta(hours=1)
    limit = limit or HEALTH_RECORDS
    if connection.vendor == "postgresql" and not in_python:
        return _health_postgresql(since, limit)
    rows = UsageRecord.objects.filter(created_at__gte=since).exclude(attempts=[])
    rows = rows.order_by(f"-{position_field()}", "-id").values_list(
        "created_at", "deployment", "ttft_ms", "stream", "attempts"
    )[:limit]
    found: dict[str, DeploymentHealth] = {}
    times: dict[str, list[int]] = {}
    ttfts: dict[str, list[int]] = {}
    last: dict[str, datetime] = {}
    count, oldest = 0, None
    for created_at, served, ttft, stream, attempts in rows.iterator(chunk_size=5000):
        count += 1
        oldest = created_at if oldest is None or created_at < oldest else oldest
        for attempt in attempts or ():
            if not isinstance(attempt, list) or len(attempt) < 3 or not attempt[0]:
                continue
            name, status, ms = attempt[0], attempt[1], attempt[2]
            health = found.setdefault(name, DeploymentHealth())
            health.attempts += 1
            times.setdefault(name, []).append(ms)
            if status != 200:
                health.errors += 1
                health.rate_limited += status == 429
                if name not in last or created_at > last[name]:  # the first of the latest
                    last[name] = created_at
                    health.last_error = f"HTTP {status} at {created_at:%H:%M:%S} UTC"
        if served and stream and ttft:
            ttfts.setdefault(served, []).append(ttft)
    for name, health in found.items():
        health.p50_ms = _median(times.get(name, []))
        health.p50_ttft_ms = _median(ttfts.get(name, []))
    return found, HealthSpan(oldest, count, count >= limit)


def deployment_health(*, since: datetime | None = None) -> dict[str, DeploymentHealth]:
    """``deployment_health_span``'s figures alone."""
    return deployment_health_span(since=since)[0]


def keys_charged_since(*, key_ids: list[int], since) -> int:
    """What requests through these keys that started at or after ``since`` were charged, in
    µcr (a key's spend window counts them when it starts mid-window)."""
    total = UsageRecord.objects.filter(api_key_id__in=key_ids, created_at__gte=since).aggregate(
        total=Sum("cost")
    )["total"]
    return total or 0


INSIGHT_DAYS = 30
INSIGHT_RECENT = 10


def spend_insight(*, user_id: int, tz: ZoneInfo, key_id: int | None = None) -> dict:
    """An account's (or one of its keys') spend per day over the last ``INSIGHT_DAYS`` days by
    model (the rollups) and its latest requests (an index of the records): the dashboard's
    and a key page's picture of what is being spent."""
    now = timezone.now()
    start = (now - timedelta(days=INSIGHT_DAYS - 1)).astimezone(tz)
    q = UsageQuery(
        start=start.replace(hour=0, minute=0, second=0, microsecond=0),
        end=now,
        tz=tz,
        key_id=key_id,
    )
    report = usage_report(user_id=user_id, q=q)
    recent, _ = request_log(
        user_id=user_id,
        filters=LogFilter(start=now - timedelta(days=INSIGHT_DAYS), end=now, key_id=key_id),
        limit=INSIGHT_RECENT,
    )
    return {
        "labels": report["labels"],
        "series": report["series"],
        "spent": sum(row["cost"] for row in report["totals"]),
        "requests": sum(row["requests"] for row in report["totals"]),
        "recent": recent,
        "days": INSIGHT_DAYS,
    }
