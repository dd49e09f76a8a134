"""The real coding CLIs, pinned and installed from npm by the test setup, run headless against a
live server whose catalog points at a scripted upstream on loopback: each completes a task that
needs one tool call (writing a file), and the account is charged exactly the scripted usage.
Telemetry, update checks and every other outside call are off; nothing leaves loopback."""

import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from apps.catalog.pricing import usage_cost, usage_from_provider
from apps.catalog.selectors import catalog_routes
from apps.core.money import MICRO
from apps.credits.models import Account
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageRecord

from . import fake_upstream
from .conftest import drain

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="session")
def clis() -> Path:
    directory = subprocess.run(
        [str(ROOT / "scripts" / "ensure-clis.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    ).stdout.strip()
    return Path(directory) / "node_modules" / ".bin"


def offline_env(home: Path) -> dict:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM", "TMPDIR")}
    return {
        **keep,
        "HOME": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DO_NOT_TRACK": "1",
    }


def charged_exactly_the_scripted_usage(user, model="fake-agent"):
    drain(api_server[0])
    records = list(UsageRecord.objects.filter(user=user))
    assert records and all(r.status == 200 for r in records)
    route = catalog_routes()[model]
    each = usage_cost(route, usage_from_provider(fake_upstream.AGENT_USAGE))
    assert all(r.cost == each for r in records)
    account = Account.objects.get(user=user)
    assert account.balance == 100 * MICRO - each * len(records) and account.held == 0
    assert ledger_problems() == []
    # The tool-call turn and the answer after the tool ran (a CLI may add its own small calls).
    assert len(records) >= 2
    tools = [m for body in fake_upstream.received for m in body["messages"] if m["role"] == "tool"]
    assert tools, "the CLI sent the tool's result back"
    print(f"{len(records)} requests, tool result: {tools[0]['content'][:80]!r}")
    return records


api_server = []


def test_claude_code_writes_a_file_through_the_messages_api(api, customer, clis, tmp_path):
    api_server[:] = [api]
    user, _, secret = customer
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    env = offline_env(tmp_path / "home")
    env.update(
        {
            "ANTHROPIC_BASE_URL": f"{api.url}/api",
            "ANTHROPIC_AUTH_TOKEN": secret,
            # A pool of two deployments: the session stays on one of them.
            "ANTHROPIC_MODEL": "pool-agent",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "pool-agent",
            "ANTHROPIC_DEFAULT_SONNET_MODEL": "pool-agent",
            "ANTHROPIC_DEFAULT_OPUS_MODEL": "pool-agent",
            "ANTHROPIC_SMALL_FAST_MODEL": "pool-agent",
        }
    )
    result = subprocess.run(
        [
            str(clis / "claude"),
            "-p",
            f"Create the file {target} containing a greeting.",
            "--allowedTools",
            "Write",
            "--permission-mode",
            "acceptEdits",
            "--output-format",
            "json",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert target.read_text() == fake_upstream.AGENT_CONTENT
    records = charged_exactly_the_scripted_usage(user, "pool-agent")
    assert {r.protocol for r in records} == {"messages"}
    # Claude Code names its session (metadata.user_id): every turn went to one deployment, the
    # one the router keeps for that session, so the provider's prompt cache stays warm.
    served = {r.deployment for r in records}
    assert len(served) == 1, served
    sticky = {name for _, name in api.gateway.rt.router.sticky.values()}
    assert served <= sticky


def test_codex_exec_writes_a_file_through_the_responses_api(api, customer, clis, tmp_path):
    api_server[:] = [api]
    user, _, secret = customer
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f"""
model = "fake-agent"
model_provider = "opencodex"
check_for_update_on_startup = false

[model_providers.opencodex]
name = "OpenCodex"
base_url = "{api.url}/api/v1"
env_key = "OPENCODEX_API_KEY"
wire_api = "responses"

[analytics]
enabled = false

[otel]
exporter = "none"
"""
    )
    env = offline_env(tmp_path / "home")
    env.update({"CODEX_HOME": str(home), "OPENCODEX_API_KEY": secret})
    result = subprocess.run(
        [
            str(clis / "codex"),
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            f"Create the file {target} containing a greeting.",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert target.read_text().strip() == fake_upstream.AGENT_CONTENT
    records = charged_exactly_the_scripted_usage(user)
    assert {r.protocol for r in records} == {"responses"}
