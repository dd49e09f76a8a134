"""Usage benchmark: the rollup of a million records and the usage pages over 90 days.

    .venv/bin/python bench/usage/run.py [--records 1000000]

Fills a scratch PostgreSQL database with N usage records for one account spread over 90 days
(plus a fifth as many for two other accounts), runs the rollup and times it, then times the
usage page, its chart data (the htmx fragment) and the first request-log page, and counts their
queries. The baseline is the same pages for an account with no usage, in the same process:
the ratio shows how much the pages grow with a million records. Targets: the rollup in at most
30 s; each page at most 100 ms of server time; query counts that do not grow.
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

FILL = """
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cost, status,
     error_code, latency_ms, stream, usage_counted, created_at)
SELECT %(prefix)s || g, %(user)s, (%(keys)s::bigint[])[1 + g %% 3],
       (ARRAY['deepseek-chat', 'gpt-4o', 'qwen-plus', 'claude-3-sonnet'])[1 + g %% 4],
       10 + g %% 500, 20 + g %% 800, 1000 + g %% 100000,
       CASE WHEN g %% 20 = 0 THEN 502 ELSE 200 END, '', 100 + g %% 900, g %% 2 = 0, false,
       now() - make_interval(secs => g * %(spacing)s)
FROM generate_series(1, %(count)s) AS g
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
    parser.add_argument("--records", type=int, default=1_000_000)
    options = parser.parse_args()

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

    from apps.accounts.services import user_get_or_create_verified
    from apps.keys.services import api_key_create
    from apps.usage.services import usage_rollup

    call_command("migrate", verbosity=0)
    users = []
    for email in ("heavy@example.com", "other1@example.com", "other2@example.com", "empty@ex.com"):
        user, _ = user_get_or_create_verified(email=email)
        keys = [api_key_create(user_id=user.pk, name=f"k{i}")[0].pk for i in range(3)]
        users.append((user, keys))
    span = 90 * 24 * 3600
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for index, (user, keys) in enumerate(users[:3]):
            count = options.records if index == 0 else options.records // 10
            cursor.execute(
                FILL,
                {
                    "prefix": f"req_bench_{index}_",
                    "user": user.pk,
                    "keys": keys,
                    "count": count,
                    "spacing": span / count,
                },
            )
        cursor.execute("ANALYZE")
    fill = time.perf_counter() - start
    total = options.records + 2 * (options.records // 10)
    print(f"filled {total:,} usage records ({options.records:,} for one account) in {fill:.1f} s")

    start = time.perf_counter()
    buckets = usage_rollup(since=timezone.now() - timedelta(days=91))
    rollup = time.perf_counter() - start
    print(f"rollup of 90 days: {buckets:,} hourly buckets in {rollup:.2f} s  (target <= 30 s)")
    start = time.perf_counter()
    usage_rollup(since=timezone.now() - timedelta(hours=2))
    print(f"the every-minute rollup of the last 2 hours: {time.perf_counter() - start:.3f} s")

    pages = {
        "usage page, 90 days": "/usage/?range=90d",
        "chart data (htmx fragment), 90 days by key": "/usage/?range=90d&group=key",
        "request log, first page": "/usage/requests/",
    }
    results = {}
    for label, (user, _) in (("heavy", users[0]), ("baseline", users[3])):
        client = Client()
        client.force_login(user)
        for name, url in pages.items():
            headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
            client.get(url, **headers)  # warm
            executed = []

            def count(execute, sql, params, many, context, executed=executed):
                executed.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                client.get(url, **headers)
            ms, response = timed(lambda c=client, u=url, h=headers: c.get(u, **h))
            assert response.status_code == 200, (url, response.status_code)
            results[(label, name)] = (ms, len(executed))
    print("\nserver time (median of 7, in-process Django test client), queries")
    for name in pages:
        heavy, base = results[("heavy", name)], results[("baseline", name)]
        print(
            f"  {name:44} {heavy[0]:7.1f} ms {heavy[1]:3d} queries   empty account "
            f"{base[0]:6.1f} ms {base[1]:3d} queries   ratio {heavy[0] / base[0]:.2f}x"
        )
    print("targets: <= 100 ms each; the same query count with 1M records as with none")

    connection.close()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
