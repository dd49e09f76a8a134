"""Usage benchmark: the every-minute rollup under sustained traffic, the pages of the heaviest
user, the size of a day, and retention by dropping a partition.

    .venv/bin/python bench/usage/run.py [--records 7200000] [--users 1000]

On a scratch PostgreSQL database (partitioned request table, as migrated):

1. Fills ``--records`` usage records over the last two hours for ``--users`` users (a tenth of
   them for one heavy user), one transaction per minute of traffic, and lets the rollup catch
   up once.
2. The every-minute run: one more minute of traffic (records / 120), then ``rollup_step``
   timed. The baseline, in the same process, is what the rollup did before: recompute the last
   two hours from the raw records (``rollup_rebuild``). Target: <= 2 s.
3. The records double (another two hours' worth, older), and the every-minute run is timed
   again: it should not grow.
4. The request log and the usage page of the heavy user (server time, Django test client).
   Target: <= 100 ms.
5. Size: bytes per record (table and indexes) and ledger rows per day at 1,000 req/s, from
   this fill: an estimate on paper for 86.4M records a day.
6. Retention: a day of old records (a tenth of ``--records``) dropped as a partition, against
   deleting the same number of rows (the baseline).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DB_NAME = "opencodex_bench_usage"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")

# One transaction's worth of traffic: ``count`` records spread over [now - ago - span, now -
# ago), a tenth for the heavy user, the rest over the others (one key each).
FILL = """
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms,
     ttft_ms, stream, usage_counted, created_at, deployment, attempts)
SELECT %(prefix)s || g,
       u.id, u.key,
       (ARRAY['deepseek-chat', 'gpt-4o', 'qwen-plus', 'claude-sonnet-4'])[1 + g %% 4],
       10 + g %% 500, 20 + g %% 800, g %% 50, 0, 0, 'chat', 1000 + g %% 100000,
       CASE WHEN g %% 20 = 0 THEN 502 ELSE 200 END, '', 100 + g %% 900, 50 + g %% 400,
       g %% 2 = 0, false,
       now() - make_interval(secs => %(ago)s + (g::float8 / %(count)s) * %(span)s),
       'bench:BENCH_KEY:upstream-' || g %% 4, '[]'::jsonb
FROM generate_series(1, %(count)s) AS g
CROSS JOIN LATERAL (
    SELECT (%(users)s::bigint[])[CASE WHEN g %% 10 = 0 THEN 1 ELSE 2 + g %% (%(n)s - 1) END]
        AS id,
           (%(keys)s::bigint[])[CASE WHEN g %% 10 = 0 THEN 1 ELSE 2 + g %% (%(n)s - 1) END]
        AS key
) AS u
"""


def timed(fn, repeat=7):
    """(median ms, result of the last call)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=7_200_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    minute = options.records // 120

    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
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
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.credits.models import Account, LedgerEntry
    from apps.keys.models import ApiKey
    from apps.keys.services import api_key_create
    from apps.usage.partitions import partitions_ensure, retention_apply
    from apps.usage.rollup import rollup_rebuild, rollup_step

    call_command("migrate", verbosity=0)
    partitions_ensure(now=timezone.now() - timedelta(days=1))
    User.objects.bulk_create(
        [User(email=f"u{i}@bench.example") for i in range(options.users)], batch_size=1000
    )
    users = list(User.objects.order_by("pk"))
    Account.objects.bulk_create([Account(user=u) for u in users], batch_size=1000)
    heavy = users[0]
    api_key_create(user_id=heavy.pk, name="heavy")
    digests = [f"b{i:063d}" for i in range(1, len(users))]
    ApiKey.objects.bulk_create(
        [
            ApiKey(user=u, name="k", prefix="sk-live-bench", last4="0000", digest=d)
            for u, d in zip(users[1:], digests, strict=True)
        ],
        batch_size=1000,
    )
    keys = dict(ApiKey.objects.values_list("user_id", "pk"))
    user_ids = [u.pk for u in users]
    key_ids = [keys[u] for u in user_ids]

    def fill(count: int, ago: float, span: float, tag: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                FILL,
                {
                    "prefix": f"req_{tag}_",
                    "count": count,
                    "ago": ago,
                    "span": span,
                    "users": user_ids,
                    "keys": key_ids,
                    "n": len(user_ids),
                },
            )

    def fill_hours(offset_minutes: int, tag: str) -> float:
        """Two hours of traffic, a transaction per minute (so each has its own txid)."""
        start = time.perf_counter()
        for m in range(120):
            fill(minute, (offset_minutes + 119 - m) * 60 + 60, 60, f"{tag}{m}")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE usage_usagerecord")
        return time.perf_counter() - start

    seconds = fill_hours(0, "a")
    print(
        f"filled {minute * 120:,} records over the last 2 hours ({options.users:,} users, "
        f"{minute:,} a minute) in {seconds:.0f} s"
    )
    start = time.perf_counter()
    catch_up = rollup_step()
    print(
        f"first run, catching up: {catch_up.records:,} records, {catch_up.buckets:,} buckets, "
        f"{catch_up.postings:,} ledger postings in {time.perf_counter() - start:.1f} s"
    )

    def every_minute(tag: str) -> tuple[float, object]:
        fill(minute, 0, 60, tag)
        start = time.perf_counter()
        run = rollup_step()
        return time.perf_counter() - start, run

    incremental, run = every_minute("m1")
    start = time.perf_counter()
    rollup_rebuild(since=timezone.now() - timedelta(hours=2))
    baseline = time.perf_counter() - start
    print(
        f"\nevery-minute rollup, {run.records:,} new records ({run.buckets:,} buckets, "
        f"{run.postings:,} ledger postings): {incremental:.2f} s  (target <= 2 s)\n"
        f"baseline, the previous rollup (recompute the last 2 hours, "
        f"{minute * 121:,} records): {baseline:.2f} s  -> {baseline / incremental:.0f}x"
    )

    seconds = fill_hours(121, "b")
    rollup_step()
    doubled, run = every_minute("m2")
    total = minute * 242
    print(
        f"records doubled to {total:,} (+{seconds:.0f} s to fill): the every-minute run, "
        f"{run.records:,} new: {doubled:.2f} s  (was {incremental:.2f} s: "
        f"{doubled / incremental:.2f}x)"
    )

    pages = {
        "request log, first page": "/usage/requests/",
        "usage page, 24 hours": "/usage/?range=24h",
        "usage page, 24 hours by key (htmx)": "/usage/?range=24h&group=key",
    }
    client = Client()
    client.force_login(heavy)
    print(f"\nserver time for the heaviest user ({total // 10:,} records), median of 7")
    for name, url in pages.items():
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
        client.get(url, **headers)
        ms, response = timed(lambda u=url, h=headers: client.get(u, **h))
        assert response.status_code == 200, (url, response.status_code)
        print(f"  {name:40} {ms:7.1f} ms  (target <= 100 ms)")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'usage_usagerecord'::regclass"
        )
        size = int(cursor.fetchone()[0])
        cursor.execute("SELECT pg_total_relation_size('credits_ledgerentry')")
        ledger_size = int(cursor.fetchone()[0])
    per_record = size / total
    ledger_rows = LedgerEntry.objects.count()
    per_entry = ledger_size / max(ledger_rows, 1)
    day = 86_400_000
    print(
        f"\nsize: {per_record:.0f} bytes a record with its indexes -> one day at 1,000 req/s "
        f"({day / 1e6:.1f}M records) is {per_record * day / 1e9:.0f} GB; 90 days of retention "
        f"{per_record * day * 90 / 1e12:.1f} TB"
    )
    print(
        f"ledger: {ledger_rows:,} postings for {total + 2 * minute:,} requests; at 1,000 req/s "
        f"from {options.users:,} active accounts, {options.users * 1440:,} ledger rows a day "
        f"({per_entry * options.users * 1440 / 1e6:.0f} MB) instead of {day / 1e6:.1f}M "
        f"({per_entry * day / 1e9:.0f} GB) with one per request"
    )

    old = timezone.now() - timedelta(days=100)
    partitions_ensure(now=old, ahead=0)
    count = options.records // 10
    with connection.cursor() as cursor:
        cursor.execute(
            FILL.replace("now() - make_interval", "%(base)s::timestamptz - make_interval"),
            {
                "prefix": "req_old_",
                "count": count,
                "ago": 0,
                "span": 3600,
                "users": user_ids,
                "keys": key_ids,
                "n": len(user_ids),
                "base": old.replace(hour=12),
            },
        )
    rollup_step()
    start = time.perf_counter()
    result = retention_apply(days=90)
    dropped = time.perf_counter() - start
    with connection.cursor() as cursor:  # the baseline: the same number of rows deleted
        cursor.execute(
            "CREATE TABLE bench_delete AS SELECT * FROM usage_usagerecord_default WHERE false"
        )
        cursor.execute(
            "INSERT INTO bench_delete SELECT * FROM usage_usagerecord ORDER BY created_at LIMIT %s",
            [count],
        )
        cursor.execute("CREATE INDEX ON bench_delete (created_at)")
        cursor.execute("ANALYZE bench_delete")
        start = time.perf_counter()
        cursor.execute("DELETE FROM bench_delete")
        deleted = time.perf_counter() - start
    print(
        f"\nretention: dropping a day of {count:,} records as a partition "
        f"({', '.join(result['dropped'])}): {dropped * 1000:.0f} ms; deleting as many rows: "
        f"{deleted * 1000:.0f} ms -> {deleted / dropped:.0f}x"
    )

    connection.close()
    if not options.keep:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
