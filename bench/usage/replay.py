"""Journal replay benchmark: how long settling a journal of 100,000 outcomes takes, and what it
does to the gateway's latency while it runs.

    .venv/bin/python bench/usage/replay.py [--outcomes 100000] [--accounts 2000]
        [--connections 1,8] [--seconds 10] [--repeat 1] [--pause 1.0] [--pace adaptive]
        [--against ../other-checkout] [--keep]

On a scratch PostgreSQL database (``opencodex_bench_replay`` or ``$BENCH_REPLAY_DB``, dropped
at the end unless ``--keep``) and Redis (``$BENCH_REDIS``, flushed), with nginx as a fixed-answer
upstream and the gateway served by ``make serve`` (2 workers), as bench/gateway/run.py does:

1. Funds ``--accounts`` accounts (the 200 the load uses among them) and, for each replay, takes
   ``--outcomes`` holds over all of them, round robin (a third of the keys have a credit limit,
   so their reservations are settled too), then writes the outcomes of those requests to a
   journal file of their own directory, as a gateway process that died would have left them
   (costs from nothing up to beyond the hold; 2 % failed upstream, charging nothing).
2. Replay alone: ``manage.py journal_recover --dir DIR`` timed from start to exit (process start
   included), the gateway idle, ``--repeat`` times. Target: <= 10 s for 100,000 outcomes.
3. For each ``--connections``: the gateway's p50 under wrk (``--seconds``) without a replay,
   then during one (another journal of the same size; wrk runs while the replay settles), then
   without again. Target: p50 during the replay within 20 % of the mean of the two without.
   ``--repeat N`` does this N times (a journal each) and reports the median ratio: on a shared
   machine, other load comes and goes (a line says so when the two runs without disagree).
4. Checks: every outcome recorded once, the sum of their costs charged, no active hold left,
   and ``manage.py check_ledger`` clean.

``--pause`` is GATEWAY_JOURNAL_PAUSE for the replays (the pause after each batch, as a multiple
of the time the batch took); 0 shows the raw speed. ``--pace`` is GATEWAY_JOURNAL_PACE (adaptive:
that pause only while other connections use the database; fixed: always).

``--against DIR``: another checkout (e.g. ``git worktree add ../old main`` with a ``.venv`` of
its own or linked) whose ``manage.py journal_recover`` replays every other journal, in
alternation with this one's, on the same database and gateway: on a shared machine, whose other
load comes and goes, old and new compared side by side. The gateway is this checkout's.

The journal directories are removed at the end. Needs nginx and wrk (``apt-get install
nginx-light wrk``), PostgreSQL and Redis on 127.0.0.1 (``$BENCH_PG``, ``$BENCH_REDIS``).
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.gateway.run import PY, migrate_and_seed, wait_http, wrk  # noqa: E402

UPSTREAM_PORT, GATEWAY_PORT = 8921, 8923
DB_NAME = os.environ.get("BENCH_REPLAY_DB", "opencodex_bench_replay")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/6")
LOAD_KEYS = 200
HOLD = 1_000_000  # µcr each request held (1 credit)

COMPLETION = (
    '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench",'
    '"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},'
    '"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":10,'
    '"total_tokens":19}}'
)

NGINX = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location = /plain/v1/chat/completions {{
      default_type application/json;
      return 200 '{body}';
    }}
  }}
}}
"""

CATALOG = f"""
[providers.bench-plain]
base_url = "http://127.0.0.1:{UPSTREAM_PORT}/plain/v1"
api_key_env = "BENCH_UPSTREAM_KEY"

[[models]]
id = "bench-plain"
provider = "bench-plain"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
"""

# The holds of one replay's requests, round robin over the accounts, as the gateway takes them.
HOLDS = """
INSERT INTO credits_hold
    (account_id, reference, amount, charged, status, api_key_id, created_at, expires_at)
SELECT (%(accounts)s::bigint[])[1 + g %% %(n)s], %(prefix)s || g, %(amount)s, 0, 'active',
       (%(hold_keys)s::bigint[])[1 + g %% %(n)s], now(), now() + interval '2 hours'
FROM generate_series(0, %(count)s - 1) AS g
"""
HELD = """
UPDATE credits_account AS acc SET held = acc.held + s.total
FROM (SELECT account_id, sum(amount) AS total FROM credits_hold
      WHERE reference LIKE %(like)s GROUP BY account_id) AS s
WHERE acc.id = s.account_id
"""
KEY_HELD = """
UPDATE keys_apikey AS key SET held = key.held + s.total
FROM (SELECT api_key_id, sum(amount) AS total FROM credits_hold
      WHERE reference LIKE %(like)s AND api_key_id IS NOT NULL GROUP BY api_key_id) AS s
WHERE key.id = s.api_key_id
"""


def cost_of(g: int) -> tuple[int, int, str]:
    """(cost, status, error code) of outcome ``g``: mostly a fraction of the hold, 2 % failed
    upstream (nothing charged), 2 % beyond the hold (an overrun)."""
    if g % 50 == 7:
        return 0, 502, "upstream_error"
    if g % 50 == 11:
        return HOLD + 250_000, 200, ""
    return 20_000 + (g * 7919) % 600_000, 200, ""


def funded_accounts(count: int):
    """(account ids, key ids, key id per account when the key has a credit limit else None):
    the load's 200 accounts first, then new ones up to ``count``, each with a key and credits
    granted through the ledger."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.credits.models import Account, LedgerEntry
    from apps.keys.models import ApiKey

    existing = User.objects.count()
    User.objects.bulk_create(
        [User(email=f"replay{i}@bench.example") for i in range(max(0, count - existing))],
        batch_size=2000,
    )
    fresh = list(User.objects.filter(credit_account__isnull=True).order_by("pk"))
    grant = 1_000_000 * 1_000_000  # a million credits each
    accounts = Account.objects.bulk_create(
        [Account(user=u, balance=grant) for u in fresh], batch_size=2000
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                account=a,
                amount=grant,
                balance_after=grant,
                kind="adjustment",
                reference=f"bench-fund:{a.pk}",
                memo="bench",
            )
            for a in accounts
        ],
        batch_size=2000,
    )
    ApiKey.objects.bulk_create(
        [
            ApiKey(
                user=u,
                name="replay",
                prefix="sk-live-rply",
                last4="0000",
                digest=f"r{u.pk:063d}",
                credit_limit=(10**15 if i % 3 == 0 else None),
            )
            for i, u in enumerate(fresh)
        ],
        batch_size=2000,
    )
    rows = list(
        Account.objects.order_by("pk").values_list("pk", "user_id")[:count]
    )  # the load's accounts were created first
    keys = {}
    for user_id, key_id, limit in ApiKey.objects.order_by("pk").values_list(
        "user_id", "pk", "credit_limit"
    ):
        keys.setdefault(user_id, (key_id, limit))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    account_ids = [pk for pk, _ in rows]
    key_ids = [keys[user_id][0] for _, user_id in rows]
    hold_keys = [keys[user_id][0] if keys[user_id][1] else None for _, user_id in rows]
    users = [user_id for _, user_id in rows]
    return account_ids, users, key_ids, hold_keys


def prepare_replay(tag: str, count: int, accounts, directory: Path) -> int:
    """Holds for ``count`` requests and the journal of their outcomes in ``directory``, as a
    dead gateway process left them. Returns the µcr they cost."""
    from django.db import connection
    from django.utils import timezone

    from apps.core.installation import installation_identity
    from apps.usage.journal import Journal
    from apps.usage.services import RequestOutcome

    account_ids, users, key_ids, hold_keys = accounts
    n = len(account_ids)
    prefix = f"req_{tag}_"
    with connection.cursor() as cursor:
        cursor.execute(
            HOLDS,
            {
                "accounts": account_ids,
                "hold_keys": hold_keys,
                "n": n,
                "prefix": prefix,
                "amount": HOLD,
                "count": count,
            },
        )
        cursor.execute(HELD, {"like": prefix + "%"})
        cursor.execute(KEY_HELD, {"like": prefix + "%"})
    journal = Journal(directory, identity=installation_identity())
    start, total = timezone.now(), 0
    for g in range(count):
        cost, status, error = cost_of(g)
        total += cost
        journal.write(
            RequestOutcome(
                request_id=f"{prefix}{g}",
                user_id=users[g % n],
                api_key_id=key_ids[g % n],
                model="bench-plain",
                status=status,
                created_at=start,
                prompt_tokens=9,
                completion_tokens=10 if status == 200 else 0,
                cost=cost,
                error_code=error,
                latency_ms=40,
                ttft_ms=40,
                deployment="bench-plain:BENCH_UPSTREAM_KEY:bench-plain",
                attempts=[["bench-plain:BENCH_UPSTREAM_KEY:bench-plain", status, 40]],
            )
        )
    journal.close()
    return total


def settling_started() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND datname = current_database() AND (query LIKE %s OR query LIKE %s)",
            ["%ocx_replay_batch%", "%json_to_recordset%"],  # this checkout's, or an older one's
        )
        return cursor.fetchone() is not None


def replay(directory: Path, env: dict, root: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        [str(root / ".venv/bin/python"), "manage.py", "journal_recover", "--dir", str(directory)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=600)
    if proc.returncode:
        raise SystemExit(f"journal_recover failed:\n{err[-3000:]}")
    return out.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outcomes", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--connections", default="1,8", help="wrk connections, comma-separated")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="replays under load per level")
    parser.add_argument("--pause", type=float, default=None, help="GATEWAY_JOURNAL_PAUSE")
    parser.add_argument("--pace", choices=["adaptive", "fixed"], help="GATEWAY_JOURNAL_PACE")
    parser.add_argument(
        "--against", type=Path, help="another checkout replaying every other journal"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    levels = [int(c) for c in options.connections.split(",") if int(c) > 0]  # 0: alone only
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed: apt-get install nginx-light wrk")

    work = Path(tempfile.mkdtemp(prefix="ocx-bench-replay-"))
    (work / "body").mkdir()
    (work / "nginx.conf").write_text(NGINX.format(work=work, port=UPSTREAM_PORT, body=COMPLETION))
    (work / "catalog.toml").write_text(CATALOG)
    keys_file = work / "keys.txt"

    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(["redis-cli", "-u", REDIS, "FLUSHDB"], check=True, capture_output=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS,
        "OPENCODEX_CATALOG": str(work / "catalog.toml"),
        "BENCH_UPSTREAM_KEY": "bench",
        "WEB_CONCURRENCY": "2",
        "PORT": str(GATEWAY_PORT),
        "LOG_LEVEL": "WARNING",
        "API_MAX_RPM": "100000",
        "GATEWAY_JOURNAL_DIR": str(work / "gateway-journal"),  # the gateway's own
    }
    replay_env = dict(env)
    if options.pause is not None:
        replay_env["GATEWAY_JOURNAL_PAUSE"] = str(options.pause)
    if options.pace is not None:
        replay_env["GATEWAY_JOURNAL_PACE"] = options.pace
    checkouts = {"this": ROOT}
    if options.against:
        checkouts["against"] = options.against.resolve()
        if not (checkouts["against"] / "manage.py").exists():
            raise SystemExit(f"{options.against} is not a checkout")
    os.environ.update({k: v for k, v in env.items() if k not in ("PORT",)})
    procs = []
    results = {}
    try:
        nginx = ["/usr/sbin/nginx", "-c", str(work / "nginx.conf"), "-p", str(work)]
        procs.append(subprocess.Popen([*nginx, "-g", "daemon off;"]))
        migrate_and_seed(env, keys_file, LOAD_KEYS)

        import django

        django.setup()
        from django.db import connection

        started = time.perf_counter()
        accounts = funded_accounts(options.accounts)
        expected = {}
        alone_tags = [f"ra{k[0]}x{r}" for r in range(options.repeat) for k in checkouts]
        tags = [
            f"rb{c}{k[0]}x{r}" for c in levels for r in range(options.repeat) for k in checkouts
        ]
        for tag in [*alone_tags, *tags]:
            expected[tag] = prepare_replay(tag, options.outcomes, accounts, work / tag)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"{len(accounts[0]):,} funded accounts; {len(expected)} journals of "
            f"{options.outcomes:,} outcomes with their holds, in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        connection.close()

        procs.append(
            subprocess.Popen(
                ["make", "serve"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
            )
        )
        wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/healthz")
        url = f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions"
        body = {
            "model": "bench-plain",
            "messages": [{"role": "user", "content": "Hello!"}],
            "max_tokens": 64,
        }
        wrk(url, keys_file, body, 8, 2)  # warm up pools and caches

        # Replay alone, the gateway idle; with --against, the two checkouts in alternation.
        alone = {name: [] for name in checkouts}
        settling = 10.0
        for r in range(options.repeat):
            for name, root in checkouts.items():
                began = time.perf_counter()
                proc = replay(work / f"ra{name[0]}x{r}", replay_env, root)
                while proc.poll() is None and not settling_started():
                    time.sleep(0.02)
                settling_began = time.perf_counter()
                line = finished(proc)
                took = time.perf_counter() - began
                settling = time.perf_counter() - settling_began
                alone[name].append(took)
                print(
                    f"\nreplay alone ({name}: {root}): {options.outcomes:,} outcomes in "
                    f"{took:.2f} s ({options.outcomes / took:,.0f}/s; settling {settling:.2f} s "
                    f"of it, the rest the command starting and reading the file)  [{line}]  "
                    f"(target <= 10 s)",
                    flush=True,
                )
        results["alone"] = alone

        for c in levels:
            ratios = {name: [] for name in checkouts}
            for r in range(options.repeat):
                for name, root in checkouts.items():
                    before = wrk(url, keys_file, body, c, options.seconds)
                    began = time.perf_counter()
                    proc = replay(work / f"rb{c}{name[0]}x{r}", replay_env, root)
                    while proc.poll() is None and not settling_started():
                        time.sleep(0.02)
                    # wrk measures while the replay settles (about as long as it did alone).
                    seconds = max(1, int(statistics.median(alone[name]) * 0.9))
                    during = wrk(url, keys_file, body, c, seconds)
                    line = finished(proc)
                    loaded = time.perf_counter() - began
                    after = wrk(url, keys_file, body, c, options.seconds)
                    base = (before["p50_us"] + after["p50_us"]) / 2
                    ratios[name].append(during["p50_us"] / base)
                    noisy = abs(before["p50_us"] - after["p50_us"]) > 0.2 * base
                    print(
                        f"c={c:<3} ({name}) p50 without a replay {before['p50_us'] / 1000:.2f} ms "
                        f"(before) {after['p50_us'] / 1000:.2f} ms (after); during it "
                        f"{during['p50_us'] / 1000:.2f} ms -> {ratios[name][-1]:.2f}x  "
                        f"(target <= 1.20x)"
                        f"{'  NOISY: the runs without disagree by > 20 %' if noisy else ''}\n"
                        f"      req/s {before['rps']:.0f} / {after['rps']:.0f} without, "
                        f"{during['rps']:.0f} during; p99 {before['p99_us'] / 1000:.1f} / "
                        f"{after['p99_us'] / 1000:.1f} ms without, "
                        f"{during['p99_us'] / 1000:.1f} ms during; non-2xx {during['non2xx']}; "
                        f"the replay under load took {loaded:.2f} s  [{line}]",
                        flush=True,
                    )
            results[c] = ratios

        time.sleep(2)  # the gateway's last settlements
        with connection.cursor() as cursor:
            for tag, total in expected.items():
                cursor.execute(
                    "SELECT count(*), count(DISTINCT request_id), coalesce(sum(cost), 0) "
                    "FROM usage_usagerecord WHERE request_id LIKE %s",
                    [f"req_{tag}_%"],
                )
                records, distinct, charged = cursor.fetchone()
                cursor.execute(
                    "SELECT count(*) FROM credits_hold WHERE status = 'active' "
                    "AND reference LIKE %s",
                    [f"req_{tag}_%"],
                )
                active = cursor.fetchone()[0]
                print(
                    f"journal {tag}: {records:,} records ({distinct:,} requests), charged "
                    f"{charged:,} µcr of {total:,} expected, {active} holds still active"
                    + ("" if (records, distinct, charged, active)
                       == (options.outcomes, options.outcomes, total, 0) else "  <-- WRONG")
                )  # fmt: skip
        connection.close()
        check = subprocess.run(
            [PY, "manage.py", "check_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        print(f"check_ledger: {(check.stdout + check.stderr).strip().splitlines()[-1]}")
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)  # the journals with it
        if not options.keep:
            with (
                contextlib.suppress(Exception),
                psycopg.connect(f"{PG}/postgres", autocommit=True) as conn,
            ):
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    if results:
        print()
        for name, root in checkouts.items():
            times = sorted(results["alone"][name])
            print(
                f"Summary ({name}: {root}): {options.outcomes:,} outcomes replayed in "
                f"{statistics.median(times):.2f} s (median of {len(times)}: "
                + ", ".join(f"{t:.2f}" for t in times)
                + "; target <= 10 s); gateway p50 during a replay / without: "
                + ", ".join(
                    f"c={c} {statistics.median(results[c][name]):.2f}x ("
                    + ", ".join(f"{x:.2f}" for x in sorted(results[c][name]))
                    + ")"
                    for c in levels
                    if c in results
                )
                + " (target <= 1.20x, median)"
            )


if __name__ == "__main__":
    main()
