"""The request table by day on PostgreSQL: partitions ahead, retention by dropping whole days,
keyset paging across days, and the books exact under the posting rule with traffic."""

import contextlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageHour, UsageRecord
from apps.usage.partitions import (
    DEFAULT,
    partition_name,
    partitions,
    partitions_ensure,
    retention_apply,
)
from apps.usage.rollup import RollupBusy, rollup_step
from apps.usage.selectors import request_log, usage_charge_problems

from .factories import record

D0 = datetime(2020, 1, 10, tzinfo=UTC)


def where(request_id: str) -> str:
    """The partition that holds a record."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM usage_usagerecord WHERE request_id = %s",
            [request_id],
        )
        return cursor.fetchone()[0]


def existing() -> dict:
    with connection.cursor() as cursor:
        return partitions(cursor)


@pytest.mark.django_db
def test_the_table_is_partitioned_by_day_with_days_ahead(settings):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'usage_usagerecord'")
        assert cursor.fetchone()[0] == "p"
    today = timezone.now().astimezone(UTC).date()
    days = existing()
    assert all(
        today + timedelta(days=n) in days for n in range(settings.USAGE_PARTITIONS_AHEAD_DAYS)
    )
    later = timezone.now() + timedelta(days=30)
    created = partitions_ensure(now=later, ahead=2)
    assert created == [partition_name((later + timedelta(days=n)).date()) for n in range(3)]
    assert partitions_ensure(now=later, ahead=2) == []  # already there: nothing to do


@pytest.mark.django_db
def test_a_record_for_a_day_without_a_partition_waits_in_the_default_and_moves_in(owner):
    early = record(owner, at=D0 + timedelta(hours=3))
    assert where(early.request_id) == DEFAULT
    assert partitions_ensure(now=D0, ahead=0) == [partition_name(D0.date())]
    assert where(early.request_id) == partition_name(D0.date())
    assert UsageRecord.objects.filter(pk=early.pk).exists()  # same row, same id


@pytest.mark.django_db
def test_retention_drops_whole_old_days_and_keeps_the_rollups(owner):
    partitions_ensure(now=D0, ahead=1)
    for hours in (1, 2, 30):  # two on D0, one on the next day
        record(owner, at=D0 + timedelta(hours=hours), cost=10)
    recent = record(owner, at=timezone.now(), cost=10)
    later = D0 + timedelta(days=40)
    # Not rolled up yet: its cost is not in the ledger, so its day is not dropped.
    assert retention_apply(now=later, days=30)["dropped"] == []
    assert UsageRecord.objects.count() == 4
    rollup_step()
    hours_before = list(UsageHour.objects.order_by("hour").values_list("hour", "requests"))
    result = retention_apply(now=later, days=30)
    assert result["dropped"] == [
        partition_name(D0.date()),
        partition_name(D0.date() + timedelta(1)),
    ]
    assert list(UsageRecord.objects.values_list("pk", flat=True)) == [recent.pk]
    assert D0.date() not in existing()
    assert list(UsageHour.objects.order_by("hour").values_list("hour", "requests")) == hours_before


@pytest.mark.django_db
def test_retention_deletes_old_rows_left_in_the_default_partition(owner):
    stray = record(owner, at=D0, cost=0)
    assert where(stray.request_id) == DEFAULT
    rollup_step()
    assert retention_apply(now=D0 + timedelta(days=100), days=90)["deleted"] == 1
    assert not UsageRecord.objects.filter(pk=stray.pk).exists()


@pytest.mark.django_db
def test_the_request_log_pages_by_keyset_across_a_day_boundary(owner):
    midnight = datetime.combine(timezone.now().date(), datetime.min.time(), tzinfo=UTC)
    partitions_ensure(now=midnight - timedelta(days=1), ahead=1)
    made = [record(owner, at=midnight + timedelta(seconds=s)) for s in range(-5, 5)]
    made += [record(owner, at=midnight)]  # a tie on time: the id orders it
    assert {where(r.request_id) for r in made} == {
        partition_name((midnight - timedelta(days=1)).date()),
        partition_name(midnight.date()),
    }
    seen, cursor = [], None
    while True:
        page, cursor = request_log(user_id=owner.pk, cursor=cursor, limit=3)
        seen += [r.pk for r in page]
        if cursor is None:
            break
    expected = [r.pk for r in sorted(made, key=lambda r: (r.created_at, r.pk), reverse=True)]
    assert seen == expected


@pytest.mark.django_db(transaction=True)
def test_the_books_are_exact_with_settlements_rollups_and_checks_running_together(
    funded_account,
):
    """Thirty requests settle in threads while rollups post and the ledger check runs: every
    check sees balance = ledger - pending, and all is posted once in the end."""
    from apps.usage.services import RequestOutcome, request_settle

    account = funded_account(credits=100)
    stop = threading.Event()
    findings = []

    def settle(i):
        reference = f"req_concurrent_{i}"
        credits.credits_hold(account_id=account.pk, amount=MICRO, reference=reference)
        request_settle(
            outcome=RequestOutcome(
                request_id=reference,
                user_id=account.user_id,
                api_key_id=None,
                model="m",
                status=200,
                created_at=timezone.now(),
                completion_tokens=3,
                cost=MICRO // 3 + i,
            )
        )

    def watch():
        while not stop.is_set():
            with contextlib.suppress(RollupBusy):
                rollup_step()
            findings.extend(p.describe() for p in ledger_problems())
            findings.extend(usage_charge_problems())
        connection.close()

    def worker(start):
        for i in range(start, 30, 3):
            settle(i)
        connection.close()

    watchers = [threading.Thread(target=watch) for _ in range(2)]
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in watchers + workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    for thread in watchers:
        thread.join()
    rollup_step()
    assert findings == []
    assert ledger_problems() == [] and usage_charge_problems() == []
    account.refresh_from_db()
    spent = sum(MICRO // 3 + i for i in range(30))
    assert account.balance == 100 * MICRO - spent
