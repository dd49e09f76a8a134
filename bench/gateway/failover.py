"""Routing benchmark through the real gateway: what a 5-deployment pool, a failover and a rate
limited deployment cost, on this machine.

    .venv/bin/python bench/gateway/failover.py [--seconds 10] [--rate 200]

Starts nginx as the upstream on loopback (a deployment that answers, one that answers 500, one
that answers 429 with `Retry-After: 1`) and the gateway with `make serve` (2 workers,
PostgreSQL, Redis), then measures, all in the same run:

1. p50 at one connection of a model with one deployment (the baseline), of one with a pool of
   five healthy deployments (what choosing adds), of one whose first deployment answers 500 to
   every request (each request fails over; the gateway runs with `GATEWAY_COOLDOWN_SECONDS=0`
   so the failing deployment is never rested), and of the failing deployment itself, direct;
2. an open-loop load of `--rate` requests a second on a model with three deployments, one of
   which answers 429 (`Retry-After: 1`, so it is tried again every second by each worker): the
   share of requests that succeed and their p50/p99.

Needs nginx and wrk (`apt-get install nginx-light wrk`), PostgreSQL and Redis on 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.gateway.run import (
    COMPLETION,
    ROOT,
    fresh_environment,
    migrate_and_seed,
    stop_all,
    wait_http,
    wrk,
)

UPSTREAM_PORT, GATEWAY_PORT = 8911, 8913
DB_NAME = "opencodex_bench_failover"
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/6")
KEYS = 50
ROUNDS = 5  # of each latency run, interleaved; the median of their p50s is reported
ERROR_500 = {"error": {"message": "boom", "type": "server_error"}}
ERROR_429 = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}}


def nginx_conf(workdir: Path) -> str:
    def quoted(value) -> str:
        text = json.dumps(value)
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
    location = /ok/v1/chat/completions {{
      default_type application/json;
      return 200 {quoted(COMPLETION)};
    }}
    location = /fail/v1/chat/completions {{
      default_type application/json;
      return 500 {quoted(ERROR_500)};
    }}
    location = /limited/v1/chat/completions {{
      default_type application/json;
      add_header Retry-After 1 always;
      return 429 {quoted(ERROR_429)};
    }}
  }}
}}
"""


def catalog() -> str:
    base = f"http://127.0.0.1:{UPSTREAM_PORT}"
    prices = 'input_price = "1.00"\noutput_price = "2.00"\ncontext_length = 8192\nmax_output = 1024'
    return f"""
[providers.ok]
base_url = "{base}/ok/v1"
api_key_env = "BENCH_KEY_1"

[providers.pool5]
base_url = "{base}/ok/v1"
api_key_envs = ["BENCH_KEY_1", "BENCH_KEY_2", "BENCH_KEY_3", "BENCH_KEY_4", "BENCH_KEY_5"]

[providers.fail]
base_url = "{base}/fail/v1"
api_key_env = "BENCH_KEY_1"

[providers.limited]
base_url = "{base}/limited/v1"
api_key_env = "BENCH_KEY_1"

[providers.ok2]
base_url = "{base}/ok/v1"
api_key_env = "BENCH_KEY_2"

[[models]]
id = "single"
provider = "ok"
{prices}

[[models]]
id = "pool5"
provider = "pool5"
{prices}

[[models]]
id = "failover"
provider = "fail"
{prices}

[[models.deployments]]
provider = "ok"
priority = 1

[[models]]
id = "three"
provider = "ok"
{prices}

[[models.deployments]]
provider = "ok2"

[[models.deployments]]
provider = "limited"
"""


async def open_loop(url: str, keys: list[str], body: dict, rate: int, seconds: int) -> dict:
    """``rate`` requests a second for ``seconds``, each sent on time whatever the others do."""
    import aiohttp

    statuses: dict[int, int] = {}
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int) -> None:
            headers = {"Authorization": f"Bearer {keys[index % len(keys)]}"}
            started = time.perf_counter()
            try:
                async with session.post(url, json=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

        tasks = []
        start = time.perf_counter()
        for index in range(rate * seconds):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    latencies.sort()
    total = sum(statuses.values())
    return {
        "total": total,
        "statuses": statuses,
        "ok_share": statuses.get(200, 0) / total,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=200)
    options = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed: apt-get install nginx-light wrk")
    work = Path(tempfile.mkdtemp(prefix="ocx-bench-failover-"))
    (work / "body").mkdir()
    (work / "nginx.conf").write_text(nginx_conf(work))
    (work / "catalog.toml").write_text(catalog())
    keys_file = work / "keys.txt"

    env = {
        **fresh_environment(DB_NAME, REDIS, work / "catalog.toml"),
        **{f"BENCH_KEY_{i}": f"bench-{i}" for i in range(1, 6)},
        "WEB_CONCURRENCY": "2",
        "PORT": str(GATEWAY_PORT),
        "LOG_LEVEL": "ERROR",  # every failover logs a warning
        "API_MAX_RPM": "100000",
        "GATEWAY_COOLDOWN_SECONDS": "0",  # the failing deployment is tried by every request
        "GATEWAY_JOURNAL_DIR": str(work / "journal"),
    }
    procs = []
    direct = f"http://127.0.0.1:{UPSTREAM_PORT}"
    gateway = f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/chat/completions"
    try:
        nginx = ["/usr/sbin/nginx", "-c", str(work / "nginx.conf"), "-p", str(work)]
        procs.append(subprocess.Popen([*nginx, "-g", "daemon off;"]))
        migrate_and_seed(env, keys_file, KEYS)
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
        time.sleep(1)

        def body(model: str) -> dict:
            return {"model": model, "messages": [{"role": "user", "content": "Hello!"}]}

        for model in ("single", "pool5", "failover"):  # warm up
            wrk(gateway, keys_file, body(model), 4, 1)
        figures = {}
        runs = [
            ("upstream ok, direct", f"{direct}/ok/v1/chat/completions", "single"),
            ("upstream 500, direct", f"{direct}/fail/v1/chat/completions", "single"),
            ("gateway, 1 deployment", gateway, "single"),
            ("gateway, pool of 5", gateway, "pool5"),
            ("gateway, failover 500 → ok", gateway, "failover"),
        ]
        for _round in range(ROUNDS):  # interleaved: the machine's drift hits all alike
            for name, url, model in runs:
                run = wrk(url, keys_file, body(model), 1, max(options.seconds // ROUNDS, 1))
                figures.setdefault(name, []).append(run)
        p50 = {
            name: statistics.median(r["p50_us"] for r in runs_) / 1000
            for name, runs_ in figures.items()
        }
        for name, value in p50.items():
            failures = sum(r["non2xx"] for r in figures[name])
            print(f"{name:28} c=1  p50 {value:6.3f} ms  non-2xx {failures}", flush=True)
        keys = keys_file.read_text().split()
        load = asyncio.run(open_loop(gateway, keys, body("three"), options.rate, options.seconds))
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)

    pool = p50["gateway, pool of 5"] - p50["gateway, 1 deployment"]
    failover = p50["gateway, failover 500 → ok"] - p50["gateway, 1 deployment"]
    own = p50["upstream 500, direct"]
    print("\nSummary (targets: a pool adds <= 0.02 ms; a failover adds <= the failing")
    print("deployment's own latency + 1 ms; >= 99.9 % succeed with one of three answering 429)")
    print(f"pool of 5 vs 1 deployment: {pool * 1000:+.0f} µs at p50")
    print(
        f"failover: {failover:+.3f} ms at p50 over 1 deployment; the failing deployment's own "
        f"latency {own:.3f} ms; so {failover - own:+.3f} ms beyond it"
    )
    print(
        f"open loop {options.rate} req/s for {options.seconds} s on 3 deployments, one "
        f"answering 429: {load['ok_share'] * 100:.2f} % succeeded ({load['statuses']}), "
        f"p50 {load['p50_ms']:.2f} ms, p99 {load['p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
