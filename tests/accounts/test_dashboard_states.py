"""Issue #24, 2 and 4: the dashboard says why requests are refused though the balance is fine
(a reached budget, a suspended account, keys at their credit limit); the balance is the live
row; Available shows only when something is held; the sparkline is labelled."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.models import Account, month_of
from apps.keys.models import ApiKey
from tests.keys.factories import make_key

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("dashboard")


@pytest.fixture
def account(owner):
    services.credits_grant_signup(user_id=owner.pk)
    return owner.credit_account


def spend_this_month(account, micro):
    Account.objects.filter(pk=account.pk).update(
        month_spent=micro, budget_month=month_of(timezone.now())
    )


def test_a_healthy_account_has_no_warning(owner_client, account):
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="account-warning"' not in body
    assert 'data-testid="keys-warning"' not in body


def test_a_reached_budget_is_a_warning_banner(owner_client, owner, account):
    services.credits_budget_set(user_id=owner.pk, budget=10 * MICRO)
    spend_this_month(account, 10 * MICRO)
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="account-warning"' in body and "Monthly budget reached." in body
    assert reverse("billing:index") + "#budget-title" in body


def test_a_budget_refusal_counts_as_reached_until_the_budget_changes(owner_client, owner, account):
    services.credits_budget_set(user_id=owner.pk, budget=10 * MICRO)
    spend_this_month(account, 9_990_000)  # holds refuse just short of the budget
    services.credits_budget_reached(account_id=account.pk, month=month_of(timezone.now()))
    assert "Monthly budget reached." in owner_client.get(DASHBOARD).content.decode()
    services.credits_budget_set(user_id=owner.pk, budget=20 * MICRO)
    assert "Monthly budget reached." not in owner_client.get(DASHBOARD).content.decode()


def test_a_suspended_account_is_a_warning_banner(owner_client, owner, account):
    services.credits_account_suspend(user_id=owner.pk, suspended=True)
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="account-warning"' in body and "Your account is suspended." in body


def test_keys_at_their_credit_limit_are_a_warning(owner_client, owner, account):
    key, _ = make_key(owner, credit_limit=MICRO)
    make_key(owner, name="fine", credit_limit=5 * MICRO)
    ApiKey.objects.filter(pk=key.pk).update(spent=MICRO)
    revoked, _ = make_key(owner, name="gone", credit_limit=MICRO)
    ApiKey.objects.filter(pk=revoked.pk).update(spent=MICRO, revoked_at=timezone.now())
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="keys-warning"' in body
    assert "Keys at their credit limit: 1." in body


def test_available_only_when_something_is_held(owner_client, account):
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="available"' not in body and 'data-testid="held"' not in body
    services.credits_hold(account_id=account.pk, amount=2 * MICRO, reference="h")
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="available"' in body and 'data-testid="held"' in body


def test_the_balance_is_live_and_the_sparkline_labelled(owner_client, account):
    # A charge taken from the balance whose ledger row the rollup has not written yet.
    Account.objects.filter(pk=account.pk).update(balance=account.balance - 3 * MICRO)
    body = owner_client.get(DASHBOARD).content.decode()
    assert 'data-testid="balance">497.00' in body
    assert 'data-testid="ledger-lag"' in body
    assert 'data-testid="sparkline-label"' in body and "Last 7 days: 0.00 credits" in body


def test_the_dashboard_query_count_does_not_grow_with_keys(owner_client, owner, account):
    make_key(owner)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(DASHBOARD)
    for i in range(5):
        make_key(owner, name=f"k{i}", credit_limit=MICRO)
    with CaptureQueriesContext(connection) as many:
        owner_client.get(DASHBOARD)
    assert len(many) == len(few)


def test_an_expired_key_at_its_limit_is_not_counted(owner_client, owner, account):
    key, _ = make_key(owner, credit_limit=MICRO)
    ApiKey.objects.filter(pk=key.pk).update(
        spent=MICRO, expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert 'data-testid="keys-warning"' not in owner_client.get(DASHBOARD).content.decode()


def test_the_dashboard_charts_30_days_of_spend_and_lists_the_latest_requests(owner_client, owner):
    """Issue #24, 4: a spend chart (by model, a bar a day) and the ten latest requests, each
    linking to its page, with the key that made it; the usage page and log one click away."""
    import json

    from apps.usage.rollup import rollup_step
    from tests.usage.factories import record

    key, _ = make_key(owner, name="laptop")
    now = timezone.now()
    rows = [
        record(owner, key=key, at=now - timedelta(days=3), cost=2_000_000, model="gpt-4o"),
        *(
            record(owner, key=key, at=now - timedelta(minutes=20 - i), cost=100_000)
            for i in range(12)
        ),
    ]
    rollup_step()
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert "3.20 credits over 13 requests" in body
    chart = json.loads(
        body.split('id="usage-chart-data" type="application/json">')[1].split("<")[0]
    )
    assert len(chart["labels"]) == 30
    assert chart["cost"]["gpt-4o"][-4] == 2.0 and sum(chart["cost"]["demo-chat"]) == 1.2
    assert "vendor/chartjs" in body
    recent = body.split('data-testid="account-recent"')[1].split("</section>")[0]
    assert recent.split("<tbody>")[1].count("<tr>") == 10
    newest, oldest_shown = rows[-1], rows[3]
    assert reverse("console:request_detail", args=[newest.request_id]) in recent
    assert oldest_shown.request_id in recent and rows[2].request_id not in recent
    assert "laptop" in recent
    assert 'href="/usage/requests/?range=30d"' in recent


def test_a_new_account_says_there_is_no_spend_yet(owner_client, owner):
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="account-no-spend"' in body
    assert "No requests in the last 30 days." in body
