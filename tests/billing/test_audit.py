"""Billing in the audit log: the budget, the low-balance warning and auto top-up are the
user's changes; top-ups credited and refunds taken back are Stripe's (the system's), once
each however often Stripe delivers; a saved card is the user's, a closed account's card
goes with the account."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.services import user_delete
from apps.audit.models import AuditEvent
from apps.core.money import MICRO
from tests.audit.hooks import IP, only_event, owner_browser
from tests.billing.test_auto_topup import save_card
from tests.billing.test_billing import charge, paid_payment
from tests.billing.webhooks import event
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(owner):
    return owner_browser(owner)


def test_budget_low_balance_and_auto_top_up_settings(browser, owner):
    AccountFactory(user=owner)
    browser.post(reverse("billing:budget"), {"budget": "25"})
    budget = only_event(action="budget.changed")
    assert (budget.before, budget.after) == (
        {"monthly_budget": None},
        {"monthly_budget": 25 * MICRO},
    )
    assert (budget.actor_id, budget.ip) == (owner.pk, IP)
    browser.post(reverse("billing:budget"), {"budget": ""})
    removed = AuditEvent.objects.filter(action="budget.changed").order_by("-id").first()
    assert removed.after == {"monthly_budget": None}
    browser.post(reverse("billing:low_balance"), {"threshold": "7"})
    low = only_event(action="settings.changed")
    assert low.after == {"low_balance_threshold": 7 * MICRO}
    response = browser.post(
        reverse("billing:auto_topup"),
        {"auto-threshold": "50", "auto-dollars": "30"},  # off: no card needed
    )
    assert response.status_code == 302, response.content.decode()
    auto = only_event(action="auto_topup.changed")
    assert auto.before["threshold"] != auto.after["threshold"] == 50 * MICRO
    assert auto.after.get("dollars") == 30 and "enabled" not in auto.after


def test_a_top_up_and_its_refund_are_recorded_once_each(owner_client, owner, stripe_on, deliver):
    payment = paid_payment(owner_client, deliver)  # $10 = 1000 credits
    session = {"id": payment.checkout_session_id}
    topup = AuditEvent.objects.get(action="topup.succeeded")
    assert (topup.account_id, topup.actor_id, topup.actor_label) == (owner.pk, None, "Stripe")
    assert topup.after == {"amount": "US$10.00", "credits": 1000 * MICRO}
    assert topup.target == f"stripe:{session['id']}"
    refunds = [{"id": "re_1", "amount": 300, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, refunds, 300)))
    deliver(event("charge.refunded", charge(payment, refunds, 300)))  # delivered again
    refund = AuditEvent.objects.get(action="refund.issued")
    assert refund.after == {"amount": "US$3.00", "credits": -300 * MICRO}
    assert (refund.target, refund.actor_label) == ("stripe-refund:re_1", "Stripe")
    assert AuditEvent.objects.filter(action="topup.succeeded").count() == 1


def test_saving_a_card_and_closing_the_account(owner, stripe_on):
    browser = Client(REMOTE_ADDR="2001:db8::7")
    browser.force_login(owner)
    session = save_card(browser)
    saved = AuditEvent.objects.get(action="card.saved")
    assert (saved.actor_id, saved.ip, saved.before) == (owner.pk, "2001:db8::7", None)
    assert saved.after == {"card": "visa •••• 4242"}
    # Stripe's webhook for the same setup changes nothing: no second event.
    from tests.billing.test_auto_topup import deliver as deliver_event

    assert deliver_event(event("checkout.session.completed", session)).status_code == 200
    assert AuditEvent.objects.filter(action="card.saved").count() == 1
    save_card(browser, "pm_card_chargeDeclined")
    replaced = AuditEvent.objects.filter(action="card.saved").latest("id")
    assert replaced.before == {"card": "visa •••• 4242"}
    assert replaced.after == {"card": "visa •••• 0002"}
    user_delete(user_id=owner.pk, actor=owner)
    removed = AuditEvent.objects.get(action="card.removed")
    assert removed.before == {"card": "visa •••• 0002"} and removed.after is None
    assert AuditEvent.objects.filter(action="account.deleted").count() == 1


def test_an_automatic_top_up_credited_is_recorded_once(owner):
    from apps.billing import services
    from apps.billing.models import Payment

    AccountFactory(user=owner)
    Payment.objects.create(
        user=owner,
        amount_cents=2000,
        currency="usd",
        credits=2000 * MICRO,
        automatic=True,
        payment_intent_id="pi_auto_1",
    )
    intent = {"id": "pi_auto_1", "status": "succeeded", "amount_received": 2000, "currency": "usd"}
    assert services.payment_intent_fulfil(intent=intent) == "payment paid"
    services.payment_intent_fulfil(intent=intent)  # the webhook after the run: nothing new
    event = only_event(action="topup.succeeded")
    assert (event.target, event.actor_id, event.actor_label) == ("stripe:pi_auto_1", None, "Stripe")
    assert event.after == {"amount": "US$20.00", "credits": 2000 * MICRO}
