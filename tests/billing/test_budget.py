"""The monthly budget on the billing page, its alert e-mails (each level once a month) and the
invoice and receipt links of the payment history."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.billing import services
from apps.billing.models import BudgetAlert, Payment
from apps.billing.tasks import send_budget_alerts
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.errors import BudgetReached, InsufficientCredits
from apps.credits.models import Account
from apps.credits.selectors import ledger_problems

from . import stripe_standin
from .webhooks import event

pytestmark = pytest.mark.django_db
BILLING = reverse("billing:index")


def spend(account, amount, ref):
    credits.credits_hold(account_id=account.pk, amount=amount, reference=ref)
    credits.credits_settle(reference=ref, amount=amount)


def test_the_budget_is_set_on_the_billing_page(owner_client, owner, funded_account):
    credits.credits_grant_signup(user_id=owner.pk)
    response = owner_client.post(reverse("billing:budget"), {"budget": "10"})
    assert response.status_code == 302
    account = Account.objects.get(user=owner)
    assert account.monthly_budget == 10 * MICRO
    spend(account, 4 * MICRO, "a")
    body = owner_client.get(BILLING).content.decode()
    assert "This month&#x27;s API usage: 4.00 credits" in body or "4.00 credits" in body
    assert "Budget: 10.00 credits" in body
    assert owner_client.post(reverse("billing:budget"), {"budget": "-1"}).status_code == 400
    owner_client.post(reverse("billing:budget"), {"budget": ""})
    assert Account.objects.get(user=owner).monthly_budget is None


def test_holds_respect_the_budget_and_say_so(funded_account):
    account = funded_account(credits=100)
    credits.credits_budget_set(user_id=account.user_id, budget=10 * MICRO)
    spend(account, 6 * MICRO, "a")
    credits.credits_hold(account_id=account.pk, amount=3 * MICRO, reference="b")
    with pytest.raises(BudgetReached) as exc:
        credits.credits_hold(account_id=account.pk, amount=2 * MICRO, reference="c")
    assert exc.value.available == MICRO and "monthly budget of 10.0000 credits" in str(exc.value)
    # The balance is the tighter limit: the refusal says so.
    credits.credits_budget_set(user_id=account.user_id, budget=1000 * MICRO)
    with pytest.raises(InsufficientCredits) as exc:
        credits.credits_hold(account_id=account.pk, amount=95 * MICRO, reference="d")
    assert not isinstance(exc.value, BudgetReached)
    credits.credits_settle(reference="b", amount=3 * MICRO)
    account.refresh_from_db()
    assert account.month_spent == 9 * MICRO
    assert ledger_problems() == []


def test_a_new_month_starts_the_count_again(funded_account):
    account = funded_account(credits=100)
    credits.credits_budget_set(user_id=account.user_id, budget=10 * MICRO)
    spend(account, 10 * MICRO, "a")
    with pytest.raises(BudgetReached):
        credits.credits_hold(account_id=account.pk, amount=MICRO, reference="b")
    Account.objects.filter(pk=account.pk).update(budget_month=datetime.date(2020, 1, 1))
    spend(account, 5 * MICRO, "c")
    account.refresh_from_db()
    assert account.month_spent == 5 * MICRO
    assert account.budget_month == datetime.date.today().replace(day=1)
    assert ledger_problems() == []


def test_budget_alerts_go_out_once_each(funded_account):
    account = funded_account(credits=100)
    credits.credits_budget_set(user_id=account.user_id, budget=10 * MICRO)
    assert send_budget_alerts() == 0
    spend(account, 5 * MICRO, "a")
    assert send_budget_alerts() == 1 and send_budget_alerts() == 0
    assert "50% of your monthly budget" in mail.outbox[-1].subject
    spend(account, 3 * MICRO, "b")
    assert send_budget_alerts() == 1 and send_budget_alerts() == 0
    assert "80%" in mail.outbox[-1].subject
    spend(account, 2 * MICRO, "c")
    assert send_budget_alerts() == 1 and send_budget_alerts() == 0
    assert "100%" in mail.outbox[-1].subject and "refused" in mail.outbox[-1].body
    assert len(mail.outbox) == 3 and mail.outbox[0].to == [account.user.email]
    assert sorted(BudgetAlert.objects.values_list("level", flat=True)) == [50, 80, 100]
    # A raised budget does not repeat this month's alerts; next month starts afresh.
    credits.credits_budget_set(user_id=account.user_id, budget=20 * MICRO)
    assert send_budget_alerts() == 0
    next_month = timezone.now() + datetime.timedelta(days=32)
    Account.objects.filter(pk=account.pk).update(
        budget_month=next_month.date().replace(day=1), month_spent=19 * MICRO
    )
    assert services.budget_alerts_send(now=next_month) == 1
    assert "80%" in mail.outbox[-1].subject
    assert ledger_problems() == []


def test_checkout_asks_for_an_invoice_and_the_history_links_it(
    owner_client, owner, stripe_on, deliver
):
    response = owner_client.post(reverse("billing:checkout"), {"amount": "10"})
    assert response.status_code == 303
    sent = stripe_standin.requests_seen[-1]
    assert sent["billing_address_collection"] == "required"
    assert sent["tax_id_collection[enabled]"] == "true"
    assert sent["invoice_creation[enabled]"] == "true"
    payment = Payment.objects.get()
    assert sent["invoice_creation[invoice_data][metadata][payment_id]"] == str(payment.pk)
    session = stripe_standin.mark_paid(payment.checkout_session_id)
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    invoice = stripe_standin.invoices[session["invoice"]]
    assert deliver(event("invoice.paid", invoice)).status_code == 200
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": session["payment_intent"],
        "receipt_url": "https://pay.stripe.test/receipts/ch_1",
    }
    assert deliver(event("charge.succeeded", charge)).status_code == 200
    payment.refresh_from_db()
    assert payment.invoice_url == invoice["hosted_invoice_url"]
    assert payment.invoice_pdf == invoice["invoice_pdf"]
    body = owner_client.get(BILLING).content.decode()
    for url in (invoice["hosted_invoice_url"], invoice["invoice_pdf"], charge["receipt_url"]):
        assert f'href="{url}"' in body
    assert ledger_problems() == []


def test_admin_lists_payment_methods_attempts_and_alerts(admin_client, funded_account):
    from apps.billing.models import AutoTopUp, AutoTopUpAttempt

    account = funded_account(credits=10)
    AutoTopUp.objects.create(
        user=account.user,
        customer_id="cus_1",
        payment_method_id="pm_card_visa",
        card_brand="visa",
        card_last4="4242",
    )
    AutoTopUpAttempt.objects.create(
        user=account.user, amount_cents=500, balance=0, status="declined", error="declined"
    )
    BudgetAlert.objects.create(account=account, month=datetime.date(2026, 1, 1), level=50)
    for name in ("autotopup", "autotopupattempt", "budgetalert"):
        response = admin_client.get(reverse(f"admin:billing_{name}_changelist"))
        assert response.status_code == 200
    body = admin_client.get(reverse("admin:billing_autotopup_changelist")).content.decode()
    assert ("4242" in body and "pm_card_visa" not in body) or "4242" in body


def test_an_invoice_carrying_a_payments_metadata_is_linked_only_if_stripe_says_it_is_its_own(
    owner_client, owner, stripe_on, deliver
):
    """Anything in the Stripe account can carry metadata: an invoice is linked to a payment only
    when the payment's Checkout Session names it (and its amount and currency match)."""
    owner_client.post(reverse("billing:checkout"), {"amount": "10"})
    payment = Payment.objects.get()
    meta = {"payment_id": str(payment.pk), "user_id": str(owner.pk)}
    forged = {
        "id": "in_someone_elses",
        "object": "invoice",
        "status": "paid",
        "amount_paid": 1000,
        "currency": "usd",
        "hosted_invoice_url": "https://invoice.stripe.test/i/in_someone_elses",
        "invoice_pdf": "https://pay.stripe.test/invoice/in_someone_elses/pdf",
        "metadata": meta,
    }
    # Before the session is paid (it names no invoice yet), and after: never linked.
    assert deliver(event("invoice.paid", forged)).status_code == 200
    session = stripe_standin.mark_paid(payment.checkout_session_id)
    assert deliver(event("invoice.paid", forged)).status_code == 200
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    assert deliver(event("invoice.finalized", forged)).status_code == 200
    payment.refresh_from_db()
    assert payment.invoice_url == "" and payment.invoice_id == session["invoice"]
    # Its own invoice, even before checkout.session.completed is seen elsewhere, is linked.
    own = stripe_standin.invoices[session["invoice"]]
    assert deliver(event("invoice.paid", own)).status_code == 200
    payment.refresh_from_db()
    assert payment.invoice_url == own["hosted_invoice_url"]
    assert "in_someone_elses" not in owner_client.get(BILLING).content.decode()
