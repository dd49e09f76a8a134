import pytest

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.errors import InsufficientCredits, InvalidAmount
from apps.credits.models import Account, Hold, LedgerEntry
from apps.credits.selectors import ledger_problems
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_signup_grant_is_500_credits_once_per_user():
    user = UserFactory()
    first = services.credits_grant_signup(user_id=user.pk)
    second = services.credits_grant_signup(user_id=user.pk)
    account = Account.objects.get(user=user)
    assert first is not None and first.kind == "signup_grant" and first.amount == 500 * MICRO
    assert second is None
    assert account.balance == 500 * MICRO
    assert LedgerEntry.objects.filter(account=account).count() == 1
    assert ledger_problems() == []


def test_grant_with_same_reference_applies_once_and_records_balance_after():
    user = UserFactory()
    entry = services.credits_grant(user_id=user.pk, amount=3 * MICRO, kind="topup", reference="x:1")
    services.credits_grant(user_id=user.pk, amount=3 * MICRO, kind="topup", reference="x:1")
    services.credits_grant(user_id=user.pk, amount=2 * MICRO, kind="topup", reference="x:2")
    assert entry.balance_after == 3 * MICRO
    assert Account.objects.get(user=user).balance == 5 * MICRO


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_grant_rejects_non_positive_or_non_integer_amounts(amount):
    user = UserFactory()
    with pytest.raises(InvalidAmount):
        services.credits_grant(user_id=user.pk, amount=amount, kind="topup", reference="bad")
    assert not LedgerEntry.objects.exists()


def test_hold_reserves_and_refuses_beyond_available(funded_account):
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=7 * MICRO, reference="r1")
    with pytest.raises(InsufficientCredits) as exc:
        services.credits_hold(account_id=account.pk, amount=4 * MICRO, reference="r2")
    assert exc.value.needed == 4 * MICRO
    assert exc.value.available == 3 * MICRO
    assert "4.0000" in exc.value.message and "3.0000" in exc.value.message
    account.refresh_from_db()
    assert (account.balance, account.held) == (10 * MICRO, 7 * MICRO)
    assert not Hold.objects.filter(reference="r2").exists()
    assert ledger_problems() == []


def test_settle_charges_real_cost_releases_rest_and_is_idempotent(funded_account):
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=5 * MICRO, reference="req-1")
    first = services.credits_settle(reference="req-1", amount=2 * MICRO, memo="deepseek")
    again = services.credits_settle(reference="req-1", amount=2 * MICRO)
    assert (first.charged, first.closed, first.amount) == (2 * MICRO, True, 5 * MICRO)
    assert (again.charged, again.closed) == (2 * MICRO, False)
    account.refresh_from_db()
    assert (account.balance, account.held) == (8 * MICRO, 0)
    entry = LedgerEntry.objects.get(reference="usage:req-1")
    assert (entry.kind, entry.amount, entry.balance_after) == ("usage", -2 * MICRO, 8 * MICRO)
    assert Hold.objects.get(reference="req-1").status == "settled"
    assert ledger_problems() == []


def test_settle_charges_the_real_cost_beyond_the_hold_and_the_balance(funded_account):
    """What the provider billed is charged in full: an overrun takes the balance below zero,
    the ledger says so, and the account can hold nothing more until a top-up covers it."""
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=1 * MICRO, reference="req-2")
    result = services.credits_settle(reference="req-2", amount=50 * MICRO)
    assert (result.charged, result.amount) == (50 * MICRO, 1 * MICRO)
    account.refresh_from_db()
    assert (account.balance, account.held) == (-40 * MICRO, 0)
    entry = LedgerEntry.objects.get(reference="usage:req-2")
    assert (entry.amount, entry.balance_after) == (-50 * MICRO, -40 * MICRO)
    assert Hold.objects.get(reference="req-2").charged == 50 * MICRO
    with pytest.raises(InsufficientCredits, match="below zero"):
        services.credits_hold(account_id=account.pk, amount=1, reference="req-3")
    services.credits_grant(
        user_id=account.user_id, amount=41 * MICRO, kind="topup", reference="top-up"
    )
    services.credits_hold(account_id=account.pk, amount=1 * MICRO, reference="req-4")
    assert ledger_problems() == []


def test_release_charges_nothing_and_writes_no_entry(funded_account):
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=4 * MICRO, reference="req-3")
    services.credits_release(reference="req-3")
    services.credits_release(reference="req-3")
    account.refresh_from_db()
    assert (account.balance, account.held) == (10 * MICRO, 0)
    assert not LedgerEntry.objects.filter(kind="usage").exists()
    assert Hold.objects.get(reference="req-3").status == "released"


def test_settle_after_release_changes_nothing(funded_account):
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=4 * MICRO, reference="req-4")
    services.credits_release(reference="req-4")
    assert services.credits_settle(reference="req-4", amount=MICRO).charged == 0
    account.refresh_from_db()
    assert account.balance == 10 * MICRO


def test_unknown_hold_is_an_error():
    with pytest.raises(Hold.DoesNotExist):
        services.credits_settle(reference="nope", amount=1)


def test_adjust_needs_a_reason_and_cannot_deduct_below_held(funded_account, owner):
    account = funded_account(credits=10)
    with pytest.raises(InvalidAmount):
        services.credits_adjust(user_id=account.user_id, amount=MICRO, reason="  ", actor_id=None)
    services.credits_hold(account_id=account.pk, amount=6 * MICRO, reference="h")
    with pytest.raises(InsufficientCredits):
        services.credits_adjust(
            user_id=account.user_id, amount=-5 * MICRO, reason="fraud", actor_id=owner.pk
        )
    entry = services.credits_adjust(
        user_id=account.user_id, amount=-4 * MICRO, reason="goodwill reversal", actor_id=owner.pk
    )
    assert (entry.kind, entry.amount, entry.memo, entry.created_by) == (
        "adjustment",
        -4 * MICRO,
        "goodwill reversal",
        owner,
    )
    account.refresh_from_db()
    assert account.balance == 6 * MICRO
    assert ledger_problems() == []


def test_adjust_with_a_reused_reference_applies_once(funded_account):
    account = funded_account(credits=1)
    services.credits_adjust(
        user_id=account.user_id, amount=MICRO, reason="r", actor_id=None, reference="adj:1"
    )
    with pytest.raises(InvalidAmount):
        services.credits_adjust(
            user_id=account.user_id, amount=MICRO, reason="r", actor_id=None, reference="adj:1"
        )
    account.refresh_from_db()
    assert account.balance == 2 * MICRO


def test_account_ensure_returns_the_same_account():
    user = UserFactory()
    assert services.account_ensure(user_id=user.pk) == services.account_ensure(user_id=user.pk)
    assert Account.objects.filter(user=user).count() == 1
