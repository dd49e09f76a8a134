from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Hold
from apps.credits.selectors import ledger_problems
from apps.keys.models import ApiKey
from apps.keys.services import api_key_reserve
from apps.usage.models import UsageRecord
from apps.usage.services import RequestOutcome, holds_release_expired, request_settle
from tests.keys.factories import make_key

pytestmark = pytest.mark.django_db


def outcome(account, key, request_id="req-1", **kwargs):
    fields = {
        "request_id": request_id,
        "user_id": account.user_id,
        "api_key_id": key.pk,
        "model": "deepseek-chat",
        "status": 200,
        "created_at": timezone.now(),
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "cost": 2 * MICRO,
    }
    fields.update(kwargs)
    return RequestOutcome(**fields)


def test_settle_charges_records_and_counts_key_spend_once(funded_account):
    account = funded_account(credits=10)
    key, _ = make_key(account.user, credit_limit=5 * MICRO)
    api_key_reserve(key_id=key.pk, amount=3 * MICRO)
    credits.credits_hold(
        account_id=account.pk, amount=3 * MICRO, reference="req-1", api_key_id=key.pk
    )
    record = request_settle(outcome=outcome(account, key))
    again = request_settle(outcome=outcome(account, key))
    assert again == record and UsageRecord.objects.count() == 1
    assert (record.cost, record.prompt_tokens, record.completion_tokens) == (2 * MICRO, 10, 20)
    account.refresh_from_db()
    key.refresh_from_db()
    assert (account.balance, account.held) == (8 * MICRO, 0)
    assert (key.spent, key.held) == (2 * MICRO, 0)
    assert ledger_problems() == []


def test_failed_request_releases_everything_and_records_the_error(funded_account):
    account = funded_account(credits=10)
    key, _ = make_key(account.user)
    credits.credits_hold(account_id=account.pk, amount=3 * MICRO, reference="req-2")
    record = request_settle(
        outcome=outcome(account, key, "req-2", status=502, cost=0, error_code="upstream_error")
    )
    assert (record.cost, record.status, record.error_code) == (0, 502, "upstream_error")
    account.refresh_from_db()
    assert (account.balance, account.held) == (10 * MICRO, 0)
    assert Hold.objects.get(reference="req-2").status == "released"


def test_request_without_hold_is_only_recorded(funded_account):
    account = funded_account(credits=10)
    key, _ = make_key(account.user)
    record = request_settle(outcome=outcome(account, key, "req-3", status=400, held=False, cost=0))
    assert record.status == 400
    account.refresh_from_db()
    assert account.balance == 10 * MICRO


def test_expired_holds_are_released_with_their_key_reservation(funded_account):
    account = funded_account(credits=10)
    key, _ = make_key(account.user, credit_limit=5 * MICRO)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api_key_reserve(key_id=key.pk, amount=MICRO)
        credits.credits_hold(
            account_id=account.pk, amount=MICRO, reference="old", ttl_seconds=60, api_key_id=key.pk
        )
        credits.credits_hold(account_id=account.pk, amount=MICRO, reference="new", ttl_seconds=600)
    assert holds_release_expired(now=start + timedelta(seconds=59)) == 0
    assert holds_release_expired(now=start + timedelta(seconds=61)) == 1
    account.refresh_from_db()
    assert account.held == MICRO
    assert ApiKey.objects.get(pk=key.pk).held == 0
    assert Hold.objects.get(reference="old").status == "expired"
    assert Hold.objects.get(reference="new").status == "active"
    assert ledger_problems() == []


def test_release_expired_holds_task_runs_the_service(funded_account):
    from apps.usage.tasks import release_expired_holds

    account = funded_account(credits=10)
    credits.credits_hold(account_id=account.pk, amount=MICRO, reference="t", ttl_seconds=0)
    assert release_expired_holds.delay().get() == 1
    account.refresh_from_db()
    assert account.held == 0


def test_settle_task_is_the_durable_fallback(funded_account):
    from apps.usage.tasks import settle_request

    account = funded_account(credits=10)
    key, _ = make_key(account.user)
    credits.credits_hold(account_id=account.pk, amount=3 * MICRO, reference="req-9")
    payload = outcome(account, key, "req-9").__dict__ | {"created_at": timezone.now().isoformat()}
    assert settle_request.delay(payload).get() == "req-9"
    account.refresh_from_db()
    assert account.balance == 8 * MICRO


@pytest.mark.parametrize("path", ["orm", "pg"])
def test_a_settlement_after_the_hold_expired_still_charges_the_real_cost(
    funded_account, path, transactional_db
):
    """A delivered request is billed even when its settlement arrives after the reaper expired
    its hold (a delayed hand-off): the cost is charged, the reservation not given back twice."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from apps.gateway.pg import PgMoney

    account = funded_account(credits=10)
    key, _ = make_key(account.user, credit_limit=5 * MICRO)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api_key_reserve(key_id=key.pk, amount=MICRO)
        credits.credits_hold(
            account_id=account.pk, amount=MICRO, reference="late", ttl_seconds=60, api_key_id=key.pk
        )
    assert holds_release_expired(now=start + timedelta(seconds=61)) == 1
    late = outcome(account, key, request_id="late", cost=3 * MICRO)
    for _ in range(2):  # a repeat changes nothing
        if path == "orm":
            request_settle(outcome=late)
        else:
            money = PgMoney()

            async def settle(money=money):
                try:
                    await money.settle(late, timezone.now())
                finally:
                    await money.close()

            # Its own thread and event loop, whatever runs in this one (the browser tests').
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, settle()).result()
    account.refresh_from_db()
    assert (account.balance, account.held) == (7 * MICRO, 0)
    hold = Hold.objects.get(reference="late")
    assert (hold.status, hold.charged) == ("settled", 3 * MICRO)
    key.refresh_from_db()
    assert (key.held, key.spent) == (0, 3 * MICRO)
    assert UsageRecord.objects.get(request_id="late").cost == 3 * MICRO
    assert ledger_problems() == []
