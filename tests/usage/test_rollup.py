"""Incremental rollups: each run counts what arrived since the previous one, exactly once, and
posts its charges to the ledger; rebuilds and checks read the raw records."""

import io
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Sum

from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems
from apps.usage import rollup
from apps.usage.models import UsageCursor, UsageHour, UsageRecord
from apps.usage.rollup import (
    RollupBusy,
    rollup_differences,
    rollup_rebuild,
    rollup_step,
    unposted_by_account,
)
from apps.usage.selectors import usage_charge_problems
from tests.keys.factories import make_key

from .factories import record

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _accounts():
    """Every user made here has a credit account, as users who use the API do."""
    from django.db.models.signals import post_save

    from apps.accounts.models import User
    from apps.credits.services import account_ensure

    def make(sender, instance, created, **kwargs):
        if created:
            account_ensure(user_id=instance.pk)

    post_save.connect(make, sender=User, dispatch_uid="test-rollup-accounts")
    yield
    post_save.disconnect(sender=User, dispatch_uid="test-rollup-accounts")


def buckets():
    return {
        (h.hour, h.user_id, h.key_id, h.model): (
            h.requests,
            h.errors,
            h.prompt_tokens,
            h.completion_tokens,
            h.cost,
        )
        for h in UsageHour.objects.all()
    }


def recompute():
    """The buckets a full recompute from every record gives."""
    return {
        (b["bucket"], b["user_id"], b["api_key_id"] or 0, b["model"]): (
            b["n"],
            b["failed"],
            b["prompt"],
            b["completion"],
            b["spent"],
        )
        for b in rollup.bucket_sums(UsageRecord.objects.all())
    }


def charge(user, cost):
    """What a settlement does to the balance (the record carries the charge until posted)."""
    from django.db.models import F

    from apps.credits.models import Account

    Account.objects.filter(user=user).update(balance=F("balance") - cost)


@pytest.mark.django_db(transaction=True)
def test_hourly_buckets_per_user_key_and_model(owner, outsider):
    key, _ = make_key(owner)
    record(owner, key=key, at=T0 + timedelta(minutes=5), cost=100)
    record(owner, key=key, at=T0 + timedelta(minutes=55), cost=200, status=502)
    record(owner, key=key, at=T0 + timedelta(minutes=65), cost=300)
    record(owner, key=key, model="gpt-4o", at=T0 + timedelta(minutes=6), cost=50)
    record(outsider, at=T0 + timedelta(minutes=7), cost=7)
    run = rollup_step()
    assert (run.records, run.buckets) == (5, 4)
    assert buckets() == {
        (T0, owner.pk, key.pk, "demo-chat"): (2, 1, 20, 40, 300),
        (T0 + timedelta(hours=1), owner.pk, key.pk, "demo-chat"): (1, 0, 10, 20, 300),
        (T0, owner.pk, key.pk, "gpt-4o"): (1, 0, 10, 20, 50),
        (T0, outsider.pk, 0, "demo-chat"): (1, 0, 10, 20, 7),
    }
    assert rollup_step().records == 0  # nothing new: nothing read, nothing counted twice
    assert buckets() == recompute()


@pytest.mark.django_db(transaction=True)
def test_each_run_adds_only_what_is_new_and_posts_one_entry_per_account(owner, outsider):
    record(owner, at=T0 + timedelta(minutes=1), cost=10)
    rollup_step()
    record(owner, at=T0 + timedelta(minutes=2), cost=5)  # a late record, in a past hour
    record(outsider, at=T0 + timedelta(minutes=3), cost=0, status=500)
    run = rollup_step()
    assert run.records == 2 and run.postings == 1  # the failed request cost nothing
    assert buckets()[(T0, owner.pk, 0, "demo-chat")] == (2, 0, 20, 40, 15)
    assert UsageHour.objects.count() == 2
    postings = LedgerEntry.objects.filter(kind="usage", account__user=owner).order_by("id")
    assert [e.amount for e in postings] == [-10, -5]
    assert all(e.reference.startswith("usage:") and "API requests" in e.memo for e in postings)


@pytest.mark.django_db(transaction=True)
def test_pending_charges_keep_the_balance_equal_to_the_ledger(owner):
    """A settled request's charge is in the balance at once and in the ledger after the run:
    balance = ledger - pending holds before, during and after."""
    for cost in (300, 200):
        record(owner, at=T0, cost=cost)
        charge(owner, cost)
    account = owner.credit_account
    assert unposted_by_account() == {account.pk: 500}
    assert ledger_problems() == []
    rollup_step()
    assert unposted_by_account() == {}
    assert ledger_problems() == [] and usage_charge_problems() == []
    record(owner, at=T0, cost=7)  # a charge nobody took from the balance: caught
    charge(owner, 0)
    [problem] = ledger_problems()
    assert problem.pending == 7 and "pending charges 7" in problem.describe()


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_half_way_changes_nothing_and_the_next_counts_it_once(owner, monkeypatch):
    record(owner, at=T0, cost=10)
    record(owner, at=T0 + timedelta(hours=1), cost=20)

    def dies(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(rollup, "_post_to_ledger", dies)
    with pytest.raises(SystemExit):
        rollup_step()
    assert UsageHour.objects.count() == 0 and rollup.cursor_position() == 0
    monkeypatch.undo()
    assert rollup_step().records == 2
    assert buckets() == recompute()
    assert LedgerEntry.objects.filter(kind="usage").aggregate(s=Sum("amount"))["s"] == -30


@pytest.mark.django_db(transaction=True)
def test_a_second_run_while_one_holds_the_cursor_is_refused(owner):
    record(owner, at=T0)
    rollup_step()  # the cursor row exists
    holding, release = threading.Event(), threading.Event()

    def hold_the_cursor():
        with transaction.atomic():
            UsageCursor.objects.select_for_update().get(name="rollup")
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=hold_the_cursor)
    thread.start()
    holding.wait(10)
    try:
        with pytest.raises(RollupBusy):
            rollup_step()
    finally:
        release.set()
        thread.join()
    record(owner, at=T0)
    assert rollup_step().records == 1


@pytest.mark.django_db(transaction=True)
def test_random_interleavings_of_inserts_late_commits_reruns_and_crashes_equal_a_recompute(
    monkeypatch,
):
    """Writers in their own transactions, some held open while others commit and runs go by;
    runs that crash half-way; reruns. After the last commit and one more run, the rollups and
    the postings equal a full recompute from the records, and the books balance."""
    from tests.factories import UserFactory

    users = [UserFactory() for _ in range(3)]
    rng = random.Random(14)
    stop = threading.Event()

    def writer(seed):
        local = random.Random(seed)
        for _ in range(12):
            user = local.choice(users)
            with transaction.atomic():
                cost = local.choice([0, 5, 70, 1000])
                record(
                    user,
                    at=T0 + timedelta(minutes=local.randrange(0, 240)),
                    cost=cost,
                    model=local.choice(["a", "b"]),
                    status=200 if cost else 500,
                )
                charge(user, cost)
                if local.random() < 0.3:  # a late commit: held open while runs go by
                    stop.wait(local.uniform(0.05, 0.3))
            stop.wait(0.01)
        connection.close()

    local = threading.local()
    real_post = rollup._post_to_ledger

    def post_or_die(*args, **kwargs):
        if getattr(local, "die", False):
            raise RuntimeError("killed half-way")
        return real_post(*args, **kwargs)

    monkeypatch.setattr(rollup, "_post_to_ledger", post_or_die)
    crashes = []

    def runner():
        while not stop.is_set():
            local.die = rng.random() < 0.4
            try:
                rollup_step()
            except RollupBusy:
                pass
            except RuntimeError:
                crashes.append(1)
        connection.close()

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    runners = [threading.Thread(target=runner) for _ in range(2)]
    for thread in writers + runners:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in runners:
        thread.join()
    local.die = False
    rollup_step()
    assert crashes  # some runs did die half-way
    assert UsageRecord.objects.count() == 48
    assert buckets() == recompute()
    assert rollup_differences(since=EVER[0], until=EVER[1]) == []
    posted = -(LedgerEntry.objects.filter(kind="usage").aggregate(s=Sum("amount"))["s"] or 0)
    assert posted == UsageRecord.objects.aggregate(s=Sum("cost"))["s"]
    assert ledger_problems() == [] and usage_charge_problems() == []


@pytest.mark.django_db(transaction=True)
def test_a_record_committing_late_is_counted_by_the_run_after_its_commit(owner):
    """A transaction that began before others and commits after a run: the run stops below it
    (and below what came after it), the next run counts everything once."""
    started, go = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            record(owner, at=T0, cost=1)
            started.set()
            go.wait(10)
        connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    started.wait(10)
    record(owner, at=T0, cost=2)  # commits first, after the slow one took its id
    first = rollup_step()
    assert first.records == 0  # the slow writer is still open: everything waits for it
    go.set()
    thread.join()
    second = rollup_step()
    assert second.records == 2
    assert buckets() == {(T0, owner.pk, 0, "demo-chat"): (2, 0, 20, 40, 3)}


@pytest.mark.django_db(transaction=True)
def test_rebuild_replaces_a_range_from_the_raw_records_and_the_check_finds_drift(owner):
    record(owner, at=T0, cost=10)
    record(owner, at=T0 + timedelta(hours=5), cost=20)
    rollup_step()
    UsageHour.objects.filter(hour=T0).update(cost=999)  # drift
    problems = rollup_differences(since=T0, until=T0 + timedelta(hours=6))
    assert len(problems) == 1 and "999" in problems[0]
    with pytest.raises(CommandError, match="1 hourly buckets differ"):
        call_command(
            "check_rollups", "--since", "2026-11-20", "--until", "2026-11-21", stderr=io.StringIO()
        )
    record(owner, at=T0 + timedelta(hours=1), cost=5)  # new meanwhile: counted first
    assert rollup_rebuild(since=T0, until=T0 + timedelta(hours=3)) == 2
    assert buckets() == recompute()
    out = io.StringIO()
    call_command("check_rollups", "--since", "2026-11-20", "--until", "2026-11-21", stdout=out)
    assert "rollups equal the records" in out.getvalue()
    assert LedgerEntry.objects.filter(kind="usage").aggregate(s=Sum("amount"))["s"] == -35


@pytest.mark.django_db(transaction=True)
def test_rollup_usage_command_counts_or_rebuilds_history(owner, settings):
    settings.USAGE_RETENTION_DAYS = 0  # keep everything: 2026-01 may be rebuilt
    record(owner, at=datetime(2026, 1, 3, 4, 30, tzinfo=UTC))
    out = io.StringIO()
    call_command("rollup_usage", stdout=out)
    assert "1 new records counted into 1 hourly buckets" in out.getvalue()
    out = io.StringIO()
    call_command("rollup_usage", "--since", "2026-01-01", stdout=out)
    assert "1 hourly buckets rebuilt since 2026-01-01 00:00" in out.getvalue()
    assert UsageHour.objects.get().hour == datetime(2026, 1, 3, 4, tzinfo=UTC)
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("rollup_usage", "--since", "yesterday")
    settings.USAGE_RETENTION_DAYS = 90
    with pytest.raises(CommandError, match="past USAGE_RETENTION_DAYS"):
        call_command("rollup_usage", "--since", "2020-01-01")


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_counts_what_is_new(owner):
    from django.utils import timezone

    from apps.usage.tasks import rollup_recent_usage

    record(owner, at=timezone.now() - timedelta(minutes=3))
    assert rollup_recent_usage() == 1
    assert rollup_recent_usage() == 0


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_ending_mid_hour_rebuilds_that_whole_hour(owner):
    record(owner, at=T0 + timedelta(minutes=10), cost=1)
    record(owner, at=T0 + timedelta(minutes=50), cost=2)
    rollup_step()
    assert rollup_rebuild(since=T0, until=T0 + timedelta(minutes=30)) == 1
    assert buckets() == recompute() == {(T0, owner.pk, 0, "demo-chat"): (2, 0, 20, 40, 3)}


def days():
    from apps.usage.models import UsageDay

    return {
        (d.day, d.user_id): (d.requests, d.errors, d.cost, d.upstream_cost, d.unknown_cost)
        for d in UsageDay.objects.all()
    }


def days_from_records():
    return {
        (d["bucket"], d["user_id"]): tuple(
            d[k] or 0 for k in ("n", "failed", "spent", "upstream", "unknown")
        )
        for d in rollup.day_sums(UsageRecord.objects.all())
    }


@pytest.mark.django_db(transaction=True)
def test_daily_buckets_per_user_follow_each_run_a_rebuild_and_the_check(owner, outsider):
    """UsageDay (the staff console's customers): each run adds to the day of each record; a
    rebuild starting mid-day recomputes the whole day; an altered day is reported."""
    rng = random.Random(5)
    for i in range(40):
        user = owner if i % 3 else outsider
        at = T0 + timedelta(hours=rng.randint(-30, 30), minutes=rng.randint(0, 59))
        record(user, at=at, cost=rng.randint(0, 500), status=rng.choice([200, 200, 502]),
               upstream_cost=rng.choice([None, rng.randint(0, 400)]))  # fmt: skip
        if i % 10 == 9:
            rollup_step()
    rollup_step()
    assert days() == days_from_records() and len(days()) >= 4
    assert rollup_differences(since=T0 - timedelta(days=2), until=T0 + timedelta(days=2)) == []
    record(owner, at=T0 + timedelta(hours=2), cost=7)  # new meanwhile: counted by the rebuild
    rollup_rebuild(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert days() == days_from_records()
    from apps.usage.models import UsageDay

    day = T0.replace(hour=0)
    UsageDay.objects.filter(day=day, user=owner).update(cost=10**9)
    problems = rollup_differences(since=T0, until=T0 + timedelta(hours=1))
    assert len(problems) == 1 and str(10**9) in problems[0]
    rollup_rebuild(since=T0 + timedelta(hours=5), until=T0 + timedelta(hours=6))
    assert days() == days_from_records()
