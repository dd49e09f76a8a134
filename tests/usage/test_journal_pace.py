"""Journal recovery yields to live traffic, not to an idle database: after each batch it pauses
in proportion to the batch's time while other connections use the database (and more when
they are more), and goes on at once while nobody does; GATEWAY_JOURNAL_PACE = "fixed" pauses
after every batch, whatever the load."""

import contextlib
import itertools
import time

import psycopg
import pytest
from django.utils import timezone

from apps.core.installation import installation_identity
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.gateway.pg import conninfo
from apps.usage import journal
from apps.usage.journal import (
    HELPER,
    LIVE_CAP,
    Journal,
    journal_recover,
    live_connections,
    pause_for,
)
from apps.usage.services import RequestOutcome
from tests.keys.factories import make_key


@pytest.mark.parametrize(
    ("live", "factor", "expected"),
    [
        (0, 1.0, 0.0),  # nobody else: no pause at all
        (1, 1.0, 0.2),  # one live connection: as long as the batch took (busy half the time)
        (2, 1.0, 0.4),  # two: twice as long
        (LIVE_CAP, 0.5, 0.1 * LIVE_CAP),
        (LIVE_CAP + 10, 1.0, 0.2 * LIVE_CAP),  # up to LIVE_CAP times
        (3, 0.0, 0.0),  # GATEWAY_JOURNAL_PAUSE 0: never
        (None, 1.0, 0.2),  # a fixed pace: as if one connection always were live
        (None, 2.0, 0.4),
        (None, 0.0, 0.0),
    ],
)
def test_the_pause_after_a_batch(live, factor, expected):
    assert pause_for(0.2, factor=factor, live=live) == pytest.approx(expected)


def test_live_connections_are_those_busy_now_or_within_the_last_second(transactional_db):
    """An idle pool's connection is not live traffic; one in a transaction is; so is one that
    finished a query within the last second."""
    with psycopg.connect(conninfo(), autocommit=True) as idle:
        idle.execute("SELECT 1")
        time.sleep(1.2)  # its last query more than a second ago
        assert live_connections() == 0
        with psycopg.connect(conninfo()) as busy:
            busy.execute("SELECT 1")  # a transaction open (idle in transaction)
            assert live_connections() == 1
            busy.commit()
            assert live_connections() == 1  # it was busy a moment ago
            time.sleep(1.2)
            assert live_connections() == 0
        with psycopg.connect(conninfo(), application_name=HELPER) as helper:
            helper.execute("SELECT 1")  # recovery's own helper: not live traffic
            assert live_connections() == 0


def _journal(directory, account, key, count: int, prefix: str = "req_pace_") -> None:
    writer = Journal(directory, identity=installation_identity())
    for i in range(count):
        request_id = f"{prefix}{i}"
        credits.credits_hold(account_id=account.pk, amount=MICRO, reference=request_id)
        writer.write(
            RequestOutcome(
                request_id=request_id,
                user_id=account.user_id,
                api_key_id=key.pk,
                model="demo-chat",
                status=200,
                created_at=timezone.now(),
                cost=1000,
            )
        )
    writer.close()


def test_recovery_pauses_only_while_others_use_the_database(
    funded_account, settings, monkeypatch, tmp_path
):
    settings.GATEWAY_JOURNAL_BATCH, settings.GATEWAY_JOURNAL_PAUSE = 3, 1.0
    settings.GATEWAY_JOURNAL_PACE = "adaptive"
    account = funded_account(credits=100)
    key, _ = make_key(account.user)
    _journal(tmp_path, account, key, 12)  # 4 batches: 3 decisions
    clock = itertools.count(step=0.25)  # every batch "takes" a quarter of a second
    monkeypatch.setattr(journal.time, "monotonic", lambda: next(clock))
    pauses = []
    monkeypatch.setattr(journal.time, "sleep", pauses.append)
    seen = iter([0, 2, 0])  # the database idle, then two live connections, then idle again
    monkeypatch.setattr(journal, "live_connections", lambda: next(seen))
    found = journal_recover(directory=tmp_path, older_than=0)
    assert found["settled"] == 12
    assert pauses == [0.5]  # only after the batch that met live traffic: twice its time


@pytest.mark.parametrize("live_traffic", [False, True])
def test_an_idle_database_is_settled_with_two_connections_a_busy_one_with_one(
    transactional_db, funded_account, settings, monkeypatch, tmp_path, live_traffic
):
    """GATEWAY_JOURNAL_WORKERS = 2: while nobody else uses the database, a batch of each half
    of the users at once (each account and key still updated once per batch, exactly the
    outcomes' costs); while a live connection is in a transaction, one batch at a time."""
    from django.core.management import call_command

    from apps.credits.models import Account
    from apps.keys.models import ApiKey
    from apps.usage.models import UsageRecord

    settings.GATEWAY_JOURNAL_BATCH, settings.GATEWAY_JOURNAL_PAUSE = 4, 0.0
    settings.GATEWAY_JOURNAL_WORKERS, settings.GATEWAY_JOURNAL_PACE = 2, "adaptive"
    accounts = [funded_account(credits=100) for _ in range(3)]
    keys = [make_key(account.user, credit_limit=50 * MICRO)[0] for account in accounts]
    for n, (account, key) in enumerate(zip(accounts, keys, strict=True)):
        _journal(tmp_path, account, key, 7, prefix=f"req_lane{n}_")  # 21 outcomes: 6 batches
    helped = []
    helper = journal._helper_settle_batch
    monkeypatch.setattr(
        journal, "_helper_settle_batch", lambda batch: helped.append(len(batch)) or helper(batch)
    )
    with contextlib.ExitStack() as stack:
        if live_traffic:
            live = stack.enter_context(psycopg.connect(conninfo()))
            live.execute("SELECT 1")  # a transaction open throughout
        found = journal_recover(directory=tmp_path, older_than=0)
    assert (found["settled"], found["already"], found.get("failed")) == (21, 0, None)
    assert bool(helped) is not live_traffic
    assert UsageRecord.objects.count() == 21
    for account, key in zip(accounts, keys, strict=True):
        account.refresh_from_db()
        assert (account.balance, account.held) == (100 * MICRO - 7 * 1000, 0)
        assert ApiKey.objects.get(pk=key.pk).spent == 7 * 1000
    assert not Account.objects.filter(held__gt=0).exists()
    call_command("check_ledger")
