"""Where the gateway's CPU goes, per request and per stage, against the bare pass-through.

    .venv/bin/python bench/gateway/profile.py [--connections 32] [--seconds 15] [--kind stream]

Sets up the benchmark's environment (`run.py --serve-only`: nginx as the upstream, the bare
Starlette pass-through and the gateway under `make serve` with two workers, on their own ports,
database and Redis db), then drives the gateway and the pass-through in turn with wrk while
py-spy (a dev dependency) samples every worker. It prints, for each, the CPU time per request
and, for the gateway, the split by stage: the innermost gateway stage on each sampled stack
(auth, hold, upstream call, relay, settlement, journal, …) or the server around it (uvicorn,
the event loop). CPU per request is what decides req/s at c=32 on a saturated machine; at c=1
the latency adds the round trips (Redis check, PostgreSQL hold) on top.

py-spy needs ptrace: as root, or with `kernel.yama.ptrace_scope=0`.
"""

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.gateway.run import ROOT, wrk

RATE = 250  # py-spy samples per second
REST = "the rest of the gateway"
SERVER = "server and event loop (asyncio, libraries)"

# The innermost frame that matches names the stage a sample belongs to (first match wins, from
# the leaf up). Patterns are function qualnames as py-spy prints them.
STAGES = [
    ("journal", r"^(Journal\.|_encode \(apps/usage/journal)"),
    ("settlement (batched, after the answer)", r"^(SettleBatcher\.|PgMoney\.settle)"),
    ("hold (PostgreSQL)", r"^(PgMoney\.hold|PgMoney\.refuse|Meter\.hold)"),
    ("pricing and finish", r"^(Meter\.|usage_cost|usage_from_provider|RequestOutcome)"),
    ("auth and key check (Redis)", r"^(Auth\.|RedisStore\.|LeanRedis\.|_Protocol\.)"),
    ("upstream call (aiohttp)", r"^(Upstream\.|UpstreamStream\.|Attempts\.)"),
    ("streaming relay and rendering", r"^(StreamRelay\.|sse_events|_parse_event)"),
    ("routing", r"^(Router\.|Relay\.routing)"),
    ("request body and validation", r"^(Runtime\.read_json|parse_json|validate_|_check_)"),
    (REST, r"\((apps|config)/"),
    ("pass-through app", r"\(bench/gateway/passthrough"),
]
IDLE = re.compile(r"^(EpollSelector\.select|_worker \(concurrent|Connection\._recv|main \(multi)")


def workers(port: int) -> list[int]:
    """The uvicorn worker processes serving ``port`` (children of its parent process)."""
    out = subprocess.run(["pgrep", "-f", "--", f"--port {port}"], capture_output=True, text=True)
    parents = [int(p) for p in out.stdout.split()]
    children = []
    for parent in parents:
        kids = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
        children += [int(p) for p in kids.stdout.split()]
    return children or parents


def record(pids: list[int], seconds: int, work: Path, name: str) -> list[subprocess.Popen]:
    spy = str(ROOT / ".venv" / "bin" / "py-spy")
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "-p",
                str(pid),
                "-d",
                str(seconds),
                "-r",
                str(RATE),
                "-f",
                "raw",
                "-o",
                str(work / f"{name}-{pid}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def split(files: list[Path]) -> tuple[collections.Counter, int, collections.Counter]:
    """Busy samples per stage (idle waits left out), and per function for the gateway's own
    code that no stage names."""
    stages, busy, rest = collections.Counter(), 0, collections.Counter()
    for file in files:
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            if IDLE.match(frames[-1]) or "multiprocessing" in frames[-1]:
                continue
            busy += int(count)
            for frame in reversed(frames):
                stage = next((s for s, pattern in STAGES if re.search(pattern, frame)), None)
                if stage:
                    break
            stages[stage or SERVER] += int(count)
            if stage == REST:
                rest[re.sub(r":\d+\)$", ")", frame)] += int(count)
    return stages, busy, rest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--kind", choices=("plain", "stream"), default="stream")
    options = parser.parse_args()
    if not (ROOT / ".venv" / "bin" / "py-spy").exists():
        raise SystemExit("py-spy is a dev dependency: make install")
    base = int(os.environ.setdefault("BENCH_PORT_BASE", "8951"))
    os.environ.setdefault("BENCH_DB", "opencodex_profile")
    os.environ.setdefault("BENCH_REDIS", "redis://127.0.0.1:6379/11")
    serve = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("run.py")), "--serve-only"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        keys_file = None
        for line in serve.stdout:
            if line.startswith("keys "):
                keys_file = Path(line.split()[1])
                break
        if keys_file is None:
            raise SystemExit("the benchmark environment did not start")
        work = keys_file.parent / "profile"
        work.mkdir()
        body = {
            "model": f"bench-{options.kind}",
            "messages": [{"role": "user", "content": "Hello!"}],
            "max_tokens": 64,
            **({"stream": True} if options.kind == "stream" else {}),
        }
        targets = {
            "pass-through": (base + 1, f"http://127.0.0.1:{base + 1}/v1/chat/completions"),
            "gateway": (base + 2, f"http://127.0.0.1:{base + 2}/api/v1/chat/completions"),
        }
        results = {}
        for name, (port, url) in targets.items():
            wrk(url, keys_file, body, options.connections, 2)  # warm up
            spies = record(workers(port), options.seconds, work, name)
            figures = wrk(url, keys_file, body, options.connections, options.seconds)
            for spy in spies:
                spy.wait(timeout=60)
            results[name] = (figures, *split(sorted(work.glob(f"{name}-*.txt"))))
    finally:
        serve.terminate()  # run.py stops what it started
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)

    print(f"\n{options.kind}, c={options.connections}, {options.seconds} s each, py-spy {RATE}/s")
    per_request = {}
    for name, (figures, _, busy, _rest) in results.items():
        per_request[name] = busy / RATE / max(figures["requests"], 1) * 1e6
        print(
            f"{name:13} {figures['rps']:8.0f} req/s  p50 {figures['p50_us'] / 1000:6.2f} ms  "
            f"CPU {per_request[name]:6.0f} us per request (both workers)"
        )
    figures, stages, busy, rest = results["gateway"]
    print("\nthe gateway's CPU per request, by stage:")
    for stage, samples in stages.most_common():
        us = samples / RATE / max(figures["requests"], 1) * 1e6
        print(f"  {us:6.0f} us  {100 * samples / busy:5.1f} %  {stage}")
    print(f"\n{REST}, the innermost functions:")
    for function, samples in rest.most_common(10):
        us = samples / RATE / max(figures["requests"], 1) * 1e6
        print(f"  {us:6.0f} us  {function}")
    ratio = per_request["gateway"] / max(per_request["pass-through"], 1)
    print(f"\ngateway / pass-through CPU per request: {ratio:.2f}x")
    print(json.dumps({k: round(v) for k, v in per_request.items()}))
    shutil.rmtree(work, ignore_errors=True)
    time.sleep(0.5)


if __name__ == "__main__":
    main()
