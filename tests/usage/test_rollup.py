import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.usage.models import UsageHour
from apps.usage.services import ROLLUP_LOCK, RollupBusy, usage_rollup
from tests.keys.factories import make_key

from .factories import record

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


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


def test_hourly_buckets_per_user_key_and_model(owner, outsider):
    key, _ = make_key(owner)
    record(owner, key=key, at=T0 + timedelta(minutes=5), cost=100)
    record(owner, key=key, at=T0 + timedelta(minutes=55), cost=200, status=502)
    record(owner, key=key, at=T0 + timedelta(minutes=65), cost=300)
    record(owner, key=key, model="gpt-4o", at=T0 + timedelta(minutes=6), cost=50)
    record(outsider, at=T0 + timedelta(minutes=7), cost=7)
    assert usage_rollup(since=T0, until=T0 + timedelta(hours=3)) == 4
    assert buckets() == {
        (T0, owner.pk, key.pk, "demo-chat"): (2, 1, 20, 40, 300),
        (T0 + timedelta(hours=1), owner.pk, key.pk, "demo-chat"): (1, 0, 10, 20, 300),
        (T0, owner.pk, key.pk, "gpt-4o"): (1, 0, 10, 20, 50),
        (T0, outsider.pk, 0, "demo-chat"): (1, 0, 10, 20, 7),
    }


def test_reruns_and_overlaps_never_count_twice_and_late_records_are_picked_up(owner):
    record(owner, at=T0 + timedelta(minutes=1), cost=10)
    usage_rollup(since=T0, until=T0 + timedelta(hours=2))
    usage_rollup(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2))
    usage_rollup(since=T0, until=T0 + timedelta(hours=2))
    assert buckets()[(T0, owner.pk, 0, "demo-chat")] == (1, 0, 10, 20, 10)
    record(owner, at=T0 + timedelta(minutes=2), cost=5)  # committed late, in a past hour
    usage_rollup(since=T0, until=T0 + timedelta(hours=2))
    assert buckets()[(T0, owner.pk, 0, "demo-chat")] == (2, 0, 20, 40, 15)
    assert UsageHour.objects.count() == 1


def test_a_concurrent_run_is_refused(owner):
    cache.add(ROLLUP_LOCK, 1, timeout=60)
    with pytest.raises(RollupBusy):
        usage_rollup(since=T0)
    cache.delete(ROLLUP_LOCK)
    usage_rollup(since=T0)


def test_rollup_usage_command_rebuilds_history(owner):
    record(owner, at=datetime(2026, 1, 3, 4, 30, tzinfo=UTC))
    out = io.StringIO()
    call_command("rollup_usage", "--since", "2026-01-01", stdout=out)
    assert "1 hourly buckets rebuilt since 2026-01-01 00:00" in out.getvalue()
    assert UsageHour.objects.get().hour == datetime(2026, 1, 3, 4, tzinfo=UTC)
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("rollup_usage", "--since", "yesterday")


def test_the_beat_task_rolls_up_recent_hours(owner):
    from django.utils import timezone

    from apps.usage.tasks import rollup_recent_usage

    record(owner, at=timezone.now() - timedelta(minutes=3))
    assert rollup_recent_usage.delay().get() == 1
