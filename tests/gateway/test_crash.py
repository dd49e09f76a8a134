"""A delivered response is billed whatever dies: a gateway process (a real uvicorn subprocess)
answers, is killed with SIGKILL before its settlements commit, and the requests it delivered
are settled from its journal, to the µcr, with nothing charged twice."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from apps.catalog.pricing import usage_cost, usage_from_provider
from apps.catalog.selectors import catalog_routes
from apps.core.installation import installation_identity
from apps.core.models import Installation
from apps.core.money import MICRO
from apps.credits.models import Account, Hold
from apps.credits.selectors import ledger_problems
from apps.usage.journal import journal_recover
from apps.usage.models import UsageRecord
from tests.servers import free_port

HELLO = [{"role": "user", "content": "Hello!"}]


def start_gateway(port: int, journal: Path, **overrides: str) -> subprocess.Popen:
    """A gateway process of its own on the test database (``overrides``: more environment)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "GATEWAY_SETTLE_WINDOW_MS": "60000",  # settlements wait a minute: the kill comes first
        "GATEWAY_JOURNAL_DIR": str(journal),
        "DEMO_UPSTREAM_BASE_URL": f"http://127.0.0.1:{port}/_demo/v1",
        "PORT": str(port),
        **overrides,
    }
    uvicorn = Path(sys.executable).with_name("uvicorn")
    process = subprocess.Popen(
        [str(uvicorn), "config.asgi:application", "--port", str(port), "--log-level", "warning"],
        cwd=settings.BASE_DIR,
        env=env,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the gateway did not start")


def test_a_worker_killed_before_its_settlements_commit_still_bills_them(api, customer, tmp_path):
    user, account, secret = customer
    port = free_port()
    gateway = start_gateway(port, tmp_path)
    headers = {"Authorization": f"Bearer {secret}"}
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        plain = httpx.post(
            f"{base}/chat/completions",
            json={"model": "demo-chat", "messages": HELLO},
            headers=headers,
            timeout=30,
        )
        assert plain.status_code == 200
        usages = [plain.json()["usage"]]
        ids = [plain.headers["x-request-id"]]
        body = {"model": "demo-chat", "messages": HELLO, "stream": True}
        body["stream_options"] = {"include_usage": True}
        with httpx.stream(
            "POST", f"{base}/chat/completions", json=body, headers=headers, timeout=30
        ) as stream:
            lines = [line for line in stream.iter_lines() if line.startswith("data: {")]
            ids.append(stream.headers["x-request-id"])
        usages.append(json.loads(lines[-1][6:])["usage"])
    finally:
        gateway.send_signal(signal.SIGKILL)  # no shutdown, no flush: the process is gone
        gateway.wait(timeout=10)
    assert not UsageRecord.objects.filter(request_id__in=ids).exists()  # never settled
    assert Hold.objects.filter(reference__in=ids, status="active").count() == 2

    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["files"], found["settled"]) == (1, 2)
    route = catalog_routes()["demo-chat"]
    costs = [usage_cost(route, usage_from_provider(u)) for u in usages]
    for request_id, cost in zip(ids, costs, strict=True):
        record = UsageRecord.objects.get(request_id=request_id)
        assert (record.status, record.cost) == (200, cost) and cost > 0
    account = Account.objects.get(user=user)
    assert (account.balance, account.held) == (100 * MICRO - sum(costs), 0)
    assert ledger_problems() == []
    assert not list(tmp_path.glob("*.jsonl"))  # recovered files are removed
    assert journal_recover(directory=tmp_path, older_than=0)["settled"] == 0  # nothing twice


def test_an_outcome_that_cannot_be_settled_is_kept_and_reported(transactional_db, tmp_path):
    entry = {"request_id": "req_orphan", "user_id": 999_999, "api_key_id": None, "model": "m"}
    entry.update({"status": 200, "created_at": "2026-11-28T00:00:00+00:00", "cost": 5})
    identity = installation_identity()
    (tmp_path / f"{identity}-1-dead.jsonl").write_text(json.dumps(entry) + "\n{cut short")
    found = journal_recover(directory=tmp_path, older_than=0)
    assert found["failed"] == 1 and found["settled"] == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"{identity}-1-dead.failed"]


def test_a_journal_of_another_database_is_set_aside_and_replayed_only_on_purpose(
    api, customer, tmp_path
):
    """The gateway dies with a journal of database A; the database is then re-created (B: the
    same user ids, another installation). Recovery in B charges nothing of A's journal, sets
    the file aside and reports it; restoring A and replaying the file with --force charges
    exactly the missing outcomes, once."""
    from io import StringIO

    from django.core.management import call_command

    user, _, secret = customer
    port = free_port()
    gateway = start_gateway(port, tmp_path)
    ids = []
    try:
        for _ in range(3):
            reply = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/chat/completions",
                json={"model": "demo-chat", "messages": HELLO},
                headers={"Authorization": f"Bearer {secret}"},
                timeout=30,
            )
            assert reply.status_code == 200
            ids.append(reply.headers["x-request-id"])
    finally:
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(timeout=10)
    identity_a = installation_identity()
    (journal,) = tmp_path.glob("*.jsonl")
    assert journal.name.startswith(f"{identity_a}-")  # the file names its database
    account = Account.objects.get(user=user)
    balance_before = account.balance

    # Database B: dropped and created again (same users and ids, a new installation).
    original = Installation.objects.get()
    Installation.objects.all().delete()
    Installation.objects.create()
    assert installation_identity() != identity_a
    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["foreign"], found["settled"]) == (1, 0)
    assert not UsageRecord.objects.filter(request_id__in=ids).exists()
    account.refresh_from_db()
    assert account.balance == balance_before  # nothing of A's charged in B
    (aside,) = tmp_path.glob("*.foreign")
    listing = StringIO()
    call_command("journal_recover", "--list", "--dir", str(tmp_path), stdout=listing)
    assert aside.name in listing.getvalue() and "another database" in listing.getvalue()
    assert "3 outcome(s), 1 account(s)" in listing.getvalue()
    # A dry run writes nothing; then A restored (its installation back), replayed on purpose.
    dry = StringIO()
    call_command("journal_recover", "--replay", str(aside), stdout=dry)
    assert "would settle 3" in dry.getvalue() and "Dry run" in dry.getvalue()
    assert not UsageRecord.objects.filter(request_id__in=ids).exists()
    Installation.objects.all().delete()
    Installation.objects.create(id=original.id)
    done = StringIO()
    call_command("journal_recover", "--replay", str(aside), "--force", stdout=done)
    assert "settled 3, failed 0" in done.getvalue()
    records = UsageRecord.objects.filter(request_id__in=ids)
    assert records.count() == 3 and all(r.cost > 0 for r in records)
    account.refresh_from_db()
    assert account.balance == balance_before - sum(r.cost for r in records)
    assert account.held == 0 and ledger_problems() == []
    assert not list(tmp_path.glob("*.foreign")) and list(tmp_path.glob("*.replayed"))
