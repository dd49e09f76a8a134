"""Money under concurrency, on the real PostgreSQL: threads with their own connections."""

import pytest

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.errors import InsufficientCredits
from apps.credits.models import Account, Hold, LedgerEntry
from apps.credits.selectors import ledger_problems
from tests.factories import UserFactory
from tests.threads import run_concurrently, unexpected

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_concurrent_holds_on_ten_credits_take_exactly_ten(funded_account):
    account = funded_account(credits=10)
    results = run_concurrently(
        lambda i: services.credits_hold(account_id=account.pk, amount=MICRO, reference=f"h{i}"),
        50,
    )
    assert unexpected(results, Hold, InsufficientCredits) == []
    taken = [r for r in results if isinstance(r, Hold)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(taken), len(refused)) == (10, 40)
    account.refresh_from_db()
    assert (account.balance, account.held) == (10 * MICRO, 10 * MICRO)
    assert ledger_problems() == []


def test_concurrent_hold_and_settle_never_overspend(funded_account):
    account = funded_account(credits=20)

    def request(i):
        ref = f"req{i}"
        services.credits_hold(account_id=account.pk, amount=3 * MICRO, reference=ref)
        return services.credits_settle(reference=ref, amount=2 * MICRO).charged

    results = run_concurrently(request, 30)
    assert unexpected(results, int, InsufficientCredits) == []
    charged = [r for r in results if isinstance(r, int)]
    assert len(charged) >= 6
    account.refresh_from_db()
    assert account.held == 0
    assert account.balance == 20 * MICRO - sum(charged) >= 0
    assert ledger_problems() == []


def test_concurrent_settlements_of_one_hold_charge_once(funded_account):
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=5 * MICRO, reference="once")
    results = run_concurrently(
        lambda i: services.credits_settle(reference="once", amount=4 * MICRO), 12
    )
    assert unexpected(results, services.HoldClosed) == []
    assert [r.charged for r in results] == [4 * MICRO] * 12
    assert sum(r.closed for r in results) == 1
    account.refresh_from_db()
    assert (account.balance, account.held) == (6 * MICRO, 0)
    assert LedgerEntry.objects.filter(kind="usage").count() == 1


def test_concurrent_signup_grants_for_one_user_grant_once():
    user = UserFactory()
    results = run_concurrently(lambda i: services.credits_grant_signup(user_id=user.pk), 16)
    assert unexpected(results, LedgerEntry, type(None)) == []
    assert sum(1 for r in results if isinstance(r, LedgerEntry)) == 1
    assert all(r is None or isinstance(r, LedgerEntry) for r in results)
    assert Account.objects.get(user=user).balance == 500 * MICRO
    assert ledger_problems() == []


def test_concurrent_grants_and_deductions_add_up(funded_account):
    account = funded_account(credits=10)

    def move(i):
        amount = MICRO if i % 2 else -MICRO
        return services.credits_adjust(
            user_id=account.user_id, amount=amount, reason=f"t{i}", actor_id=None
        )

    results = run_concurrently(move, 20)
    assert unexpected(results, LedgerEntry) == []
    account.refresh_from_db()
    assert account.balance == 10 * MICRO
    balances_after = sorted(e.balance_after for e in LedgerEntry.objects.filter(kind="adjustment"))
    assert len(set(balances_after)) <= 20 and min(balances_after) >= 0
    assert ledger_problems() == []
