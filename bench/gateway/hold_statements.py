"""What each kind of key costs the fast path's hold statement, in the database alone.

    .venv/bin/python bench/gateway/hold_statements.py [ROUNDS]

Runs the four variants of ``apps.gateway.pg.hold_sql`` (a key without limits, with a credit or
spend limit, sharing a member's spend cap, both) in alternating rounds on the database that
``bench/gateway/run.py`` seeded (``BENCH_DB``, ``BENCH_PG``: its keys ``bench-guarded``,
``bench-capped`` and ``bench-guarded-capped``), each hold rolled back, and prints the median
time of one statement. Alternating rounds keep a busy machine's drift out of the comparison.
"""

import datetime
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import django

os.environ["DATABASE_URL"] = (
    os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    + "/"
    + os.environ.get("BENCH_DB", "opencodex_bench")
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
django.setup()

import psycopg  # noqa: E402

from apps.credits.models import month_of  # noqa: E402
from apps.gateway.pg import HOLDS, conninfo  # noqa: E402
from apps.keys.windows import starts  # noqa: E402

CASES = {  # name: (key, limited, capped)
    "no limits": ("bench-guarded", False, False),
    "key limits": ("bench-guarded", True, False),
    "member cap": ("bench-capped", False, True),
    "key limits + cap": ("bench-guarded-capped", True, True),
}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    conn = psycopg.connect(conninfo(), autocommit=True)
    keys = {
        name: (key_id, cap_id, account_id)
        for key_id, name, cap_id, account_id in conn.execute(
            "SELECT k.id, k.name, k.spend_cap_id, a.id FROM keys_apikey AS k "
            "JOIN credits_account AS a ON a.user_id = k.user_id WHERE k.name LIKE 'bench-%'"
        )
    }
    now = datetime.datetime.now(datetime.UTC)
    windows = starts("UTC", now)
    times = {case: [] for case in CASES}
    for _ in range(rounds):
        for case, (name, limited, capped) in CASES.items():
            key_id, cap_id, account_id = keys[name]
            params = {
                "amount": 1000,
                "account_id": account_id,
                "key_id": key_id,
                "api_key_id": key_id if limited else None,
                "cap_id": cap_id if capped else None,
                "reference": f"bench_hold_{uuid.uuid4().hex}",
                "now": now,
                "month": month_of(now),
                "expires_at": now + datetime.timedelta(minutes=5),
                "day": windows.day,
                "week": windows.week,
                "month_start": windows.month,
            }
            with conn.transaction(force_rollback=True):
                started = time.perf_counter()
                conn.execute(HOLDS[limited, capped], params).fetchone()
                times[case].append(time.perf_counter() - started)
    base = statistics.median(times["no limits"])
    for case, values in times.items():
        median = statistics.median(values)
        print(f"{case:17} median {median * 1e6:6.0f} us  ({(median - base) * 1e6:+5.0f} us)")


if __name__ == "__main__":
    main()
