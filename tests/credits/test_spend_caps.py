"""A spend cap (an organization member's monthly cap) in the money services: held in the same
transaction as the balance, settled, released and expired with the hold, checked by
``check_ledger``, and never overspent under concurrency."""

import datetime
import os

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.errors import BudgetReached, InsufficientCredits, MemberCapReached
from apps.credits.models import Account, Hold, SpendCap, month_of
from apps.credits.selectors import ledger_problems, spend_cap_problems
from tests.threads import run_concurrently, unexpected


def capped(account, limit_credits=None, models=()):
    return services.spend_cap_create(
        user_id=account.user_id,
        monthly_limit=None if limit_credits is None else limit_credits * MICRO,
        allowed_models=models,
    )


def hold(account, cap, amount, ref):
    return services.credits_hold(
        account_id=account.pk, amount=amount, reference=ref, spend_cap_id=cap.pk
    )


@pytest.mark.django_db
class TestArithmetic:
    def test_a_hold_reserves_on_the_cap_and_the_hold_remembers_it(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        taken = hold(account, cap, 4 * MICRO, "r1")
        assert taken.spend_cap_id == cap.pk
        cap.refresh_from_db()
        account.refresh_from_db()
        assert (cap.held, cap.month_spent, account.held) == (4 * MICRO, 0, 4 * MICRO)
        assert spend_cap_problems() == [] and ledger_problems() == []

    def test_a_hold_beyond_the_cap_is_refused_naming_the_cap_and_takes_nothing(
        self, funded_account
    ):
        account = funded_account(credits=100)
        cap = capped(account, 5)
        hold(account, cap, 3 * MICRO, "r1")
        with pytest.raises(MemberCapReached) as refused:
            hold(account, cap, 3 * MICRO, "r2")
        assert refused.value.available == 2 * MICRO and refused.value.limit == 5 * MICRO
        assert refused.value.code == "member_cap_reached"
        assert "monthly spending cap in this organization (5" in refused.value.message
        assert isinstance(refused.value, InsufficientCredits)  # lowered like the balance
        account.refresh_from_db()
        cap.refresh_from_db()
        assert (account.held, cap.held) == (3 * MICRO, 3 * MICRO)  # the account's rolled back
        assert not Hold.objects.filter(reference="r2").exists()

    def test_the_month_spent_and_the_held_both_count_against_the_limit(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        hold(account, cap, 6 * MICRO, "r1")
        services.credits_settle(reference="r1", amount=5 * MICRO)
        hold(account, cap, 3 * MICRO, "r2")
        cap.refresh_from_db()
        assert (cap.month_spent, cap.held) == (5 * MICRO, 3 * MICRO)
        assert cap.month == month_of(timezone.now())
        with pytest.raises(MemberCapReached) as refused:
            hold(account, cap, 3 * MICRO, "r3")
        assert refused.value.available == 2 * MICRO
        hold(account, cap, 2 * MICRO, "r4")  # exactly to the limit

    def test_the_refusal_names_the_tightest_of_balance_budget_and_cap(self, funded_account):
        account = funded_account(credits=4)
        cap = capped(account, 10)
        with pytest.raises(InsufficientCredits) as refused:
            hold(account, cap, 5 * MICRO, "r1")
        assert type(refused.value) is InsufficientCredits
        assert refused.value.available == 4 * MICRO
        services.credits_budget_set(user_id=account.user_id, budget=3 * MICRO)
        with pytest.raises(BudgetReached):
            hold(account, cap, 5 * MICRO, "r2")
        services.spend_cap_update(cap_id=cap.pk, monthly_limit=2 * MICRO)
        with pytest.raises(MemberCapReached) as refused:
            hold(account, cap, 5 * MICRO, "r3")
        assert refused.value.available == 2 * MICRO

    def test_settle_moves_the_hold_into_the_months_spending_also_beyond_it(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        hold(account, cap, 2 * MICRO, "r1")
        closed = services.credits_settle(reference="r1", amount=3 * MICRO)  # an overrun
        assert closed.spend_cap_id == cap.pk
        cap.refresh_from_db()
        assert (cap.held, cap.month_spent) == (0, 3 * MICRO)
        again = services.credits_settle(reference="r1", amount=3 * MICRO)
        assert not again.closed
        cap.refresh_from_db()
        assert cap.month_spent == 3 * MICRO  # once
        assert spend_cap_problems() == [] and ledger_problems() == []

    def test_release_and_expiry_give_the_reservation_back_charging_nothing(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        hold(account, cap, 2 * MICRO, "r1")
        hold(account, cap, 3 * MICRO, "r2")
        services.credits_release(reference="r1")
        services.credits_expire_hold(reference="r2")
        cap.refresh_from_db()
        assert (cap.held, cap.month_spent) == (0, 0)
        # A settlement after the expiry still charges, and counts in the month, once.
        services.credits_settle(reference="r2", amount=MICRO)
        cap.refresh_from_db()
        assert (cap.held, cap.month_spent) == (0, MICRO)
        assert spend_cap_problems() == [] and ledger_problems() == []

    def test_a_new_month_starts_from_nothing(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        last_month = month_of(timezone.now()) - datetime.timedelta(days=1)
        SpendCap.objects.filter(pk=cap.pk).update(
            month=last_month.replace(day=1), month_spent=10 * MICRO
        )
        hold(account, cap, 9 * MICRO, "r1")  # last month's 10 credits do not count
        services.credits_settle(reference="r1", amount=MICRO)
        cap.refresh_from_db()
        assert (cap.month, cap.month_spent, cap.held) == (month_of(timezone.now()), MICRO, 0)

    def test_a_cap_without_a_limit_only_counts(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, None, models=["m1"])
        hold(account, cap, 60 * MICRO, "r1")
        services.credits_settle(reference="r1", amount=50 * MICRO)
        cap.refresh_from_db()
        assert (cap.held, cap.month_spent) == (0, 50 * MICRO)

    def test_a_hold_without_a_cap_leaves_caps_alone(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 1)
        services.credits_hold(account_id=account.pk, amount=5 * MICRO, reference="r1")
        services.credits_settle(reference="r1", amount=5 * MICRO)
        cap.refresh_from_db()
        assert (cap.held, cap.month_spent) == (0, 0)

    def test_check_ledger_names_a_cap_whose_held_disagrees_with_its_holds(self, funded_account):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        hold(account, cap, 2 * MICRO, "r1")
        with open(os.devnull, "w") as quiet:
            call_command("check_ledger", stdout=quiet)
        SpendCap.objects.filter(pk=cap.pk).update(held=MICRO)
        assert spend_cap_problems() == [
            f"spend cap {cap.pk} (account {account.pk}): held {MICRO} µcr != active holds "
            f"{2 * MICRO} µcr"
        ]
        with pytest.raises(CommandError), open(os.devnull, "w") as quiet:
            call_command("check_ledger", stdout=quiet, stderr=quiet)

    def test_a_changed_cap_tells_its_listeners_now_and_after_commit(
        self, funded_account, django_capture_on_commit_callbacks
    ):
        account = funded_account(credits=100)
        cap = capped(account, 10)
        heard = []
        services.SPEND_CAP_CHANGED.append(heard.append)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                services.spend_cap_update(cap_id=cap.pk, monthly_limit=MICRO, allowed_models=["x"])
        finally:
            services.SPEND_CAP_CHANGED.remove(heard.append)
        assert heard == [cap.pk, cap.pk]
        cap.refresh_from_db()
        assert (cap.monthly_limit, cap.allowed_models) == (MICRO, ["x"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("balance", [40, 20])
def test_fifty_concurrent_requests_on_five_caps_overspend_no_cap_and_no_balance(
    funded_account, balance
):
    """The ORM path: 50 requests (hold 1 credit, charge it) across 5 caps, two of them tight,
    10 requests each: the caps alone bind (40 credits), or the balance too (20 credits)."""
    account = funded_account(credits=balance)
    limits = [2, 3, 10, 10, None]
    caps = [capped(account, limit) for limit in limits]

    def request(i):
        ref = f"req{i}"
        hold(account, caps[i % 5], MICRO, ref)
        return services.credits_settle(reference=ref, amount=MICRO).charged

    results = run_concurrently(request, 50)
    assert unexpected(results, int, InsufficientCredits) == []
    taken = [sum(1 for i, r in enumerate(results) if i % 5 == n and r == MICRO) for n in range(5)]
    for index, cap in enumerate(caps):
        cap.refresh_from_db()
        assert cap.held == 0 and cap.month_spent == taken[index] * MICRO
        assert limits[index] is None or taken[index] <= limits[index]
    if balance == 40:  # the balance covers every cap: each stops exactly at its limit
        assert taken == [2, 3, 10, 10, 10]
    assert sum(taken) <= balance
    account = Account.objects.get(pk=account.pk)
    assert account.held == 0 and account.balance == (balance - sum(taken)) * MICRO >= 0
    assert any(isinstance(r, MemberCapReached) for r in results)
    assert ledger_problems() == [] and spend_cap_problems() == []
