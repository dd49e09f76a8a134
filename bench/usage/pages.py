"""The request log's filters and the model browser on the bench data set: server time per page
and the plan PostgreSQL picks for each filter of the log.

    .venv/bin/python bench/usage/pages.py [--records 7200000] [--users 1000] [--keep]

Fills ``--records`` usage records over the last two hours with ``bench/usage/run.py``'s FILL (a
tenth for one heavy user, four models, 5% failed), then a few of the rarer kinds the filters
look for (Anthropic Messages and Responses requests, 429s), and times, for the heavy user with
the Django test client (median of 7): the request log unfiltered and with each filter, its CSV's
first rows, the model browser with and without filters. Target: <= 50 ms each. Then EXPLAINs
each filter's query: every one must read an index of the partitions, never a sequential scan.
"""

import argparse
import os
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.usage.run import FILL, PG, timed  # noqa: E402

DB_NAME = "opencodex_bench_pages"


def arguments(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--records", type=int, default=7_200_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    return parser.parse_args()


def prepare(options: argparse.Namespace) -> tuple:
    """The scratch database with the bench data set (made unless ``--reuse``), Django set up
    on it: (the heavy user, their key, whether it was made now)."""
    minute = options.records // 120

    import psycopg

    if not options.reuse:
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
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.credits.models import Account
    from apps.keys.models import ApiKey
    from apps.keys.services import api_key_create
    from apps.usage.partitions import partitions_ensure
    from apps.usage.rollup import rollup_step

    if not options.reuse:
        call_command("migrate", verbosity=0)
        call_command("sync_catalog", stdout=open(os.devnull, "w"))  # noqa: SIM115
        partitions_ensure(now=timezone.now() - timedelta(days=1))
        User.objects.bulk_create(
            [User(email=f"u{i}@bench.example") for i in range(options.users)], batch_size=1000
        )
        users = list(User.objects.order_by("pk"))
        Account.objects.bulk_create([Account(user=u) for u in users], batch_size=1000)
        api_key_create(user_id=users[0].pk, name="heavy")
        ApiKey.objects.bulk_create(
            [
                ApiKey(user=u, name="k", prefix="sk-live-bench", last4="0000", digest=f"b{i:063d}")
                for i, u in enumerate(users[1:], start=1)
            ],
            batch_size=1000,
        )
        keys = dict(ApiKey.objects.values_list("user_id", "pk"))
        user_ids = [u.pk for u in users]
        key_ids = [keys[u] for u in user_ids]
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for m in range(120):
                cursor.execute(
                    FILL,
                    {
                        "prefix": f"req_p{m}_",
                        "count": minute,
                        "ago": (119 - m) * 60 + 60,
                        "span": 60,
                        "users": user_ids,
                        "keys": key_ids,
                        "n": len(user_ids),
                    },
                )
            # The rarer kinds the filters look for: one request in 500 in another protocol.
            cursor.execute(
                "UPDATE usage_usagerecord SET protocol = CASE WHEN id % 1000 = 0 THEN 'messages' "
                "ELSE 'responses' END, status = CASE WHEN id % 3000 = 0 THEN 429 ELSE status END "
                "WHERE id % 500 = 0"
            )
            cursor.execute("ANALYZE usage_usagerecord")
        print(f"filled {minute * 120:,} records in {time.perf_counter() - start:.0f} s")
        rollup_step()
    heavy = User.objects.order_by("pk").first()
    key = ApiKey.objects.filter(user=heavy).first()
    return heavy, key, not options.reuse


def drop(options: argparse.Namespace) -> None:
    """Drop the scratch database unless ``--keep``."""
    if options.keep:
        return
    import psycopg
    from django.db import connection

    connection.close()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def main() -> None:
    options = arguments(__doc__)
    heavy, key, _ = prepare(options)
    from django.test import Client

    from apps.usage.forms import LogFilterForm
    from apps.usage.selectors import _log_rows, used_models

    total = _log_rows(heavy.pk, LogFilterForm(None, user=heavy, models=[]).log_filter()).count()
    print(f"the heavy user has {total:,} records in the last 7 days")

    log = "/usage/requests/"
    pages = {
        "request log": log,
        "request log, 24 hours": log + "?range=24h",
        "request log, one key": f"{log}?key={key.pk}",
        "request log, one model": log + "?model=qwen-plus",
        "request log, failed": log + "?status=error",
        "request log, 429": log + "?status=429",
        "request log, Anthropic Messages": log + "?protocol=messages",
        "request log, model + failed (htmx)": log + "?model=qwen-plus&status=error",
        "request log CSV, Anthropic Messages": "/usage/requests.csv?protocol=messages",
        "model browser": "/models/",
        "model browser, search + sort (htmx)": "/models/?q=gpt&sort=price",
        "model browser, filters": "/models/?provider=openai&context=128000&protocol=responses",
    }
    client = Client()
    client.force_login(heavy)
    print(
        "\nserver time for the heaviest user, median of 7 (target <= 50 ms); on a busy machine "
        "the CPU time of this process (Django's share, without waiting for PostgreSQL) is the "
        "steadier figure"
    )
    for name, url in pages.items():
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}

        def get(u=url, h=headers):
            response = client.get(u, **h)
            if response.streaming:
                b"".join(response.streaming_content)
            return response

        get()
        cpu_start = time.process_time()
        ms, response = timed(get)
        cpu = (time.process_time() - cpu_start) * 1000 / 7
        assert response.status_code == 200, (url, response.status_code)
        print(f"  {name:40} {ms:7.1f} ms  (this process's CPU: {cpu:5.1f} ms)")

    print("\nplans of the log's filters (the partitions' indexes, no sequential scan)")
    models = used_models(user_id=heavy.pk)
    filters = {
        "none": "",
        "key": f"key={key.pk}",
        "model": "model=qwen-plus",
        "failed": "status=error",
        "model+failed": "model=qwen-plus&status=error",
        "429": "status=429",
        "protocol": "protocol=messages",
    }
    from django.http import QueryDict

    for label, query in filters.items():
        form = LogFilterForm(QueryDict(query) or None, user=heavy, models=models)
        form.is_valid()
        rows = _log_rows(heavy.pk, form.log_filter()).order_by("-created_at", "-id")[:51]
        plan = rows.explain()
        nodes = set()
        for line in plan.splitlines():
            found = re.search(
                r"(Seq Scan|Bitmap Index Scan|Index Scan|Index Only Scan)\b(.*)", line
            )
            if found and "..0.00 " not in line:  # not the empty partitions
                # A partition's index is named after the parent's: the part after its name.
                line = re.sub(r"usage_usagerecord_(p\d+|default)_", "", line)
                index = re.search(r"(?:using|Bitmap Index Scan on) (\S+)", line)
                nodes.add(found.group(1) + (f" {index.group(1)}" if index else ""))
        print(f"  {label:12} {'; '.join(sorted(nodes))}")
        # Empty partitions (yesterday's, the default) cost nothing to scan: "cost=0.00..0.00".
        full = [line for line in plan.splitlines() if "Seq Scan" in line and "..0.00 " not in line]
        assert not full, plan

    drop(options)


if __name__ == "__main__":
    main()
