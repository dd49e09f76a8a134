"""Gateway benchmark: how much the full gateway adds over the upstream and over a bare
pass-through, on this machine.

    .venv/bin/python bench/gateway/run.py [--seconds 10] [--quick] [--guardrails-only]

Starts nginx as a fixed-answer upstream on loopback, a bare Starlette pass-through (baseline)
and the gateway with `make serve` (uvicorn, $WEB_CONCURRENCY=2 workers, PostgreSQL and Redis),
then drives each with wrk and prints req/s and p50/p99 latency, the ratios, and a check that
every successful gateway request was held, settled and recorded. Needs nginx and wrk
(`apt-get install nginx-light wrk`), PostgreSQL and Redis on 127.0.0.1. `BENCH_JOURNAL=""` runs
the gateway without its settlement journal (to see what the journal costs).

The same run compares, at c=1, one key with every guardrail set (expiry, credit limit, a daily
spend limit, requests and tokens per minute, allowed models, allowed IP addresses), one sharing
an organization member's spend cap (a monthly limit and allowed models), and one with both, with
one key of the same account with none, in alternating rounds (`--guardrails-only` runs just
that).
`BENCH_DB`, `BENCH_PORT_BASE` (8901: upstream, +1 pass-through, +2 gateway), `BENCH_PG` and
`BENCH_REDIS` (its database is flushed) keep runs from different checkouts apart.
"""

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "8901"))
UPSTREAM_PORT, PASSTHROUGH_PORT, GATEWAY_PORT = PORT_BASE, PORT_BASE + 1, PORT_BASE + 2
DB_NAME = os.environ.get("BENCH_DB", "opencodex_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5")
KEYS = 200

COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 10, "total_tokens": 19},
}


def sse_body() -> str:
    events = []
    for word in ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]:
        events.append(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": "bench",
                "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
            }
        )
    events.append({**events[0], "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**events[0], "choices": [], "usage": COMPLETION["usage"]})
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def nginx_conf(workdir: Path) -> str:
    def quoted(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/body;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{UPSTREAM_PORT};
    location = /plain/v1/chat/completions {{
      default_type application/json;
      return 200 {quoted(json.dumps(COMPLETION))};
    }}
    location = /stream/v1/chat/completions {{
      default_type text/event-stream;
      return 200 {quoted(sse_body())};
    }}
  }}
}}
"""


CATALOG = f"""
[providers.bench-plain]
base_url = "http://127.0.0.1:{UPSTREAM_PORT}/plain/v1"
api_key_env = "BENCH_UPSTREAM_KEY"

[providers.bench-stream]
base_url = "http://127.0.0.1:{UPSTREAM_PORT}/stream/v1"
api_key_env = "BENCH_UPSTREAM_KEY"

[[models]]
id = "bench-plain"
provider = "bench-plain"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[[models]]
id = "bench-stream"
provider = "bench-stream"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
"""

SETUP = """
import sys
from datetime import timedelta
from django.utils import timezone
from apps.accounts.services import user_get_or_create_verified
from apps.core.money import MICRO
from apps.credits.services import credits_adjust, spend_cap_create
from apps.keys.services import api_key_create
out = open(sys.argv[1], "w")
for i in range(int(sys.argv[2])):
    user, _ = user_get_or_create_verified(email=f"bench{i}@example.com")
    credits_adjust(user_id=user.pk, amount=1_000_000 * MICRO, reason="bench", actor_id=None)
    _, secret = api_key_create(user_id=user.pk, name="bench", rpm_limit=100_000)
    out.write(secret + "\\n")
    if i == 0 and len(sys.argv) > 3:  # beside the first key, on its account: every guardrail
        _, guarded = api_key_create(
            user_id=user.pk,
            name="bench-guarded",
            expires_at=timezone.now() + timedelta(days=30),
            credit_limit=500_000 * MICRO,
            rpm_limit=100_000,
            tpm_limit=100_000_000,
            spend_limit=500_000 * MICRO,
            spend_window="day",
            allowed_models=["bench-plain", "bench-stream"],
            allowed_ips=["127.0.0.1", "::1"],
        )
        open(sys.argv[3], "w").write(guarded + "\\n")
    if i == 0 and len(sys.argv) > 5:  # and keys sharing a member's spend cap (issue #21)
        cap = spend_cap_create(
            user_id=user.pk,
            monthly_limit=500_000 * MICRO,
            allowed_models=["bench-plain", "bench-stream"],
        )
        _, capped = api_key_create(
            user_id=user.pk, name="bench-capped", rpm_limit=100_000, spend_cap_id=cap.pk
        )
        open(sys.argv[4], "w").write(capped + "\\n")
        _, both = api_key_create(
            user_id=user.pk,
            name="bench-guarded-capped",
            expires_at=timezone.now() + timedelta(days=30),
            credit_limit=500_000 * MICRO,
            rpm_limit=100_000,
            tpm_limit=100_000_000,
            spend_limit=500_000 * MICRO,
            spend_window="day",
            allowed_models=["bench-plain", "bench-stream"],
            allowed_ips=["127.0.0.1", "::1"],
            spend_cap_id=cap.pk,
        )
        open(sys.argv[5], "w").write(both + "\\n")
    if i == 0 and len(sys.argv) > 6:  # the checks alone: no credit or spend limit to hold on
        _, checks = api_key_create(
            user_id=user.pk,
            name="bench-checks",
            expires_at=timezone.now() + timedelta(days=30),
            rpm_limit=100_000,
            tpm_limit=100_000_000,
            allowed_models=["bench-plain", "bench-stream"],
            allowed_ips=["127.0.0.1", "::1"],
        )
        open(sys.argv[6], "w").write(checks + "\\n")
out.close()
"""

VERIFY = """
import json
from apps.credits.models import Hold
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageRecord
print(json.dumps({
    "records": UsageRecord.objects.count(),
    "ok_records": UsageRecord.objects.filter(status=200).count(),
    "active_holds": Hold.objects.filter(status="active").count(),
    "settled_holds": Hold.objects.filter(status="settled").count(),
    "ledger_problems": len(ledger_problems()),
}))
"""


SEED_SCRIPT = "import django, sys; django.setup(); exec(sys.stdin.read())"


def migrate_and_seed(
    env: dict,
    keys_file: Path,
    count: int,
    guarded_file: Path | None = None,
    capped_files: tuple[Path, Path] | None = None,
    checks_file: Path | None = None,
) -> None:
    """Migrate the scratch database and write ``count`` funded accounts' keys to a file (and,
    with ``guarded_file``, a key with every guardrail on the first account to that one; with
    ``capped_files``, a key sharing a member's spend cap, and one with every guardrail and that
    cap, to those two; with ``checks_file``, a key with the checks alone: models, addresses,
    expiry, requests and tokens per minute, no credit or spend limit)."""
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    extra = [str(guarded_file)] if guarded_file else []
    if guarded_file and capped_files:
        extra += [str(path) for path in capped_files]
        if checks_file:
            extra.append(str(checks_file))
    subprocess.run(
        [PY, "-c", SEED_SCRIPT, str(keys_file), str(count), *extra],
        input=SETUP,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )


def fresh_environment(db_name: str, redis: str, catalog: Path) -> dict:
    """A new, empty bench database and Redis database, and the production environment of a
    gateway on them with ``catalog``."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")
    subprocess.run(["redis-cli", "-u", redis, "FLUSHDB"], check=True, capture_output=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"{PG}/{db_name}",
        "REDIS_URL": redis,
        "OPENCODEX_CATALOG": str(catalog),
        "DEMO_STREAM_DELAY_MS": "0",  # a demo model, if one answers, at full speed
    }


def stop_all(procs: list) -> None:
    """Stop the processes (each with its process group), the last started first."""
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


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback only)
                return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def wrk(url: str, keys_file: Path, body: dict, connections: int, seconds: int) -> dict:
    env = {**os.environ, "BENCH_KEYS": str(keys_file), "BENCH_BODY": json.dumps(body)}
    threads = min(2, connections)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s"]
    args += [str(Path(__file__).with_name("load.lua")), url]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3-second runs")
    parser.add_argument(
        "--guardrails-only",
        action="store_true",
        help="only compare a key with every guardrail against one with none, at c=1",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of the guardrails comparison"
    )
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="set everything up, print the URLs and key files, and wait (for profiling)",
    )
    options = parser.parse_args()
    seconds = 3 if options.quick else options.seconds
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed: apt-get install nginx-light wrk")

    work = Path(tempfile.mkdtemp(prefix="ocx-bench-"))
    (work / "body").mkdir()
    (work / "nginx.conf").write_text(nginx_conf(work))
    (work / "catalog.toml").write_text(CATALOG)
    keys_file, one_key = work / "keys.txt", work / "one-key.txt"
    guarded_key = work / "guarded-key.txt"
    capped_key, guarded_capped_key = work / "capped-key.txt", work / "guarded-capped-key.txt"
    checks_key = work / "checks-key.txt"

    env = {
        **fresh_environment(DB_NAME, REDIS, work / "catalog.toml"),
        "BENCH_UPSTREAM_KEY": "bench",
        "BENCH_UPSTREAM": f"http://127.0.0.1:{UPSTREAM_PORT}",
        "WEB_CONCURRENCY": "2",
        "PORT": str(GATEWAY_PORT),
        "LOG_LEVEL": "WARNING",
        # The bench keys run 1,000+ requests a second; the journal is this run's own (its
        # database is new).
        "API_MAX_RPM": "100000",
        "GATEWAY_JOURNAL_DIR": os.environ.get("BENCH_JOURNAL", str(work / "journal")),
    }
    procs = []
    try:
        nginx = ["/usr/sbin/nginx", "-c", str(work / "nginx.conf"), "-p", str(work)]
        procs.append(subprocess.Popen([*nginx, "-g", "daemon off;"]))
        migrate_and_seed(
            env, keys_file, KEYS, guarded_key, (capped_key, guarded_capped_key), checks_key
        )
        one_key.write_text(keys_file.read_text().splitlines()[0] + "\n")
        procs.append(
            subprocess.Popen(
                ["make", "serve"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/uvicorn"),
                    "bench.gateway.passthrough:app",
                    "--port",
                    str(PASSTHROUGH_PORT),
                    "--workers",
                    "2",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )
        )
        wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/healthz")
        time.sleep(1)
        if options.serve_only:
            print(
                f"gateway http://127.0.0.1:{GATEWAY_PORT}/api/v1  pass-through "
                f"http://127.0.0.1:{PASSTHROUGH_PORT}/v1  upstream http://127.0.0.1:{UPSTREAM_PORT}"
                f"\nkeys {keys_file} and {one_key}; Ctrl-C (or SIGTERM) stops",
                flush=True,
            )
            # A background job ignores SIGINT: SIGTERM stops it the same way (and tidies up).
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
            return

        plain = {
            "model": "bench-plain",
            "messages": [{"role": "user", "content": "Hello!"}],
            "max_tokens": 64,
        }
        stream = {**plain, "model": "bench-stream", "stream": True}
        messages = {**stream, "model": "bench-stream"}  # a Messages body: the same fields
        responses = {
            "model": "bench-stream",
            "input": "Hello!",
            "max_output_tokens": 64,
            "stream": True,
        }
        direct = f"http://127.0.0.1:{UPSTREAM_PORT}"
        targets = [
            ("upstream direct", "plain", f"{direct}/plain/v1/chat/completions", keys_file, plain),
            (
                "pass-through",
                "plain",
                f"http://127.0.0.1:{PASSTHROUGH_PORT}/v1/chat/completions",
                keys_file,
                plain,
            ),
            (
                "gateway, 200 keys",
                "plain",
                f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions",
                keys_file,
                plain,
            ),
            (
                "gateway, 1 key",
                "plain",
                f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions",
                one_key,
                plain,
            ),
            (
                "upstream direct",
                "stream",
                f"{direct}/stream/v1/chat/completions",
                keys_file,
                stream,
            ),
            (
                "pass-through",
                "stream",
                f"http://127.0.0.1:{PASSTHROUGH_PORT}/v1/chat/completions",
                keys_file,
                stream,
            ),
            (
                "gateway, 200 keys",
                "stream",
                f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions",
                keys_file,
                stream,
            ),
            (
                "gateway, 1 key",
                "stream",
                f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions",
                one_key,
                stream,
            ),
            (
                "gateway, 200 keys",
                "messages",
                f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/messages",
                keys_file,
                messages,
            ),
            (
                "gateway, 200 keys",
                "responses",
                f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/responses",
                keys_file,
                responses,
            ),
        ]
        results = []
        gateway_ok = gateway_runs = 0
        for name, _, url, keys, body in targets[:4]:  # warm up pools and caches
            figures = wrk(url, keys, body, 8, 1)
            if name.startswith("gateway"):
                gateway_ok += figures["requests"] - figures["non2xx"]
                gateway_runs += 1
        guardrails = {}
        chat_url = f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions"
        for kind, body in (("plain", plain), ("stream", stream)):
            for warm in (guarded_key, capped_key, guarded_capped_key, checks_key):
                wrk(chat_url, warm, body, 1, 1)  # its facts cached, its pools warm
            for _ in range(options.rounds):  # alternating: drift on a shared machine hits all
                for name, keys in (
                    ("no guardrails", one_key),
                    ("checks only", checks_key),
                    ("every guardrail", guarded_key),
                    ("member cap", capped_key),
                    ("every + cap", guarded_capped_key),
                ):
                    figures = wrk(chat_url, keys, body, 1, seconds)
                    guardrails.setdefault((kind, name), []).append(figures)
                    gateway_ok += figures["requests"] - figures["non2xx"]
                    gateway_runs += 1
                    print(
                        f"{kind:9} 1 key, {name:15} c=1   {figures['rps']:9.0f} req/s  "
                        f"p50 {figures['p50_us'] / 1000:7.3f} ms  p99 "
                        f"{figures['p99_us'] / 1000:7.2f} ms  non-2xx {figures['non2xx']}",
                        flush=True,
                    )
        if options.guardrails_only:
            targets = []
        for name, kind, url, keys, body in targets:
            for connections in (1, 32):
                if connections == 1 and name == "gateway, 1 key":
                    continue  # one connection uses one key anyway: same as the 200-key run
                figures = wrk(url, keys, body, connections, seconds)
                results.append((name, kind, connections, figures))
                if name.startswith("gateway"):
                    gateway_ok += figures["requests"] - figures["non2xx"]
                    gateway_runs += 1
                p50, p99 = figures["p50_us"] / 1000, figures["p99_us"] / 1000
                print(
                    f"{kind:9} {name:18} c={connections:<3} {figures['rps']:9.0f} req/s  "
                    f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  non-2xx {figures['non2xx']}  "
                    f"socket errors {figures['socket_errors']}",
                    flush=True,
                )
        time.sleep(3)  # let the last settlements land
        check = subprocess.run(
            [PY, "manage.py", "shell", "-c", VERIFY],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        verify = json.loads(check.stdout.strip().splitlines()[-1])
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)

    def get(name, kind, connections):
        return next(f for n, k, c, f in results if (n, k, c) == (name, kind, connections))

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    print("\nGuardrails (target: <= 30 us added at c=1; medians of the rounds' p50s)")
    for kind in ("plain", "stream"):
        none = median([f["p50_us"] for f in guardrails[(kind, "no guardrails")]])
        every = median([f["p50_us"] for f in guardrails[(kind, "every guardrail")]])
        errors = sum(f["non2xx"] for runs in guardrails.values() for f in runs)
        cap = median([f["p50_us"] for f in guardrails[(kind, "member cap")]])
        both = median([f["p50_us"] for f in guardrails[(kind, "every + cap")]])
        checks = median([f["p50_us"] for f in guardrails[(kind, "checks only")]])
        print(
            f"{kind:6}: {checks} us with the checks alone (models, addresses, expiry, rpm, tpm):"
            f" {checks - none:+d} us"
        )
        print(
            f"{kind:6}: p50 {none} us without, {every} us with every guardrail: "
            f"{every - none:+d} us; {cap} us with a member's spend cap: {cap - none:+d} us; "
            f"{both} us with every guardrail and the cap: {both - none:+d} us "
            f"({both - every:+d} us over every guardrail); non-2xx {errors}"
        )
    if options.guardrails_only:
        print(
            f"bookkeeping: {verify['ok_records']} usage records with status 200, "
            f"{verify['active_holds']} holds still active, {verify['ledger_problems']} ledger "
            "problems"
        )
        sys.exit(0)

    print("\nSummary (targets: +p50 <= 1.5 ms at c=1; >= 1000 req/s on 200 keys and >= 400 on")
    print("one key at c=32; every request held, settled and recorded; no non-2xx)")
    for kind in ("plain", "stream"):
        direct1, gw1 = get("upstream direct", kind, 1), get("gateway, 200 keys", kind, 1)
        base32 = get("pass-through", kind, 32)
        many, one = get("gateway, 200 keys", kind, 32), get("gateway, 1 key", kind, 32)
        print(
            f"{kind:6}: added p50 at c=1 {(gw1['p50_us'] - direct1['p50_us']) / 1000:.2f} ms; "
            f"c=32 200 keys {many['rps']:.0f} req/s ({many['rps'] / base32['rps']:.2f}x "
            f"pass-through), 1 key {one['rps']:.0f} req/s"
        )
    chat1 = get("gateway, 200 keys", "stream", 1)
    for kind in ("messages", "responses"):
        run1, run32 = get("gateway, 200 keys", kind, 1), get("gateway, 200 keys", kind, 32)
        print(
            f"{kind:9}: streamed, p50 at c=1 {(run1['p50_us'] - chat1['p50_us']) / 1000:+.2f} ms "
            f"over streamed chat completions (target within 0.3 ms); c=32 200 keys "
            f"{run32['rps']:.0f} req/s"
        )
    print(
        f"bookkeeping: {gateway_ok} successful gateway responses counted by wrk, "
        f"{verify['ok_records']} usage records with status 200, {verify['settled_holds']} "
        f"settled holds, {verify['active_holds']} still active, {verify['ledger_problems']} "
        f"ledger problems; {verify['ok_records'] - gateway_ok} more records than counted "
        f"responses (wrk does not count the requests in flight when it stops: at most "
        f"{gateway_runs} runs x 32)"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
