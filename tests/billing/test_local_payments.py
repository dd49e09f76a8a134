"""Alipay and WeChat Pay beside cards, and prices in the buyer's currency (USD, HKD, CNY).

Each payment goes through the Stripe stand-in's Checkout page over HTTP (the real ``stripe``
library created the session), and its outcome reaches the webhook as the signed events the
stand-in queued: paid at once, confirmed later (``async_payment_succeeded``), failed later
(``async_payment_failed``) or declined on the page. Real PostgreSQL, no mocks."""

import httpx
import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.billing import currencies
from apps.billing.models import BillingProfile, Payment
from apps.core.money import MICRO
from apps.credits.models import Account, LedgerEntry
from apps.credits.selectors import ledger_problems
from tests.factories import UserFactory

from . import stripe_standin
from .webhooks import deliver_outbox, event

pytestmark = pytest.mark.django_db
BILLING = reverse("billing:index")


def balance(user) -> int:
    account = Account.objects.filter(user=user).first()
    return account.balance if account else 0


def buy(client, *, currency=None, pack=None, amount=None):
    data = {k: v for k, v in {"currency": currency, "pack": pack, "amount": amount}.items() if v}
    response = client.post(reverse("billing:checkout"), data)
    assert response.status_code == 303, response.content.decode()[-2000:]
    return Payment.objects.latest("id"), response["Location"]


def pay(url: str, method: str) -> httpx.Response:
    """The customer presses the method's button on the stand-in's Checkout page."""
    page = httpx.get(url)
    assert page.status_code == 200
    return httpx.post(url, data={"method": method})


def back_from_stripe(client, response: httpx.Response):
    """Follow Stripe's redirect to our success page (the customer's browser would)."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    return client.get(location[location.index("/billing/") :])


def sent(key_prefix: str) -> dict:
    return {k: v for k, v in stripe_standin.requests_seen[-1].items() if k.startswith(key_prefix)}


def ledger_clean():
    assert ledger_problems() == []
    call_command("check_ledger", stdout=open("/dev/null", "w"))  # noqa: SIM115


# --- the methods each currency offers -----------------------------------------------------------


@pytest.mark.parametrize("currency", ["usd", "hkd", "cny"])
def test_checkout_offers_cards_alipay_and_wechat_pay_with_its_web_client(
    owner_client, stripe_on, currency
):
    payment, url = buy(owner_client, currency=currency, pack="1000")
    assert sent("payment_method_types") == {
        "payment_method_types[0]": "card",
        "payment_method_types[1]": "alipay",
        "payment_method_types[2]": "wechat_pay",
    }
    assert sent("payment_method_options") == {"payment_method_options[wechat_pay][client]": "web"}
    page = httpx.get(url).text
    assert "Pay with Alipay" in page and "Pay with WeChat Pay" in page
    assert payment.currency == currency


def test_the_methods_offered_are_those_stripe_allows_in_the_currency(settings):
    assert currencies.payment_methods("usd") == ["card", "alipay", "wechat_pay"]
    settings.BILLING_CURRENCIES = {
        **settings.BILLING_CURRENCIES,
        "chf": {**settings.BILLING_CURRENCIES["usd"], "methods": ["alipay", "wechat_pay"]},
        "brl": {**settings.BILLING_CURRENCIES["usd"], "methods": ["card", "alipay", "wechat_pay"]},
    }
    assert currencies.payment_methods("chf") == ["card", "wechat_pay"]  # no Alipay in CHF
    assert currencies.payment_methods("brl") == ["card"]


def test_the_stand_in_refuses_wechat_pay_without_its_client_as_stripe_does(stripe_on):
    import stripe

    from apps.billing.stripe_api import stripe_client

    with pytest.raises(stripe.InvalidRequestError, match="client"):
        stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "payment_method_types": ["card", "wechat_pay"],
                "line_items": [
                    {"quantity": 1, "price_data": {"currency": "hkd", "unit_amount": 8000,
                                                   "product_data": {"name": "x"}}}
                ],
                "success_url": "http://x/", "cancel_url": "http://x/",
            }
        )  # fmt: skip


def test_saving_a_card_for_auto_top_up_offers_cards_only(owner_client, stripe_on):
    response = owner_client.post(reverse("billing:card"))
    assert response.status_code == 303
    assert sent("payment_method_types") == {"payment_method_types[0]": "card"}
    body = owner_client.get(BILLING).content.decode()
    assert "Auto top-up works with a card only" in body
    assert "Alipay and WeChat Pay cannot be saved for automatic charges" in body


# --- outcomes ---------------------------------------------------------------------------------


def test_alipay_paid_at_once_is_credited_once(owner_client, owner, stripe_on):
    payment, url = buy(owner_client, currency="hkd", pack="1000")
    back_from_stripe(owner_client, pay(url, "alipay"))  # the success page asks Stripe: paid
    assert balance(owner) == 1000 * MICRO
    outcomes = deliver_outbox()
    assert [(kind, status) for kind, status, _ in outcomes] == [
        ("charge.succeeded", 200),
        ("checkout.session.completed", 200),
    ]
    assert balance(owner) == 1000 * MICRO
    payment.refresh_from_db()
    assert (payment.status, payment.payment_method) == ("paid", "alipay")
    assert payment.receipt_url.startswith("https://pay.stripe.test/receipts/")
    assert LedgerEntry.objects.get(kind="topup").memo == "Top-up HK$80.00"
    ledger_clean()


def test_alipay_confirmed_later_is_credited_by_the_webhook_not_the_redirect(
    owner_client, owner, stripe_on
):
    stripe_standin.method_outcomes["alipay"] = "processing"
    payment, url = buy(owner_client, currency="hkd", pack="1000")
    returned = back_from_stripe(owner_client, pay(url, "alipay"))
    assert returned.status_code == 302
    page = owner_client.get(BILLING).content.decode()
    assert "Your payment is being confirmed" in page
    assert balance(owner) == 0 and not LedgerEntry.objects.exists()

    assert deliver_outbox() == [("checkout.session.completed", 200, "payment pending")]
    payment.refresh_from_db()
    assert payment.status == "pending" and balance(owner) == 0
    # Returning to the success page again still credits nothing: Stripe says unpaid.
    owner_client.get(reverse("billing:success") + f"?session_id={payment.checkout_session_id}")
    assert balance(owner) == 0

    stripe_standin.async_outcome(payment.checkout_session_id, succeeded=True)
    queued = list(stripe_standin.outbox)
    assert [e["type"] for e in queued] == [
        "charge.succeeded",
        "checkout.session.async_payment_succeeded",
    ]
    deliver_outbox()
    stripe_standin.outbox.extend(queued)  # Stripe delivers them again
    assert {status for _, status, _ in deliver_outbox()} == {200}
    owner_client.get(reverse("billing:success") + f"?session_id={payment.checkout_session_id}")
    assert balance(owner) == 1000 * MICRO
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.payment_method) == ("paid", "alipay")
    page = owner_client.get(BILLING).content.decode()
    assert "HK$80.00 HKD" in page and "Alipay" in page
    ledger_clean()


def test_wechat_pay_that_fails_later_credits_nothing_and_says_why(owner_client, owner, stripe_on):
    stripe_standin.method_outcomes["wechat_pay"] = "processing"
    payment, url = buy(owner_client, currency="cny", pack="500")
    back_from_stripe(owner_client, pay(url, "wechat_pay"))
    stripe_standin.async_outcome(payment.checkout_session_id, succeeded=False)
    completed = stripe_standin.outbox[0]
    outcomes = deliver_outbox()
    assert [(kind, status) for kind, status, _ in outcomes] == [
        ("checkout.session.completed", 200),
        ("payment_intent.payment_failed", 200),
        ("checkout.session.async_payment_failed", 200),
    ]
    payment.refresh_from_db()
    assert (payment.status, payment.payment_method) == ("failed", "wechat_pay")
    assert payment.failure_reason == "The WeChat Pay QR code expired before the customer paid."
    # A late redelivery of the completed (unpaid) event does not bring the payment back.
    stripe_standin.outbox.append(completed)
    deliver_outbox()
    payment.refresh_from_db()
    assert payment.status == "failed"
    page = owner_client.get(BILLING).content.decode()
    assert "The WeChat Pay QR code expired before the customer paid." in page
    assert "¥36.00 CNY" in page
    assert balance(owner) == 0 and not LedgerEntry.objects.exists()
    response = owner_client.get(
        reverse("billing:success") + f"?session_id={payment.checkout_session_id}", follow=True
    )
    assert "The payment failed: The WeChat Pay QR code expired" in response.content.decode()
    ledger_clean()


def test_a_declined_wallet_keeps_the_checkout_open_and_credits_nothing(
    owner_client, owner, stripe_on
):
    stripe_standin.method_outcomes["alipay"] = "failed"
    payment, url = buy(owner_client, currency="usd", pack="500")
    declined = pay(url, "alipay")
    assert declined.status_code == 200
    assert "did not approve the payment in Alipay" in declined.text  # told on Stripe's page
    assert [(kind, status) for kind, status, _ in deliver_outbox()] == [
        ("payment_intent.payment_failed", 200)
    ]
    payment.refresh_from_db()
    assert payment.status == "created" and balance(owner) == 0
    # They pay by card instead, on the same session.
    back_from_stripe(owner_client, pay(url, "card"))
    deliver_outbox()
    payment.refresh_from_db()
    assert (payment.status, payment.payment_method) == ("paid", "card")
    assert balance(owner) == 500 * MICRO
    ledger_clean()


@pytest.mark.parametrize("method", ["alipay", "wechat_pay"])
def test_wallet_refunds_and_disputes_take_credits_back_as_for_cards(
    owner_client, owner, stripe_on, deliver, method
):
    payment, url = buy(owner_client, currency="hkd", pack="2500")  # HK$200
    pay(url, method)
    # Only the webhook this time: charge.succeeded comes before the session's event, so the
    # payment learns its method and receipt once the session names its PaymentIntent.
    assert [kind for kind, _, _ in deliver_outbox()] == [
        "charge.succeeded",
        "checkout.session.completed",
    ]
    payment.refresh_from_db()
    assert balance(owner) == 2500 * MICRO
    assert payment.payment_method == method and payment.receipt_url
    stripe_standin.refund(payment.payment_intent_id, amount=5000)  # HK$50 of HK$200
    deliver_outbox()
    assert balance(owner) == 1875 * MICRO
    assert LedgerEntry.objects.get(kind="refund").memo == "Refund of HK$50.00"
    deliver(
        event(
            "charge.dispute.created",
            {"id": "dp_w", "object": "dispute", "payment_intent": payment.payment_intent_id,
             "amount": 15000, "currency": "hkd", "status": "needs_response"},
        )
    )  # fmt: skip
    assert balance(owner) == 0
    payment.refresh_from_db()
    assert payment.status == "disputed" and payment.amount_refunded_cents == 5000
    ledger_clean()


# --- currencies -------------------------------------------------------------------------------


def test_the_default_currency_follows_the_language(owner_client, stripe_on):
    english = owner_client.get(BILLING, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "US$10<" in english and "¥72" not in english
    chinese = owner_client.get(BILLING, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "¥72<" in chinese and "US$10<" not in chinese
    payment, _ = buy(owner_client, pack="1000")  # no currency posted: the page's default (en)
    assert payment.currency == "usd"


def test_an_explicit_currency_is_remembered_for_the_account(owner_client, owner, stripe_on):
    response = owner_client.post(reverse("billing:currency"), {"currency": "hkd"})
    assert response.status_code == 302
    assert BillingProfile.objects.get(user=owner).currency == "hkd"
    for language in ("en", "zh-hans"):
        page = owner_client.get(BILLING, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert "HK$80<" in page and "HK$800<" in page
    assert owner_client.post(reverse("billing:currency"), {"currency": "eur"}).status_code == 302
    assert BillingProfile.objects.get(user=owner).currency == "hkd"


@pytest.mark.parametrize(
    ("currency", "price"), [("usd", 1000), ("hkd", 8000), ("cny", 7200)]
)  # fmt: skip
def test_a_pack_buys_the_same_credits_in_every_currency_at_its_own_price(
    owner_client, owner, stripe_on, currency, price
):
    payment, url = buy(owner_client, currency=currency, pack="1000")
    assert (payment.amount_cents, payment.currency) == (price, currency)
    assert payment.credits == 1000 * MICRO
    assert sent("line_items[0][price_data]") == {
        "line_items[0][price_data][currency]": currency,
        "line_items[0][price_data][unit_amount]": str(price),
        "line_items[0][price_data][product_data][name]": "1,000 OpenCodex credits",
    }
    pay(url, "card")
    deliver_outbox()
    assert balance(owner) == 1000 * MICRO
    ledger_clean()


def test_custom_amounts_in_cny_buy_whole_credits_per_yuan(owner_client, owner, stripe_on):
    payment, _ = buy(owner_client, currency="cny", amount="100")
    assert (payment.amount_cents, payment.currency, payment.credits) == (10000, "cny", 1300 * MICRO)
    low = owner_client.post(reverse("billing:checkout"), {"currency": "cny", "amount": "35"})
    assert low.status_code == 400 and "Choose from ¥36 to ¥7,200." in low.content.decode()
    page = owner_client.post(reverse("billing:checkout"), {"currency": "hkd", "amount": "9000"})
    body = page.content.decode()
    assert page.status_code == 400 and "Choose from HK$40 to HK$8,000." in body
    assert "each HK$1 buys 12 credits" in body
    assert Payment.objects.count() == 1


def test_unknown_currencies_and_packs_are_refused(owner_client, stripe_on):
    for data in ({"currency": "eur", "pack": "1000"}, {"currency": "hkd", "pack": "999"}):
        assert owner_client.post(reverse("billing:checkout"), data).status_code == 400
    assert not Payment.objects.exists()


def test_a_session_in_another_currency_is_a_mismatch_and_credits_nothing(
    owner_client, owner, stripe_on, deliver
):
    payment, _ = buy(owner_client, currency="hkd", pack="1000")
    session = stripe_standin.mark_paid(payment.checkout_session_id, currency="usd")
    deliver(event("checkout.session.completed", session))
    payment.refresh_from_db()
    assert payment.status == "mismatch" and balance(owner) == 0


def test_refunds_are_in_the_original_currency(owner_client, owner, stripe_on):
    payment, url = buy(owner_client, currency="cny", pack="1000")  # ¥72
    pay(url, "card")
    deliver_outbox()
    payment.refresh_from_db()
    stripe_standin.refund(payment.payment_intent_id, amount=3600)  # ¥36: half
    deliver_outbox()
    assert balance(owner) == 500 * MICRO
    assert LedgerEntry.objects.get(kind="refund").memo == "Refund of ¥36.00"
    stripe_standin.refund(payment.payment_intent_id)  # the rest
    deliver_outbox()
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded_cents) == ("refunded", 7200)
    assert balance(owner) == 0
    assert "¥72.00 refunded" in owner_client.get(BILLING).content.decode()
    ledger_clean()


def test_the_invoice_is_in_the_currency_paid(owner_client, owner, stripe_on, deliver):
    payment, url = buy(owner_client, currency="hkd", pack="500")
    pay(url, "wechat_pay")
    deliver_outbox()
    payment.refresh_from_db()
    invoice = stripe_standin.invoices[
        stripe_standin.sessions[payment.checkout_session_id]["invoice"]
    ]
    assert (invoice["currency"], invoice["amount_paid"]) == ("hkd", 4000)
    deliver(event("invoice.paid", invoice))
    payment.refresh_from_db()
    assert payment.invoice_url == invoice["hosted_invoice_url"]


def test_history_and_admin_show_amount_and_currency(client, owner, stripe_on):
    client.force_login(owner)
    for currency in ("usd", "hkd", "cny"):
        _, url = buy(client, currency=currency, pack="1000")
        pay(url, "card")
    deliver_outbox()
    page = client.get(BILLING).content.decode()
    for shown in ("US$10.00 USD", "HK$80.00 HKD", "¥72.00 CNY"):
        assert shown in page
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    admin = client.get(reverse("admin:billing_payment_changelist")).content.decode()
    for shown in ("US$10.00", "HK$80.00", "¥72.00"):
        assert shown in admin
    assert "hkd" in admin and "cny" in admin


def test_the_billing_page_and_the_docs_speak_chinese(owner_client, stripe_on):
    page = owner_client.get(BILLING, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "以 CNY 支付，可使用银行卡、支付宝或微信支付。" in page
    assert "价格币种" in page and "¥72<" in page and "每 ¥1 兑换 13 积分" in page
    assert "自动充值仅支持银行卡" in page
    refused = owner_client.post(
        reverse("billing:redeem"), {"code": "ocx-redeem-x"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "这不是兑换码" in refused.content.decode()
    english = owner_client.get(reverse("docs:page", args=["balance"]), HTTP_ACCEPT_LANGUAGE="en")
    body = english.content.decode()
    assert "Alipay" in body and "WeChat Pay" in body and "HK$1 = 12 credits" in body
    assert "ocx-redeem-" in body
    chinese = owner_client.get(
        reverse("docs:page", args=["balance"]), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert "支付宝" in chinese and "微信支付" in chinese and "兑换码" in chinese
