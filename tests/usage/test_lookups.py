"""Every look-up of a usage record by request id is answered by the (request_id, created_at)
index, on the real partitioned table with a few hundred thousand records: no sequential scan,
no walk of every day's primary key (what `.first()`'s ORDER BY id LIMIT 1 planned)."""

import pytest
from django.db import connection
from django.utils import timezone

from apps.usage.journal import recorded_query
from apps.usage.models import UsageRecord
from apps.usage.partitions import partitions
from apps.usage.services import usage_record_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_records(owner):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO usage_usagerecord
                (request_id, user_id, model, prompt_tokens, completion_tokens, cached_tokens,
                 cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code,
                 latency_ms, ttft_ms, stream, usage_counted, created_at, deployment, attempts)
            SELECT 'req_bulk_' || g, %s, 'm', 1, 1, 0, 0, 0, 'chat', 1, 200, '', 1, 1, false,
                   false, now() - (g %% 5) * interval '1 day' - g * interval '1 ms', '', '[]'
            FROM generate_series(1, 300000) AS g
            """,
            [owner.pk],
        )
    # No ANALYZE: right after a bulk write (a replay) the statistics are stale, the worst case.
    return owner


def record_time(request_id: str):
    return UsageRecord.objects.get(request_id=request_id).created_at


def plan_of(queryset) -> str:
    return queryset.explain()


def assert_uses_the_request_index(plan: str) -> None:
    # Empty partitions (the days ahead) may be "scanned" at no cost; any with rows may not.
    scans = [line for line in plan.splitlines() if "Seq Scan" in line]
    assert all("cost=0.00..0.00" in line for line in scans), plan
    assert "request_id_created_at" in plan, plan  # the (request_id, created_at) index
    assert "_pkey" not in plan, plan  # not a walk of each partition's primary key


def test_settlement_journal_and_the_request_page_use_the_request_id_index(many_records):
    owner = many_records
    missing, when = "req_not_there", timezone.now()
    # request_settle's "already recorded?" (a replay's common case: it is not there).
    settle = UsageRecord.objects.filter(request_id=missing).order_by()[:1]
    assert_uses_the_request_index(plan_of(settle))
    assert usage_record_of(missing) is None
    assert usage_record_of("req_bulk_3").created_at <= when
    # The journal's bulk look-up: by request id and its outcomes' times, so it reads only the
    # partitions of those days, not the others' indexes (here: not the days created ahead).
    bulk = recorded_query(
        [
            {"request_id": "req_bulk_4", "created_at": "junk"},
            {"request_id": missing, "created_at": when.isoformat()},
            {"request_id": "req_bulk_11", "created_at": record_time("req_bulk_11")},
            {"request_id": "req_bulk_12", "created_at": record_time("req_bulk_12").isoformat()},
        ]
    )
    plan = plan_of(bulk)
    assert_uses_the_request_index(plan)
    with connection.cursor() as cursor:
        ahead = [name for day, name in partitions(cursor).items() if day > when.date()]
    assert ahead and not [name for name in ahead if name in plan], plan
    assert set(bulk) == {
        "req_bulk_11",
        "req_bulk_12",
    }  # 4 (four days old) is older than any time here
    # The request page's search by x-request-id (the owner's, newest first).
    from apps.console.selectors import usage_record_for_user

    page = UsageRecord.objects.filter(request_id=missing).order_by()[:10]
    assert_uses_the_request_index(plan_of(page))
    found = usage_record_for_user(user_id=owner.pk, request_id="req_bulk_12")
    assert found.request_id == "req_bulk_12"
