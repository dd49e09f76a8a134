"""Issue #24, 2 and the small ones: the budget card says when the budget is reached; a budget of
0 is allowed; one below this month's spending is saved with a warning; the help texts are
sentences; /billing/success/ without a checkout is the billing page, not a 404."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.billing.forms import AutoTopUpForm, BudgetForm, LowBalanceForm
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, month_of
from apps.keys.models import ApiKey
from tests.keys.factories import make_key

pytestmark = pytest.mark.django_db
BILLING = reverse("billing:index")


@pytest.fixture
def account(owner):
    credits.credits_grant_signup(user_id=owner.pk)
    return owner.credit_account


def spend_this_month(account, micro):
    Account.objects.filter(pk=account.pk).update(
        month_spent=micro, budget_month=month_of(timezone.now())
    )


def test_the_budget_card_says_when_it_is_reached(owner_client, owner, account):
    credits.credits_budget_set(user_id=owner.pk, budget=10 * MICRO)
    spend_this_month(account, 4 * MICRO)
    assert 'data-testid="budget-reached"' not in owner_client.get(BILLING).content.decode()
    spend_this_month(account, 10 * MICRO)
    body = owner_client.get(BILLING).content.decode()
    assert 'data-testid="budget-reached"' in body and "Reached:" in body


def test_a_suspended_account_is_told_so_with_a_way_to_support(owner_client, owner, account):
    """Issue #24, 2: the billing page of a suspended account says why the API refuses it, in
    a full sentence, and links to support."""
    assert "is suspended" not in owner_client.get(BILLING).content.decode()
    credits.credits_account_suspend(user_id=owner.pk, suspended=True)
    body = owner_client.get(BILLING).content.decode()
    alert = re.search(r'<ul class="messages" role="alert"><li class="error">(.*?)</li>', body)
    assert alert, "no suspension notice"
    text = re.sub(r"<[^>]+>", "", alert.group(1))
    assert text == (
        "Your API access is suspended while a payment dispute is open. Please contact support."
    )
    assert f'<a href="{reverse("support")}">contact support</a>' in alert.group(1)


def test_keys_at_their_credit_limit_are_a_notice_with_a_link_to_the_keys(
    owner_client, owner, account
):
    """Issue #24, 2: a key that spent its whole credit limit is refused whatever the balance;
    the billing page says how many there are (live, unexpired ones) and leads to the keys."""
    key, _ = make_key(owner, credit_limit=MICRO)
    make_key(owner, name="fine", credit_limit=5 * MICRO)
    assert 'data-testid="keys-at-limit"' not in owner_client.get(BILLING).content.decode()
    ApiKey.objects.filter(pk=key.pk).update(spent=MICRO)
    revoked, _ = make_key(owner, name="gone", credit_limit=MICRO)
    ApiKey.objects.filter(pk=revoked.pk).update(spent=MICRO, revoked_at=timezone.now())
    body = owner_client.get(BILLING).content.decode()
    notice = re.search(r'data-testid="keys-at-limit">(.*?)</li>', body, re.S)
    assert notice, "no notice of the keys at their limit"
    assert "Keys at their credit limit: 1." in notice.group(1)
    assert f'<a href="{reverse("keys:list")}">' in notice.group(1)


def test_a_budget_of_zero_is_allowed_and_reached_at_once(owner_client, owner, account):
    response = owner_client.post(reverse("billing:budget"), {"budget": "0"})
    assert response.status_code == 302
    assert Account.objects.get(pk=account.pk).monthly_budget == 0
    body = owner_client.get(BILLING).content.decode()
    assert 'data-testid="budget-reached"' in body
    assert 'value="0' in body  # the form shows the budget, not an empty field


def test_a_budget_below_this_months_spending_is_saved_with_a_warning(owner_client, account):
    spend_this_month(account, 4 * MICRO)
    response = owner_client.post(reverse("billing:budget"), {"budget": "3"}, follow=True)
    body = response.content.decode()
    assert Account.objects.get(pk=account.pk).monthly_budget == 3 * MICRO
    assert "already at or above this budget" in body
    response = owner_client.post(reverse("billing:budget"), {"budget": "30"}, follow=True)
    assert "already at or above this budget" not in response.content.decode()


def test_help_texts_are_sentences():
    texts = [
        str(BudgetForm().fields["budget"].help_text),
        str(LowBalanceForm().fields["threshold"].help_text),
        str(AutoTopUpForm(prefix="auto").fields["threshold"].help_text),
    ]
    assert all(t[0].isupper() and t.endswith(".") for t in texts), texts


def test_success_without_a_checkout_is_the_billing_page(owner_client, account, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = owner_client.get(reverse("billing:success"))
    assert response.status_code == 302 and response.url == BILLING
