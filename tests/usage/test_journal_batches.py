"""Journal recovery on PostgreSQL settles in batches, one statement and one transaction each,
with the gateway batcher's rules: exactly the outcomes not recorded yet are charged, once (also
when the live process settles one of them at the same moment); a bad row fails only itself;
and recovery pauses between batches in proportion to the time they took."""

import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.core.installation import installation_identity
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, Hold, LedgerEntry
from apps.credits.selectors import ledger_problems
from apps.gateway.pg import conninfo
from apps.keys.models import ApiKey
from apps.keys.services import api_key_reserve
from apps.usage import journal
from apps.usage.journal import Journal, journal_recover
from apps.usage.models import UsageRecord
from apps.usage.rollup import rollup_step
from apps.usage.services import RequestOutcome, request_settle
from apps.usage.settle_sql import DURABLE, SETTLE, settle_params
from tests.keys.factories import make_key

_ids = itertools.count()


@pytest.fixture
def batches(settings):
    settings.GATEWAY_JOURNAL_BATCH = 4  # several batches in a small journal
    settings.GATEWAY_JOURNAL_PAUSE = 0
    return settings


def held(account, key, *, hold: int, cost: int, limited: bool = False, **fields) -> RequestOutcome:
    """A request the gateway held for and delivered: its hold taken as the gateway takes it
    (with the key's reservation when the key has a credit limit), its outcome returned."""
    request_id = f"req_jb_{next(_ids)}"
    if limited:
        api_key_reserve(key_id=key.pk, amount=hold)
    credits.credits_hold(
        account_id=account.pk,
        amount=hold,
        reference=request_id,
        api_key_id=key.pk if limited else None,
    )
    return outcome(account, key, request_id, cost=cost, **fields)


def outcome(account, key, request_id=None, **fields) -> RequestOutcome:
    values = {
        "request_id": request_id or f"req_jb_{next(_ids)}",
        "user_id": account.user_id,
        "api_key_id": key.pk,
        "model": "demo-chat",
        "status": 200,
        "created_at": timezone.now(),
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "attempts": [["demo:key:demo-chat", 200, 5]],
    }
    values.update(fields)
    return RequestOutcome(**values)


def write_journal(directory, outcomes) -> None:
    """The outcomes in a journal file as a gateway process writes it, its writer gone."""
    writer = Journal(directory, identity=installation_identity())
    for item in outcomes:
        writer.write(item)
    writer.close()


def state(account, *keys):
    account.refresh_from_db()
    spent = {
        k.pk: tuple(ApiKey.objects.filter(pk=k.pk).values_list("spent", "held")[0]) for k in keys
    }
    return account.balance, account.held, account.month_spent, spent


@pytest.fixture(params=["batches", "one by one"])
def path(request, monkeypatch):
    """Both settlement paths must agree to the µcr: the PostgreSQL batches and the ORM one
    (what SQLite uses)."""
    if request.param == "one by one":
        one_by_one = journal._settle_one_by_one
        monkeypatch.setattr(
            journal, "_settle_in_batches", lambda entries, found, **_: one_by_one(entries, found)
        )
    return request.param


def test_recovery_charges_exactly_the_missing_outcomes_once(
    funded_account, batches, path, tmp_path
):
    a, b = funded_account(credits=100), funded_account(credits=10)
    limited, _ = make_key(a.user, credit_limit=50 * MICRO)
    plain, _ = make_key(a.user)
    other, _ = make_key(b.user)
    a_limited = [
        held(a, limited, hold=2 * MICRO, cost=(1 + i) * 300_000, limited=True) for i in range(5)
    ]
    a_limited.append(held(a, limited, hold=MICRO, cost=3 * MICRO, limited=True))  # an overrun
    a_plain = [
        held(a, plain, hold=MICRO, cost=700_000),
        held(a, plain, hold=MICRO, cost=0, status=502, error_code="upstream_error"),  # released
        outcome(a, plain, held=False, status=400, error_code="invalid_request"),  # no hold
        held(a, plain, hold=MICRO, cost=900_000),
    ]
    b_other = [held(b, other, hold=MICRO, cost=(1 + i) * 100_000) for i in range(6)]
    late = b_other[2]  # its hold expired (charging nothing) before its outcome was known
    credits.credits_expire_hold(reference=late.request_id)
    everything = a_limited + a_plain + b_other
    # Their own process settled three before it died (one of them through the batcher's SQL).
    request_settle(outcome=a_limited[0])
    request_settle(outcome=b_other[0])
    with connection.cursor() as cursor:
        cursor.execute(SETTLE, settle_params(a_plain[0], timezone.now()))
    write_journal(tmp_path, everything)
    costs = {o.request_id: o.cost if o.held else 0 for o in everything}

    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["files"], found["settled"], found["already"]) == (1, len(everything) - 3, 3)
    assert "failed" not in found and not list(tmp_path.iterdir())
    records = dict(UsageRecord.objects.values_list("request_id", "cost"))
    assert records == costs  # one record each, with what it cost
    record = UsageRecord.objects.get(request_id=a_limited[1].request_id)
    assert (record.prompt_tokens, record.completion_tokens, record.model) == (12, 34, "demo-chat")
    assert record.attempts == [["demo:key:demo-chat", 200, 5]]
    assert record.created_at == a_limited[1].created_at
    charged_a = sum(costs[o.request_id] for o in a_limited + a_plain)
    charged_b = sum(costs[o.request_id] for o in b_other)
    limited_spent = sum(o.cost for o in a_limited)
    assert state(a, limited, plain) == (
        100 * MICRO - charged_a,
        0,
        charged_a,
        {limited.pk: (limited_spent, 0), plain.pk: (charged_a - limited_spent, 0)},
    )
    assert state(b, other) == (10 * MICRO - charged_b, 0, charged_b, {other.pk: (charged_b, 0)})
    assert Hold.objects.get(reference=late.request_id).charged == late.cost  # late, still charged
    assert not Hold.objects.filter(status="active").exists()
    call_command("check_ledger")  # balance = ledger - pending, key spend = its requests' cost

    # The same journal again (a copy found elsewhere): nothing is charged twice.
    write_journal(tmp_path, everything)
    again = journal_recover(directory=tmp_path, older_than=0)
    assert (again["settled"], again["already"]) == (0, len(everything))
    assert a.balance == Account.objects.get(pk=a.pk).balance
    assert b.balance == Account.objects.get(pk=b.pk).balance


def test_the_charges_reach_the_ledger(funded_account, batches, tmp_path):
    account = funded_account(credits=100)
    key, _ = make_key(account.user)
    outcomes = [held(account, key, hold=MICRO, cost=250_000 + i) for i in range(9)]
    write_journal(tmp_path, outcomes)
    assert journal_recover(directory=tmp_path, older_than=0)["settled"] == 9
    rollup_step()
    usage = LedgerEntry.objects.filter(account=account, kind="usage")
    assert sum(usage.values_list("amount", flat=True)) == -sum(o.cost for o in outcomes)
    account.refresh_from_db()
    entries = LedgerEntry.objects.filter(account=account).values_list("amount", flat=True)
    assert account.balance == sum(entries) == 100 * MICRO - sum(o.cost for o in outcomes)
    assert ledger_problems() == []


def test_an_outcome_settled_live_during_recovery_is_not_charged_again(
    funded_account, batches, monkeypatch, tmp_path
):
    """The live process settles one of them after recovery read the journal, just before the
    batch holding it is written."""
    account = funded_account(credits=100)
    key, _ = make_key(account.user, credit_limit=20 * MICRO)
    outcomes = [held(account, key, hold=MICRO, cost=400_000, limited=True) for _ in range(6)]
    write_journal(tmp_path, outcomes)
    settle_set = journal._settle_set

    def settled_live_first(entries, **kwargs):
        if any(e["request_id"] == outcomes[3].request_id for e in entries):
            request_settle(outcome=outcomes[3])
        return settle_set(entries, **kwargs)

    monkeypatch.setattr(journal, "_settle_set", settled_live_first)
    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["settled"], found["already"]) == (5, 1)
    assert state(account, key) == (
        100 * MICRO - 6 * 400_000,
        0,
        6 * 400_000,
        {key.pk: (6 * 400_000, 0)},
    )
    assert UsageRecord.objects.count() == 6
    call_command("check_ledger")


def test_a_request_recorded_already_is_left_as_it_is(funded_account, batches, path, tmp_path):
    """As request_settle: a request with a usage record is not settled again, whatever its hold
    says (here one left active, the reaper's to expire)."""
    account = funded_account(credits=100)
    key, _ = make_key(account.user)
    recorded = held(account, key, hold=MICRO, cost=300_000)
    UsageRecord.objects.create(**recorded.record_fields(), cost=0)
    write_journal(tmp_path, [recorded, held(account, key, hold=MICRO, cost=100_000)])
    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["settled"], found["already"]) == (1, 1)
    assert Hold.objects.get(reference=recorded.request_id).status == "active"
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO - 100_000, MICRO)


def _wait_for_a_lock_wait(seconds: float = 20, pid: int | None = None) -> None:
    """Until a settlement (the backend ``pid``, or any recovery batch) waits for a lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(conninfo(), autocommit=True) as conn:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND (pid = %s OR "
                "(%s::int IS NULL AND query LIKE '%%ocx_replay_batch%%'))",
                [pid, pid],
            ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("recovery never waited for the live settlement's lock")


def test_a_settlement_the_live_process_is_committing_is_not_charged_twice(
    transactional_db, funded_account, batches, tmp_path
):
    """The live batcher holds the hold's lock (its transaction not committed yet) while
    recovery reaches the same request: recovery waits, then sees it settled and skips it."""
    account = funded_account(credits=100)
    key, _ = make_key(account.user, credit_limit=30 * MICRO)
    outcomes = [held(account, key, hold=MICRO, cost=300_000 + i, limited=True) for i in range(7)]
    racing = outcomes[1]  # in the first batch: recovery reaches it while the live one holds it
    # A request still in flight: its hold keeps the account's held amount above what a second
    # release of the racing hold would take (so only the charge itself can show it).
    credits.credits_hold(account_id=account.pk, amount=5 * MICRO, reference="req_in_flight")
    write_journal(tmp_path, outcomes)
    results = {}

    def recover():
        try:
            results["found"] = journal_recover(directory=tmp_path, older_than=0)
        finally:
            connection.close()

    with psycopg.connect(conninfo()) as live:
        live.execute(DURABLE)
        live.execute(SETTLE, settle_params(racing, timezone.now()))  # not committed yet
        recovery = threading.Thread(target=recover)
        recovery.start()
        _wait_for_a_lock_wait()
        live.commit()
    recovery.join(timeout=60)
    assert (results["found"]["settled"], results["found"]["already"]) == (6, 1)
    total = sum(o.cost for o in outcomes)
    assert state(account, key) == (100 * MICRO - total, 5 * MICRO, total, {key.pk: (total, 0)})
    assert UsageRecord.objects.filter(request_id=racing.request_id).count() == 1
    call_command("check_ledger")


def test_a_batch_gives_way_to_a_live_transaction_then_settles(
    transactional_db, funded_account, batches, monkeypatch, caplog, tmp_path
):
    """A live transaction holds a row the batch needs longer than the batch will wait: the
    batch rolls back (the live one goes first), pauses, and settles on its next try."""
    monkeypatch.setattr(journal, "LOCK_TIMEOUT_MS", 50)
    account = funded_account(credits=100)
    key, _ = make_key(account.user, credit_limit=30 * MICRO)
    outcomes = [held(account, key, hold=MICRO, cost=200_000, limited=True) for _ in range(3)]
    write_journal(tmp_path, outcomes)
    pauses = []
    with psycopg.connect(conninfo()) as live:
        live.execute("SELECT 1 FROM keys_apikey WHERE id = %s FOR UPDATE", [key.pk])

        def pause(seconds):
            pauses.append(seconds)
            live.commit()  # the live transaction ends while recovery waits to try again

        monkeypatch.setattr(journal.time, "sleep", pause)
        safety = threading.Timer(20, live.commit)  # should recovery not give way: no hang
        safety.start()
        try:
            found = journal_recover(directory=tmp_path, older_than=0)
        finally:
            safety.cancel()
    assert pauses == [0.1] and (found["settled"], found.get("failed")) == (3, None)
    assert "one by one" not in caplog.text  # the batch itself settled, on its second try
    assert state(account, key) == (100 * MICRO - 600_000, 0, 600_000, {key.pk: (600_000, 0)})
    call_command("check_ledger")


def test_a_batch_locks_an_account_before_its_key_as_the_batcher_and_the_hold_do(
    transactional_db, funded_account
):
    """Lock order is what keeps a recovery batch, the batcher's transactions and holds from
    deadlocking on shared rows: each takes the account, then the key."""
    from apps.usage.settle_sql import settle_set

    account = funded_account(credits=100)
    key, _ = make_key(account.user, credit_limit=50 * MICRO)
    one = held(account, key, hold=MICRO, cost=1000, limited=True)
    other = held(account, key, hold=MICRO, cost=1000, limited=True)
    entry = json.loads(json.dumps({**one.__dict__, "request_id": other.request_id}, default=str))
    settlements = {
        "SETTLE": lambda conn: conn.execute(SETTLE, settle_params(one, timezone.now())),
        "settle_set": lambda conn: settle_set(conn.cursor(), [entry], timezone.now()),
    }
    for name, settle in settlements.items():
        with psycopg.connect(conninfo()) as blocker, psycopg.connect(conninfo()) as settler:
            blocker.execute("SELECT 1 FROM credits_account WHERE id = %s FOR UPDATE", [account.pk])
            pid = settler.info.backend_pid
            worker = threading.Thread(target=settle, args=(settler,))
            worker.start()
            try:
                _wait_for_a_lock_wait(pid=pid)  # the settlement waits for the account
                blocker.execute(  # and has not taken the key
                    "SELECT 1 FROM keys_apikey WHERE id = %s FOR UPDATE NOWAIT", [key.pk]
                )
            finally:
                blocker.rollback()  # the settlement goes on (and is rolled back)
                worker.join(timeout=30)
            settler.rollback()
        assert not worker.is_alive(), name


@pytest.mark.parametrize(
    "bad",
    [
        {"user_id": 999_999},  # the user is gone: the record's reference fails
        {"prompt_tokens": -5},  # not a count: the column's check fails
        {"status": "oops"},  # not a number: the statement cannot read it
        {"request_id": None},  # no request id: nothing to settle it by
    ],
)
def test_a_bad_outcome_fails_alone_and_its_file_is_kept(
    funded_account, batches, settings, tmp_path, bad
):
    settings.GATEWAY_JOURNAL_BATCH = 10  # the bad one shares a batch with the others
    account = funded_account(credits=100)
    key, _ = make_key(account.user)
    outcomes = [held(account, key, hold=MICRO, cost=500_000) for _ in range(6)]
    write_journal(tmp_path, outcomes)
    (path,) = tmp_path.glob("*.jsonl")
    lines = path.read_text().splitlines()
    broken = {**json.loads(lines[2]), **bad}
    path.write_text("\n".join([*lines[:2], json.dumps(broken), *lines[3:]]) + "\n")

    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["settled"], found["failed"]) == (5, 1)
    assert [p.suffix for p in tmp_path.iterdir()] == [".failed"]
    assert not UsageRecord.objects.filter(request_id=outcomes[2].request_id).exists()
    assert Hold.objects.get(reference=outcomes[2].request_id).status == "active"
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO - 5 * 500_000, MICRO)
    assert ledger_problems() == []


def test_recovery_pauses_after_each_batch_in_proportion_to_its_time(
    funded_account, settings, monkeypatch, tmp_path
):
    """At a fixed pace (GATEWAY_JOURNAL_PACE = "fixed"), whatever the database's load."""
    settings.GATEWAY_JOURNAL_BATCH, settings.GATEWAY_JOURNAL_PAUSE = 3, 2.0
    settings.GATEWAY_JOURNAL_PACE = "fixed"
    account = funded_account(credits=100)
    key, _ = make_key(account.user)
    write_journal(tmp_path, [held(account, key, hold=MICRO, cost=1000) for _ in range(10)])
    clock = itertools.count(step=0.25)  # every batch "takes" a quarter of a second
    monkeypatch.setattr(journal.time, "monotonic", lambda: next(clock))
    pauses = []
    monkeypatch.setattr(journal.time, "sleep", pauses.append)
    assert journal_recover(directory=tmp_path, older_than=0)["settled"] == 10
    assert pauses == [0.5, 0.5, 0.5]  # between the 4 batches: twice the time each took
    # An operator's replay at full speed (e.g. while traffic is low): no pause.
    write_journal(tmp_path, [held(account, key, hold=MICRO, cost=1000) for _ in range(7)])
    out = io.StringIO()
    call_command("journal_recover", "--dir", str(tmp_path), "--pause", "0", stdout=out)
    assert "settled 7" in out.getvalue() and pauses == [0.5, 0.5, 0.5]


def test_the_embedded_sqlite_database_still_recovers_one_by_one(tmp_path):
    """``make run``'s SQLite: the ordinary service settles a journal's outcomes, once."""
    script = """
import json, sys
from pathlib import Path
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from apps.accounts.models import User
from apps.core.installation import installation_identity
from apps.credits import services as credits
from apps.credits.models import Account
from apps.usage.journal import Journal, journal_recover
from apps.usage.models import UsageRecord
from apps.usage.services import RequestOutcome

call_command("migrate", verbosity=0)
user = User.objects.create(email="sqlite@example.com")
credits.credits_grant(user_id=user.pk, amount=10_000_000, kind="adjustment", reference="t")
account = Account.objects.get(user=user)
credits.credits_hold(account_id=account.pk, amount=2_000_000, reference="req_sqlite")
directory = Path(sys.argv[1])
delivered = RequestOutcome(request_id="req_sqlite", user_id=user.pk, api_key_id=None,
    model="demo-chat", status=200, created_at=timezone.now(), cost=1_250_000)
runs = []
for _ in range(2):  # the second time, a copy of the same journal: nothing is charged twice
    writer = Journal(directory, identity=installation_identity())
    writer.write(delivered)
    writer.close()
    runs.append(journal_recover(directory=directory, older_than=0))
first, second = runs
account.refresh_from_db()
print(json.dumps({"vendor": connection.vendor, "first": first, "second": second,
    "balance": account.balance, "held": account.held,
    "costs": list(UsageRecord.objects.values_list("cost", flat=True))}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", OPENCODEX_VAR_DIR=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "journal")],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["vendor"] == "sqlite"
    assert (result["first"]["settled"], result["second"]["already"]) == (1, 1)
    assert (result["balance"], result["held"], result["costs"]) == (8_750_000, 0, [1_250_000])


def test_recovery_stores_the_upstream_cost_beside_the_charge(
    funded_account, batches, path, tmp_path
):
    """Issue #23: batch recovery (settle_set) and the ORM path store each outcome's upstream
    cost; unknown (NULL) stays unknown, and a line journaled before the field existed too."""
    a = funded_account(credits=100)
    key, _ = make_key(a.user)
    known = [held(a, key, hold=MICRO, cost=500_000, upstream_cost=300_000 + i) for i in range(5)]
    unknown = held(a, key, hold=MICRO, cost=400_000, upstream_cost=None)
    free = held(a, key, hold=MICRO, cost=0, status=502, upstream_cost=0)
    write_journal(tmp_path, [*known, unknown, free])
    old = held(a, key, hold=MICRO, cost=200_000, upstream_cost=123)
    line = json.loads(journal._encode(old))
    del line["upstream_cost"]  # journaled by a gateway that predates the field
    (tmp_path / f"{installation_identity()}-1-old.jsonl").write_text(json.dumps(line) + "\n")

    found = journal_recover(directory=tmp_path, older_than=0)
    assert found["settled"] == 8
    stored = dict(UsageRecord.objects.values_list("request_id", "upstream_cost"))
    assert stored == {
        **{o.request_id: 300_000 + i for i, o in enumerate(known)},
        unknown.request_id: None,
        free.request_id: 0,
        old.request_id: None,
    }
    costs = dict(UsageRecord.objects.values_list("request_id", "cost"))
    assert costs[unknown.request_id] == 400_000 and costs[free.request_id] == 0


def test_a_batch_of_every_kind_of_outcome_settles_as_the_service_does(
    funded_account, batches, path, settings, tmp_path
):
    """One batch holding an outcome settled already, the same outcome twice, a hold that
    expired before its (charging) outcome, one that expired before a free one, one released
    already, a hold that is gone, and a user with no credit account (a request refused before
    any hold): the batch and the ORM path charge and record the same, each request once."""
    from tests.factories import UserFactory

    settings.GATEWAY_JOURNAL_BATCH = 50  # all of them in one batch
    account = funded_account(credits=100)
    key, _ = make_key(account.user, credit_limit=40 * MICRO)
    settled = held(account, key, hold=MICRO, cost=300_000, limited=True)
    request_settle(outcome=settled)
    twice = held(account, key, hold=MICRO, cost=200_000, limited=True)
    late = held(account, key, hold=MICRO, cost=700_000)
    credits.credits_expire_hold(reference=late.request_id)
    expired_free = held(account, key, hold=MICRO, cost=0, status=502)
    credits.credits_expire_hold(reference=expired_free.request_id)
    released = held(account, key, hold=MICRO, cost=400_000)
    credits.credits_release(reference=released.request_id)
    gone = outcome(account, key, cost=500_000)  # held, but its hold is nowhere
    nobody = UserFactory()  # no credit account
    refused = RequestOutcome(
        request_id=f"req_jb_{next(_ids)}",
        user_id=nobody.pk,
        api_key_id=None,
        model="demo-chat",
        status=402,
        created_at=timezone.now(),
        held=False,
        error_code="insufficient_credits",
    )
    plain = held(account, key, hold=MICRO, cost=100_000, limited=True)
    lines = [settled, twice, late, expired_free, released, gone, refused, twice, plain]
    write_journal(tmp_path, lines)
    before = state(account, key)

    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["settled"], found["already"], found.get("failed")) == (7, 2, None)
    costs = dict(UsageRecord.objects.values_list("request_id", "cost"))
    assert costs == {
        settled.request_id: 300_000,
        twice.request_id: 200_000,
        late.request_id: 700_000,  # expired, then charged late
        expired_free.request_id: 0,
        released.request_id: 0,  # released before: nothing charged twice
        gone.request_id: 0,
        refused.request_id: 0,
        plain.request_id: 100_000,
    }
    charged = 200_000 + 700_000 + 100_000
    balance, held_, month_spent, keys = before
    assert state(account, key) == (
        balance - charged,
        held_ - 2 * MICRO,  # the two active holds given back (the others were closed already)
        month_spent + charged,
        {key.pk: (keys[key.pk][0] + charged, keys[key.pk][1] - 2 * MICRO)},
    )
    assert not Hold.objects.filter(status="active").exists()
    call_command("check_ledger")
