"""Spend caps in settlement: the batcher's statement, journal recovery's set-based one and the
ORM path give a cap its reservation back and count the charge in its month, to the µcr, and
lock it after the account and before the key (as the hold does)."""

import itertools
import json
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, SpendCap, month_of
from apps.credits.selectors import spend_cap_problems
from apps.gateway.pg import conninfo
from apps.keys.services import api_key_reserve
from apps.usage.journal import journal_recover
from apps.usage.services import request_settle
from apps.usage.settle_sql import SETTLE, settle_params, settle_set
from tests.keys.factories import make_key

from .test_journal_batches import (  # noqa: F401  (fixtures)
    _wait_for_a_lock_wait,
    batches,
    outcome,
    path,
    write_journal,
)

_ids = itertools.count()


def capped_hold(account, key, cap, *, hold, cost, limited=False, **fields):
    """A request held as the gateway holds it for a key sharing ``cap``: its outcome."""
    request_id = f"req_cap_{next(_ids)}"
    credits.credits_hold(
        account_id=account.pk,
        amount=hold,
        reference=request_id,
        api_key_id=key.pk if limited else None,
        spend_cap_id=cap.pk,
    )
    if limited:
        api_key_reserve(key_id=key.pk, amount=hold)
    return outcome(account, key, request_id, cost=cost, **fields)


@pytest.mark.usefixtures("batches", "path")
def test_recovery_settles_the_caps_on_both_paths(funded_account, tmp_path):
    account = funded_account(credits=100)
    tight = credits.spend_cap_create(user_id=account.user_id, monthly_limit=20 * MICRO)
    open_ = credits.spend_cap_create(user_id=account.user_id)
    a, _ = make_key(account.user, name="a", spend_cap_id=tight.pk, credit_limit=50 * MICRO)
    b, _ = make_key(account.user, name="b", spend_cap_id=open_.pk)
    outcomes = [
        capped_hold(account, a, tight, hold=2 * MICRO, cost=(1 + i) * 300_000, limited=True)
        for i in range(5)
    ]
    outcomes += [capped_hold(account, b, open_, hold=MICRO, cost=700_000 + i) for i in range(4)]
    outcomes.append(  # failed before any output: released
        capped_hold(account, b, open_, hold=MICRO, cost=0, status=502, error_code="upstream")
    )
    late = capped_hold(account, b, open_, hold=MICRO, cost=400_000)
    credits.credits_expire_hold(reference=late.request_id)  # its reservation given back
    outcomes.append(late)
    request_settle(outcome=outcomes[0])  # its process settled it before it died
    write_journal(tmp_path, outcomes)
    found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["settled"], found["already"]) == (len(outcomes) - 1, 1)
    assert "failed" not in found
    tight.refresh_from_db()
    open_.refresh_from_db()
    month = month_of(timezone.now())
    assert (tight.held, tight.month, tight.month_spent) == (0, month, 15 * 300_000)
    assert (open_.held, open_.month_spent) == (0, 4 * 700_000 + 6 + 400_000)
    assert Account.objects.get(pk=account.pk).held == 0
    assert spend_cap_problems() == []
    call_command("check_ledger")


def test_the_batchers_statement_settles_the_cap(funded_account):
    account = funded_account(credits=100)
    cap = credits.spend_cap_create(user_id=account.user_id, monthly_limit=10 * MICRO)
    key, _ = make_key(account.user, spend_cap_id=cap.pk)
    done = capped_hold(account, key, cap, hold=2 * MICRO, cost=3 * MICRO)  # an overrun
    with connection.cursor() as cursor:
        cursor.execute(SETTLE, settle_params(done, timezone.now()))
        cursor.execute(SETTLE, settle_params(done, timezone.now()))  # once
    cap.refresh_from_db()
    assert (cap.held, cap.month_spent) == (0, 3 * MICRO)
    assert spend_cap_problems() == []


@pytest.mark.parametrize("blocked", ["account", "cap"])
def test_a_settlement_locks_account_then_cap_then_key(transactional_db, funded_account, blocked):
    """Each statement waiting for the row before must not hold the rows after it."""
    account = funded_account(credits=100)
    cap = credits.spend_cap_create(user_id=account.user_id, monthly_limit=50 * MICRO)
    key, _ = make_key(account.user, spend_cap_id=cap.pk, credit_limit=50 * MICRO)
    one = capped_hold(account, key, cap, hold=MICRO, cost=1000, limited=True)
    other = capped_hold(account, key, cap, hold=MICRO, cost=1000, limited=True)
    entry = json.loads(json.dumps({**one.__dict__, "request_id": other.request_id}, default=str))
    params = settle_params(one, timezone.now())
    statements = {
        "SETTLE": lambda conn: conn.execute(SETTLE, params),
        "settle_set": lambda conn: settle_set(conn.cursor(), [entry], timezone.now()),
    }
    table, row = {
        "account": ("credits_account", account.pk),
        "cap": ("credits_spendcap", cap.pk),
    }[blocked]
    later = [("keys_apikey", key.pk)] + (
        [("credits_spendcap", cap.pk)] if blocked == "account" else []
    )
    for name, settle in statements.items():
        with psycopg.connect(conninfo()) as blocker, psycopg.connect(conninfo()) as settler:
            blocker.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [row])  # noqa: S608
            pid = settler.info.backend_pid
            worker = threading.Thread(target=settle, args=(settler,))
            worker.start()
            try:
                _wait_for_a_lock_wait(pid=pid)
                for after, pk in later:  # not taken while it waits
                    blocker.execute(f"SELECT 1 FROM {after} WHERE id = %s FOR UPDATE NOWAIT", [pk])  # noqa: S608
            finally:
                blocker.rollback()
                worker.join(timeout=30)
            settler.rollback()
        assert not worker.is_alive(), name
    assert SpendCap.objects.get(pk=cap.pk).held == 2 * MICRO  # both rolled back
