"""The gateway under load while its dependencies fail: what clients saw, and the books after.

    .venv/bin/python bench/gateway/outages.py [--concurrency 16] [--redis-outage 10]

Starts a private PostgreSQL cluster (initdb, run as the `postgres` user when this runs as
root) and a private redis-server, nginx as a fixed-answer upstream, and the gateway with
`make serve` (2 workers, production settings). A client keeps `--concurrency` requests in
flight the whole time and notes each answer's status and time. Meanwhile:

- at 5 s Redis is stopped for `--redis-outage` seconds, then started again;
- 7 s after Redis is back PostgreSQL is stopped (`pg_ctl stop -m fast`) for `--pg-outage`
  seconds, then started again.

Prints, for each phase, the requests answered and their statuses (a 503 must carry
Retry-After; a 500 is a failure), then checks the books: every answer the client got is a
usage record with the same status, no hold is left open, and `check_ledger` is clean.
Needs nginx (`apt-get install nginx-light`), initdb/pg_ctl and redis-server.
"""

import argparse
import asyncio
import collections
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
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.gateway.run import (
    CATALOG,
    PY,
    ROOT,
    migrate_and_seed,
    nginx_conf,
    wait_http,
)

PG_PORT, REDIS_PORT, GATEWAY_PORT = 5499, 6399, 8913

COUNT = """
import json
from collections import Counter
from apps.credits.models import Hold
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems
print(json.dumps({
    "by_status": dict(Counter(UsageRecord.objects.values_list("status", flat=True))),
    "active_holds": Hold.objects.filter(status="active").count(),
    "ledger_problems": [str(p) for p in ledger_problems()],
    "charge_problems": [str(p) for p in usage_charge_problems()],
}))
"""


def as_postgres(args: list[str], **kwargs):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}")):
        return str(candidate)
    raise SystemExit(f"{name} is needed (PostgreSQL's server binaries)")


class Redis:
    def __init__(self, workdir: Path):
        self.workdir, self.proc = workdir, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            ping = subprocess.run(
                ["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


async def load(url, secrets_list, body, concurrency, seconds, log):
    """Keep `concurrency` requests in flight for `seconds`; note (start, end, status, retry)."""
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker(i):
            secret = secrets_list[i % len(secrets_list)]
            headers = {"authorization": f"Bearer {secret}"}
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    reply = await client.post(url, json=body, headers=headers)
                    status, retry = reply.status_code, reply.headers.get("retry-after")
                    request_id = reply.headers.get("x-request-id", "")
                except httpx.HTTPError as exc:
                    status, retry, request_id = type(exc).__name__, None, ""
                log.append((started, time.monotonic(), status, retry, request_id))
                if status != 200:
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(worker(i) for i in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--redis-outage", type=float, default=10)
    parser.add_argument("--pg-outage", type=float, default=3)
    options = parser.parse_args()
    for tool in ("nginx", "redis-server"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed: apt-get install nginx-light redis-server")

    work = Path(tempfile.mkdtemp(prefix="ocx-outage-"))
    os.chmod(work, 0o755)  # noqa: S103 (the postgres user runs its cluster in here)
    (work / "body").mkdir()
    (work / "nginx.conf").write_text(nginx_conf(work))
    (work / "catalog.toml").write_text(CATALOG)
    keys_file = work / "keys.txt"
    pgdata = work / "pgdata"
    pgdata.mkdir()
    if os.geteuid() == 0:
        shutil.chown(pgdata, "postgres", "postgres")
    as_postgres([pg_bin("initdb"), "-D", str(pgdata), "-A", "trust", "-U", "postgres"])
    pg_ctl = [pg_bin("pg_ctl"), "-D", str(pgdata), "-l", str(pgdata / "log.txt")]
    pg_options = f"-p {PG_PORT} -k {pgdata} -c listen_addresses=127.0.0.1 -c fsync=off"
    as_postgres([*pg_ctl, "-o", pg_options, "-w", "start"])
    redis = Redis(work)
    redis.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/1",
        "OPENCODEX_CATALOG": str(work / "catalog.toml"),
        "BENCH_UPSTREAM_KEY": "bench",
        "WEB_CONCURRENCY": "2",
        "PORT": str(GATEWAY_PORT),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "plain",
        "API_MAX_RPM": "100000",
        "GATEWAY_JOURNAL_DIR": str(work / "journal"),
    }
    procs = []
    log: list = []
    try:
        nginx = ["/usr/sbin/nginx", "-c", str(work / "nginx.conf"), "-p", str(work)]
        procs.append(subprocess.Popen([*nginx, "-g", "daemon off;"]))
        migrate_and_seed(env, keys_file, 20)
        server_log = open(work / "server.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                ["make", "serve"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=server_log,
                stderr=subprocess.STDOUT,
            )
        )
        procs.append(  # settles what the gateway hands off while the database is away
            subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/celery"),
                    "-A",
                    "config",
                    "worker",
                    "-l",
                    "warning",
                    "--concurrency",
                    "1",
                    "-Q",
                    "celery",
                ],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=server_log,
                stderr=subprocess.STDOUT,
            )
        )
        wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/healthz")
        time.sleep(1)
        keys = keys_file.read_text().split()
        body = {
            "model": "bench-plain",
            "messages": [{"role": "user", "content": "Hello!"}],
            "max_tokens": 64,
        }
        url = f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions"
        outage = options.redis_outage
        t_redis_down, t_redis_up = 5.0, 5.0 + outage
        t_pg_restart = t_redis_up + 7
        total = t_pg_restart + options.pg_outage + 10
        marks = {}

        async def faults(start):
            await asyncio.sleep(t_redis_down)
            redis.stop()
            marks["redis down"] = time.monotonic() - start
            await asyncio.sleep(outage)
            redis.start()
            marks["redis up"] = time.monotonic() - start
            await asyncio.sleep(t_pg_restart - t_redis_up)
            marks["pg restart"] = time.monotonic() - start
            await asyncio.to_thread(as_postgres, [*pg_ctl, "-m", "fast", "stop"])
            await asyncio.sleep(options.pg_outage)
            await asyncio.to_thread(as_postgres, [*pg_ctl, "-o", pg_options, "-w", "start"])
            marks["pg up"] = time.monotonic() - start

        async def run():
            start = time.monotonic()
            await asyncio.gather(
                load(url, keys, body, options.concurrency, total, log), faults(start)
            )
            return start

        start = asyncio.run(run())
        time.sleep(2)

        phases = [
            ("before", 0, marks["redis down"]),
            ("Redis down", marks["redis down"], marks["redis up"]),
            ("Redis back", marks["redis up"], marks["pg restart"]),
            ("PG down", marks["pg restart"], marks["pg up"]),
            ("PG back", marks["pg up"], marks["pg up"] + 2),
            ("after", marks["pg up"] + 2, total + 30),
        ]
        print(
            f"concurrency {options.concurrency}; Redis stopped at {marks['redis down']:.1f} s "
            f"for {marks['redis up'] - marks['redis down']:.1f} s; PostgreSQL stopped at "
            f"{marks['pg restart']:.1f} s, up again at {marks['pg up']:.1f} s"
        )
        seen = collections.Counter()
        for name, lo, hi in phases:
            rows = [r for r in log if lo <= r[1] - start < hi]
            statuses = collections.Counter(r[2] for r in rows)
            seen.update(statuses)
            no_retry = sum(1 for r in rows if r[2] == 503 and not r[3])
            span = max(hi - lo, 0.001) if name != "after" else max(r[1] for r in log) - start - lo
            print(
                f"{name:11} {hi - lo if name != 'after' else span:5.1f} s  "
                f"{len(rows):6d} answers ({len(rows) / span:6.0f}/s)  "
                + "  ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str))
                + (f"  (503 without Retry-After: {no_retry})" if no_retry else "")
            )
        time.sleep(3)
        books = json.loads(
            subprocess.run(
                [PY, "manage.py", "shell", "-c", COUNT],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        recorded = {int(k): v for k, v in books["by_status"].items()}
        client = {k: v for k, v in seen.items() if isinstance(k, int)}
        print(
            f"client saw {dict(sorted(client.items()))}; recorded {dict(sorted(recorded.items()))}"
        )
        print(
            f"open holds {books['active_holds']}; ledger problems {len(books['ledger_problems'])}; "
            f"charge problems {len(books['charge_problems'])}"
        )
        for problem in books["ledger_problems"][:5] + books["charge_problems"][:5]:
            print("  ", problem)
        ok = (
            client.get(500, 0) == 0
            and recorded.get(200, 0) == client.get(200, 0)
            and books["active_holds"] == 0
            and not books["ledger_problems"]
            and not books["charge_problems"]
        )
        print("books balance: every 200 billed, no 500" if ok else "PROBLEMS above")
        print(f"(server log: {work / 'server.log'})")
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        redis.stop()
        with contextlib.suppress(Exception):
            as_postgres([*pg_ctl, "-m", "immediate", "stop"])
        shutil.rmtree(work / "journal", ignore_errors=True)  # a later run never finds its files


if __name__ == "__main__":
    main()
