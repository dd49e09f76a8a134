"""Staff console benchmark: the server time of every console page (the console and its CSV
exports) on the usage bench's data set (``bench/usage/run.py``: 7.2M records over the last two
hours, 1,000 users, a tenth of the traffic for one heavy user), here with what the console
reads filled in too: the serving deployment, its upstream cost (unknown for one deployment),
the attempt chain (a 429 failover on every 50th request), and 30 days of payments.

    .venv/bin/python bench/staff/console.py [--records 7200000] [--users 1000] [--reuse]
        [--history-days 30] [--baseline]

``--reuse`` keeps the scratch database after the run and, when it is already there, times the
pages on it without building it again. Server time: Django's test client in this process
(median of 5 after a warm-up), target <= 300 ms a page. ``--history-days 30`` adds a month of
hourly and daily rollups before the records, as dense as this traffic makes them (every user,
key and model every hour: 2.9M UsageHour rows), what the console reads after a month.
``--baseline`` also times the upstream health as it was read before (every record of the last
hour decoded in Python) against the reading now (the hour's latest ``HEALTH_RECORDS``, summed
by PostgreSQL).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_DB", "opencodex_bench_console")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")

DEPLOYMENTS = {  # model -> its deployments (the last of gamma's declares no upstream cost)
    "deepseek-chat": ["deepseek:DEEPSEEK_API_KEY:deepseek-chat"],
    "gpt-4o": ["openai:OPENAI_API_KEY:gpt-4o", "azure:AZURE_KEY:gpt-4o"],
    "qwen-plus": ["dashscope:DASHSCOPE_API_KEY:qwen-plus"],
    "claude-sonnet-4": ["anthropic:ANTHROPIC_API_KEY:claude", "bedrock:AWS_KEY:claude"],
}

# One minute of traffic in one transaction (its own txid, as the rollup expects).
FILL = """
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, upstream_cost, status, error_code,
     latency_ms, ttft_ms, stream, usage_counted, deployment, attempts, created_at)
SELECT %(prefix)s || g, u.id, u.key, d.model,
       10 + g %% 500, 20 + g %% 800, g %% 50, 0, 0, 'chat', c.cost,
       CASE WHEN d.deployment LIKE 'bedrock:%%' THEN NULL ELSE c.cost * 8 / 10 END,
       c.status, '', 100 + g %% 900, 50 + g %% 400, g %% 2 = 0, false, d.deployment,
       CASE WHEN g %% 50 = 0
            THEN jsonb_build_array(jsonb_build_array(d.other, 429, 5 + g %% 20),
                                   jsonb_build_array(d.deployment, c.status, 100 + g %% 900))
            ELSE jsonb_build_array(jsonb_build_array(d.deployment, c.status, 100 + g %% 900))
       END,
       now() - make_interval(secs => %(ago)s + (g::float8 / %(count)s) * %(span)s)
FROM generate_series(1, %(count)s) AS g
CROSS JOIN LATERAL (
    SELECT (%(users)s::bigint[])[CASE WHEN g %% 10 = 0 THEN 1 ELSE 2 + g %% (%(n)s - 1) END]
        AS id,
           (%(keys)s::bigint[])[CASE WHEN g %% 10 = 0 THEN 1 ELSE 2 + g %% (%(n)s - 1) END]
        AS key
) AS u
CROSS JOIN LATERAL (
    SELECT (%(models)s::text[])[1 + g %% 6] AS model,
           (%(deployments)s::text[])[1 + g %% 6] AS deployment,
           (%(deployments)s::text[])[1 + (g + 1) %% 6] AS other
) AS d
CROSS JOIN LATERAL (
    SELECT CASE WHEN g %% 20 = 0 THEN 0 ELSE 1000 + g %% 100000 END AS cost,
           CASE WHEN g %% 20 = 0 THEN 502 ELSE 200 END AS status
) AS c
"""


# --history-days: the rollups of the days before the two hours of records, as dense as this
# traffic makes them (every user, every model, every hour: 1,000 requests a second).
HISTORY = """
INSERT INTO usage_usagehour
    (hour, user_id, key_id, model, requests, errors, prompt_tokens, completion_tokens,
     cached_tokens, cache_write_tokens, cost, upstream_cost, unknown_cost)
SELECT h, k.user_id, k.id, m, 900, 45, 230000, 370000, 22000, 0, 45000000, 36000000,
       CASE WHEN m = 'claude-sonnet-4' THEN 450 ELSE 0 END
FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 hour') AS h
CROSS JOIN keys_apikey AS k
CROSS JOIN unnest(%(models)s::text[]) AS m;
INSERT INTO usage_deploymenthour
    (hour, model, deployment, requests, errors, cost, upstream_cost, unknown_cost)
SELECT h, d.model, d.deployment, 150000, 7500, 7500000000, 6000000000,
       CASE WHEN d.deployment LIKE 'bedrock:%%' THEN 150000 ELSE 0 END
FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 hour') AS h
CROSS JOIN unnest(%(pairs_models)s::text[], %(pairs)s::text[]) AS d (model, deployment);
INSERT INTO usage_usageday (day, user_id, requests, errors, cost, upstream_cost, unknown_cost)
SELECT date_trunc('day', hour, 'UTC'), user_id, sum(requests), sum(errors), sum(cost),
       sum(upstream_cost), sum(unknown_cost)
FROM usage_usagehour WHERE hour <= %(last)s GROUP BY 1, 2
ON CONFLICT (day, user_id) DO UPDATE SET
    requests = usage_usageday.requests + excluded.requests,
    errors = usage_usageday.errors + excluded.errors,
    cost = usage_usageday.cost + excluded.cost,
    upstream_cost = usage_usageday.upstream_cost + excluded.upstream_cost,
    unknown_cost = usage_usageday.unknown_cost + excluded.unknown_cost;
"""


def history(days: int) -> None:
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from apps.staff.selectors import hour_floor
    from apps.usage.models import UsageHour

    last = hour_floor(timezone.now()) - timedelta(hours=3)
    if UsageHour.objects.filter(hour__lte=last).exists():
        print("history already there")
        return
    pairs = [(m, d) for m, ds in DEPLOYMENTS.items() for d in ds]
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            HISTORY,
            {
                "first": last - timedelta(hours=days * 24 - 1),
                "last": last,
                "models": list(DEPLOYMENTS),
                "pairs_models": [m for m, _ in pairs],
                "pairs": [d for _, d in pairs],
            },
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_usagehour")
        cursor.execute("ANALYZE usage_deploymenthour")
        cursor.execute("ANALYZE usage_usageday")
    print(f"history: {days} days of rollups in {time.perf_counter() - start:.0f} s")


def timed(fn, repeat=5):
    """(median ms, result of the last call)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def build(records: int, users: int) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.billing.models import Payment
    from apps.credits.models import Account
    from apps.keys.models import ApiKey
    from apps.usage.partitions import partitions_ensure
    from apps.usage.rollup import rollup_step

    call_command("migrate", verbosity=0)
    partitions_ensure(now=timezone.now() - timedelta(days=31))
    User.objects.bulk_create(
        [User(email=f"u{i}@bench.example") for i in range(users)], batch_size=1000
    )
    people = list(User.objects.order_by("pk"))
    Account.objects.bulk_create(
        [Account(user=u, balance=(i % 97) * 10**9) for i, u in enumerate(people)], batch_size=1000
    )
    ApiKey.objects.bulk_create(
        [
            ApiKey(user=u, name="k", prefix="sk-live-bench", last4="0000", digest=f"b{i:063d}")
            for i, u in enumerate(people)
        ],
        batch_size=1000,
    )
    keys = dict(ApiKey.objects.values_list("user_id", "pk"))
    user_ids = [u.pk for u in people]
    pairs = [(m, d) for m, ds in DEPLOYMENTS.items() for d in ds]
    now = timezone.now()
    methods = [("card", "usd", 1000), ("alipay", "cny", 7200), ("wechat_pay", "cny", 7200)]
    Payment.objects.bulk_create(
        [
            Payment(
                user_id=user_ids[i % len(user_ids)],
                amount_cents=methods[i % 3][2],
                currency=methods[i % 3][1],
                credits=1000 * 10**6,
                payment_method=methods[i % 3][0],
                status=Payment.Status.REFUNDED if i % 40 == 0 else Payment.Status.PAID,
                amount_refunded_cents=methods[i % 3][2] if i % 40 == 0 else 0,
                credits_refunded=1000 * 10**6 if i % 40 == 0 else 0,
                checkout_session_id=f"cs_bench_{i}",
                paid_at=now - timedelta(minutes=3 * i),
            )
            for i in range(15_000)  # 30 days of payments, one every 3 minutes
        ],
        batch_size=2000,
    )
    minute = records // 120
    start = time.perf_counter()
    for m in range(120):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                FILL,
                {
                    "prefix": f"req_{m}_",
                    "count": minute,
                    "ago": (119 - m) * 60 + 60,
                    "span": 60,
                    "users": user_ids,
                    "keys": [keys[u] for u in user_ids],
                    "n": len(user_ids),
                    "models": [m_ for m_, _ in pairs],
                    "deployments": [d for _, d in pairs],
                },
            )
        if m % 20 == 19:
            print(f"  {minute * (m + 1):,} records ({time.perf_counter() - start:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"filled {minute * 120:,} records in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    run = rollup_step()
    print(
        f"rollup caught up: {run.records:,} records, {run.buckets:,} buckets in "
        f"{time.perf_counter() - start:.0f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def baseline() -> None:
    """The reading before: the whole last hour's attempt chains decoded in Python."""
    from apps.usage.selectors import deployment_health_span

    start = time.perf_counter()
    _, span = deployment_health_span(in_python=True, limit=10**9)
    seconds = time.perf_counter() - start
    print(
        f"baseline, upstream health from the whole hour in Python ({span.records:,} records): "
        f"{seconds * 1000:,.0f} ms"
    )
    start = time.perf_counter()
    _, span = deployment_health_span()
    print(
        f"now: the hour's latest {span.records:,} records summed by PostgreSQL: "
        f"{(time.perf_counter() - start) * 1000:,.0f} ms"
    )


def measure() -> None:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from apps.accounts.models import User
    from apps.staff.views import EXPORTS
    from apps.usage.models import DeploymentHour, UsageDay, UsageHour

    staff, _ = User.objects.get_or_create(
        email="staff@bench.example", defaults={"is_staff": True, "is_superuser": True}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(c.reltuples)::bigint FROM pg_inherits i JOIN pg_class c "
            "ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_usagerecord'::regclass"
        )
        estimate = cursor.fetchone()[0]
    print(
        f"\ndata set: ~{estimate:,} usage records, {UsageHour.objects.count():,} UsageHour, "
        f"{DeploymentHour.objects.count():,} DeploymentHour and {UsageDay.objects.count():,} "
        "UsageDay rows"
    )
    client = Client()
    client.force_login(staff)
    pages = {"console": reverse("staff:console")}
    pages.update({f"export {kind}.csv": reverse("staff:export", args=[kind]) for kind in EXPORTS})

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)
        return response

    print("server time, median of 5 (Django test client), target <= 300 ms")
    for name, url in pages.items():
        get(url)
        ms, _ = timed(lambda u=url: get(u))
        print(f"  {name:28} {ms:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=7_200_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep (and reuse) the database")
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="add this many days of dense hourly rollups before the records",
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also time the previous health reading (slow)"
    )
    options = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        fresh = not (options.reuse and exists)
        if fresh:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB_NAME}",
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DEBUG="0",
        ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    if fresh:
        build(options.records, options.users)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # what changed since it was built
        print(f"reusing the database {DB_NAME}")
    if options.history_days:
        history(options.history_days)
    measure()
    if options.baseline:
        baseline()

    from django.db import connection

    connection.close()
    if not options.reuse:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
