"""Paying as a person would, in a browser: Alipay in HKD confirmed later by Stripe, WeChat Pay
that fails, a card in CNY refunded. The Stripe stand-in plays Checkout; the events it queues
reach the webhook signed like Stripe's (tests.billing.webhooks.deliver_outbox)."""

import re

import pytest
from django.core.management import call_command

from apps.billing.models import Payment
from apps.core.money import MICRO
from apps.credits.models import Account, LedgerEntry
from tests.billing import stripe_standin
from tests.billing.webhooks import deliver_outbox
from tests.factories import UserFactory

from .test_keys import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def balance(user) -> int:
    account = Account.objects.filter(user=user).first()
    return account.balance if account else 0


def check_ledger():
    call_command("check_ledger", stdout=open("/dev/null", "w"))  # noqa: SIM115


def to_billing_in(page, currency: str):
    page.get_by_role("link", name="Billing").click()
    page.get_by_label("Prices in").select_option(currency)
    page.get_by_role("button", name="Change currency").click()
    page.wait_for_url("**/billing/")


def test_alipay_in_hkd_confirmed_later_is_credited_once_after_the_webhook(page, stripe_on):
    user = UserFactory(email="hk@example.com", verified=True)
    stripe_standin.method_outcomes["alipay"] = "processing"
    log_in(page, "hk@example.com")
    to_billing_in(page, "hkd")
    assert "Pay in HKD by card, Alipay or WeChat Pay." in page.content()
    page.get_by_role("button", name=re.compile(r"^1,000 credits HK\$80$")).click()
    page.wait_for_url(f"{stripe_on}/pay/**")
    page.get_by_role("heading", name="Pay HK$80.00").wait_for()
    page.get_by_role("button", name="Pay with Alipay").click()
    page.wait_for_url("**/billing/")
    assert "Your payment is being confirmed" in page.content()
    assert page.get_by_test_id("balance").inner_text().startswith("0.00")
    assert balance(user) == 0

    assert [kind for kind, status, _ in deliver_outbox() if status == 200] == [
        "checkout.session.completed"
    ]
    page.reload()
    row = page.locator("tbody tr").first
    assert "Processing" in row.inner_text() and balance(user) == 0

    payment = Payment.objects.get(user=user)
    stripe_standin.async_outcome(payment.checkout_session_id, succeeded=True)
    assert {status for _, status, _ in deliver_outbox()} == {200}
    page.reload()
    assert page.get_by_test_id("balance").inner_text().startswith("1,000.00")
    row = page.locator("tbody tr").first.inner_text()
    assert "HK$80.00 HKD" in row and "Alipay" in row and "Paid" in row
    assert balance(user) == 1000 * MICRO
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    check_ledger()


def test_wechat_pay_that_fails_credits_nothing_and_the_user_is_told_why(page, stripe_on):
    user = UserFactory(email="wx@example.com", verified=True)
    stripe_standin.method_outcomes["wechat_pay"] = "processing"
    log_in(page, "wx@example.com")
    page.get_by_role("link", name="Billing").click()
    page.get_by_label("Another amount").fill("20")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(f"{stripe_on}/pay/**")
    page.get_by_role("button", name="Pay with WeChat Pay").click()
    page.wait_for_url("**/billing/")
    assert "Your payment is being confirmed" in page.content()

    payment = Payment.objects.get(user=user)
    assert (payment.amount_cents, payment.currency) == (2000, "usd")
    stripe_standin.async_outcome(payment.checkout_session_id, succeeded=False)
    assert {status for _, status, _ in deliver_outbox()} == {200}
    page.reload()
    row = page.locator("tbody tr").first.inner_text()
    assert "Failed" in row and "WeChat Pay" in row
    assert page.get_by_test_id("failure-reason").inner_text() == (
        "The WeChat Pay QR code expired before the customer paid."
    )
    assert page.get_by_test_id("balance").inner_text().startswith("0.00")
    assert not LedgerEntry.objects.exists()
    check_ledger()


def test_a_card_top_up_in_cny_refunded_takes_the_credits_back(page, stripe_on):
    user = UserFactory(email="cn@example.com", verified=True)
    log_in(page, "cn@example.com")
    to_billing_in(page, "cny")
    page.get_by_role("button", name=re.compile(r"^500 credits ¥36$")).click()
    page.wait_for_url(f"{stripe_on}/pay/**")
    page.get_by_role("button", name="Pay ¥36.00").click()
    page.wait_for_url("**/billing/")
    assert "500 credits were added" in page.content()
    deliver_outbox()
    assert balance(user) == 500 * MICRO

    payment = Payment.objects.get(user=user)
    assert (payment.amount_cents, payment.currency, payment.payment_method) == (3600, "cny", "card")
    stripe_standin.refund(payment.payment_intent_id)
    assert [kind for kind, status, _ in deliver_outbox() if status == 200] == ["charge.refunded"]
    page.reload()
    assert page.get_by_test_id("balance").inner_text().startswith("0.00")
    row = page.locator("tbody tr").first.inner_text()
    assert "¥36.00 CNY" in row and "Refunded" in row and "¥36.00 refunded" in row
    assert list(LedgerEntry.objects.order_by("id").values_list("kind", "amount")) == [
        ("topup", 500 * MICRO),
        ("refund", -500 * MICRO),
    ]
    check_ledger()
