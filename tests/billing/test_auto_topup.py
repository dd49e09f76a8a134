"""Auto top-up with a card saved through Stripe (the stand-in): one charge per dip, whatever
runs concurrently or is retried; declined and authentication-required cards; the daily cap;
payment_intent.succeeded credited exactly once. Real PostgreSQL, threads with their own
connections."""

import threading

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.billing import auto_topup as auto_topup_module
from apps.billing import services
from apps.billing.models import AutoTopUp, AutoTopUpAttempt, Payment
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, LedgerEntry
from apps.credits.selectors import ledger_problems
from tests.factories import UserFactory
from tests.threads import run_concurrently

from . import stripe_standin
from .webhooks import event, sign

pytestmark = pytest.mark.django_db(transaction=True)
BILLING = reverse("billing:index")


def deliver(payload: dict):
    import json

    body = json.dumps(payload).encode()
    return Client().generic(
        "POST",
        "/billing/stripe/webhook/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )


def save_card(client, card="pm_card_visa"):
    """Through the billing page and the stand-in's setup-mode Checkout."""
    response = client.post(reverse("billing:card"))
    assert response.status_code == 303, response.content
    session_id = response["Location"].rsplit("/", 1)[1]
    session = stripe_standin.mark_set_up(session_id, payment_method=card)
    response = client.get(reverse("billing:card_saved") + f"?session_id={session['id']}")
    assert response.status_code == 302
    return session


@pytest.fixture
def saver(stripe_on):
    """A user with 150 credits and a saved card; returns (user, client)."""

    def make(card="pm_card_visa", credits_=150, threshold=100, dollars=20):
        user = UserFactory(verified=True)
        credits.credits_grant(
            user_id=user.pk, amount=credits_ * MICRO, kind="topup", reference=f"t:{user.pk}"
        )
        client = Client()
        client.force_login(user)
        save_card(client, card)
        response = client.post(
            reverse("billing:auto_topup"),
            {
                "auto-enabled": "on",
                "auto-threshold": str(threshold),
                "auto-dollars": str(dollars),
            },
        )
        assert response.status_code == 302, response.content.decode()
        return user, client

    return make


def spend(user, credits_, n=1):
    """``n`` settled requests costing ``credits_`` in total, concurrently."""
    account = Account.objects.get(user=user)

    def request(i):
        ref = f"req-{user.pk}-{i}-{LedgerEntry.objects.count()}-{threading.get_ident()}"
        credits.credits_hold(account_id=account.pk, amount=credits_ * MICRO // n, reference=ref)
        return credits.credits_settle(reference=ref, amount=credits_ * MICRO // n)

    results = run_concurrently(request, n)
    assert not [r for r in results if isinstance(r, Exception)], results


def balance(user) -> int:
    return Account.objects.get(user=user).balance


def test_the_card_is_saved_through_setup_mode_checkout(stripe_on):
    user = UserFactory(verified=True)
    client = Client()
    client.force_login(user)
    assert "Save a card" in client.get(BILLING).content.decode()
    refused = client.post(
        reverse("billing:auto_topup"),
        {"auto-enabled": "on", "auto-threshold": "100", "auto-dollars": "20"},
    )
    assert refused.status_code == 400 and "Save a card first" in refused.content.decode()
    session = save_card(client)
    sent = [r for r in stripe_standin.requests_seen if r.get("mode") == "setup"][-1]
    assert sent["customer"].startswith("cus_") and sent["currency"] == "usd"
    config = AutoTopUp.objects.get(user=user)
    assert (config.customer_id, config.payment_method_id) == (sent["customer"], "pm_card_visa")
    assert (config.card_brand, config.card_last4) == ("visa", "4242")
    assert "Visa ending 4242" in client.get(BILLING).content.decode()
    # The webhook for the same session changes nothing; a second card keeps the customer.
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    save_card(client, "pm_card_chargeDeclined")
    config.refresh_from_db()
    assert config.customer_id == sent["customer"] and config.card_last4 == "0002"
    assert len(stripe_standin.customers) == 1


def test_twenty_settlements_crossing_the_threshold_charge_once(saver):
    user, client = saver()
    assert services.auto_topups_due() == []
    spend(user, 60, n=20)  # 150 → 90 credits: below the threshold of 100
    assert services.auto_topups_due() == [user.pk]
    # Every settlement's trigger and the beat's at once, then retries: one PaymentIntent.
    results = run_concurrently(lambda i: services.auto_topup_run(user_id=user.pk), 20)
    assert not [r for r in results if isinstance(r, Exception)], results
    for _ in range(3):
        services.auto_topup_run(user_id=user.pk)
    assert len(stripe_standin.intents) == 1
    intent = next(iter(stripe_standin.intents.values()))
    assert intent["off_session"] and intent["amount"] == 2000
    attempt = AutoTopUpAttempt.objects.get()
    assert attempt.status == "succeeded" and attempt.payment_intent_id == intent["id"]
    assert balance(user) == (90 + 2000) * MICRO
    payment = Payment.objects.get(automatic=True)
    assert payment.status == "paid" and payment.payment_intent_id == intent["id"]
    assert LedgerEntry.objects.filter(reference=f"stripe:{intent['id']}").count() == 1
    # payment_intent.succeeded, delivered twice, changes nothing.
    succeeded = event("payment_intent.succeeded", intent)
    assert deliver(succeeded).status_code == 200
    assert deliver(succeeded).content == b"already processed"
    assert deliver(event("payment_intent.succeeded", intent)).status_code == 200
    assert balance(user) == (90 + 2000) * MICRO
    # Its Stripe invoice: one item, finalized and paid out of band, linked on the billing page.
    payment.refresh_from_db()
    [invoice] = stripe_standin.invoices.values()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == 2000
    assert invoice["metadata"] == {"payment_id": str(payment.pk), "payment_intent": intent["id"]}
    assert payment.invoice_id == invoice["id"] and payment.invoice_pdf == invoice["invoice_pdf"]
    assert services.auto_topup_invoice_create(payment_id=payment.pk) == "invoice exists"
    page = client.get(BILLING).content.decode()
    assert "(auto)" in page and invoice["hosted_invoice_url"] in page
    assert ledger_problems() == []


def test_a_run_that_dies_after_stripe_charged_is_retried_with_the_same_key(saver, monkeypatch):
    user, _ = saver()
    spend(user, 60)
    real = services.payment_intent_fulfil
    crashes = []

    def crash_once(**kwargs):
        if not crashes:
            crashes.append(1)
            raise ConnectionError("worker lost")
        return real(**kwargs)

    # Replaced where the charging run looks it up (services only re-exports it).
    monkeypatch.setattr(auto_topup_module, "payment_intent_fulfil", crash_once)
    from apps.billing.tasks import auto_topup

    with pytest.raises(ConnectionError):
        services.auto_topup_run(user_id=user.pk)  # rolled back: Stripe charged, we forgot
    assert not AutoTopUpAttempt.objects.exists() and balance(user) == 90 * MICRO
    assert auto_topup.apply(args=[user.pk]).get() == "succeeded"  # the task's retry
    assert len(stripe_standin.intents) == 1  # Stripe answered the same key with the same one
    assert balance(user) == (90 + 2000) * MICRO
    assert ledger_problems() == []


def test_payment_intent_succeeded_credits_a_processing_top_up_once(saver):
    user, _ = saver()
    stripe_standin.charge_status["value"] = "processing"
    spend(user, 60)
    attempt = services.auto_topup_run(user_id=user.pk)
    assert attempt.status == "processing" and balance(user) == 90 * MICRO
    assert services.auto_topup_run(user_id=user.pk).pk == attempt.pk  # the same dip: no charge
    intent = stripe_standin.succeed(attempt.payment_intent_id)
    succeeded = event("payment_intent.succeeded", intent)
    statuses = run_concurrently(
        lambda i: (
            deliver(succeeded if i % 2 else event("payment_intent.succeeded", intent)).status_code
        ),
        6,
    )
    assert statuses == [200] * 6
    assert deliver(succeeded).content == b"already processed"
    assert balance(user) == (90 + 2000) * MICRO
    assert len(stripe_standin.intents) == 1
    attempt.refresh_from_db()
    assert attempt.status == "succeeded"
    assert ledger_problems() == []


def test_a_checkout_payments_intent_is_left_to_its_session(owner_client, owner, stripe_on):
    response = owner_client.post(reverse("billing:checkout"), {"amount": "10"})
    payment = Payment.objects.get()
    session = stripe_standin.mark_paid(payment.checkout_session_id)
    intent = {
        "id": session["payment_intent"],
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1000,
        "amount_received": 1000,
        "currency": "usd",
        "metadata": {"payment_id": str(payment.pk)},
    }
    assert response.status_code == 303
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    assert deliver(event("payment_intent.succeeded", intent)).status_code == 200
    assert Account.objects.get(user=owner).balance == 1000 * MICRO
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    assert ledger_problems() == []


def test_a_declined_card_is_retried_then_auto_top_up_turns_off(saver, settings):
    settings.AUTO_TOPUP_MAX_FAILURES = 3
    user, client = saver(card="pm_card_chargeDeclined")
    spend(user, 60)
    attempt = services.auto_topup_run(user_id=user.pk)
    assert attempt.status == "declined" and "declined" in attempt.error
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert "/billing/" in mail.outbox[0].body and "try again later" in mail.outbox[0].body
    assert services.auto_topup_run(user_id=user.pk) is None  # a pause before the next try
    settings.AUTO_TOPUP_RETRY_SECONDS = 0
    assert services.auto_topup_run(user_id=user.pk).status == "declined"
    assert services.auto_topup_run(user_id=user.pk).status == "declined"
    config = AutoTopUp.objects.get(user=user)
    assert not config.enabled and config.failures == 3
    assert services.auto_topup_run(user_id=user.pk) is None  # off: no more tries
    assert len(stripe_standin.intents) == 3 and len(mail.outbox) == 3
    assert "now turned off" in mail.outbox[-1].body
    body = client.get(BILLING).content.decode()
    assert "Auto top-up was turned off after 3 failed charges." in body
    assert balance(user) == 90 * MICRO
    assert Payment.objects.filter(status="failed", automatic=True).count() == 3
    # A new card turns it back on.
    save_card(client)
    response = client.post(
        reverse("billing:auto_topup"),
        {"auto-enabled": "on", "auto-threshold": "100", "auto-dollars": "20"},
    )
    assert response.status_code == 302
    assert services.auto_topup_run(user_id=user.pk).status == "succeeded"
    assert ledger_problems() == []


def test_a_card_that_needs_authentication_turns_auto_top_up_off_at_once(saver):
    user, client = saver(card="pm_card_authenticationRequired")
    spend(user, 60)
    attempt = services.auto_topup_run(user_id=user.pk)
    assert attempt.status == "authentication_required"
    assert not AutoTopUp.objects.get(user=user).enabled
    assert len(mail.outbox) == 1 and "/billing/" in mail.outbox[0].body
    assert "needs you to confirm payments" in client.get(BILLING).content.decode()
    assert balance(user) == 90 * MICRO
    assert ledger_problems() == []


def test_the_daily_cap_stops_a_loop(saver, settings):
    settings.AUTO_TOPUP_DAILY_CAP = 2
    # A threshold above what a top-up brings: each top-up leaves the balance below it.
    user, _ = saver(threshold=100_000, dollars=5)
    for _ in range(5):
        services.auto_topup_run(user_id=user.pk)
    statuses = sorted(AutoTopUpAttempt.objects.values_list("status", flat=True))
    assert statuses == ["capped", "succeeded", "succeeded"]
    assert len(stripe_standin.intents) == 2
    assert balance(user) == (150 + 1000) * MICRO
    assert ledger_problems() == []


def test_a_deleted_accounts_card_is_never_charged_again(saver):
    """Deletion turns auto top-up off and forgets the card in its transaction; after the commit
    the card is detached and the Stripe customer deleted; the beat and runs queued before the
    deletion charge nothing."""
    user, _ = saver()
    config = AutoTopUp.objects.get(user=user)
    customer, card = config.customer_id, config.payment_method_id
    spend(user, 60)  # below the threshold: due
    assert services.auto_topups_due() == [user.pk]
    from apps.accounts.services import user_delete

    user_delete(user_id=user.pk)
    config.refresh_from_db()
    assert not config.enabled and not config.has_card
    assert (config.customer_id, config.payment_method_id, config.card_last4) == ("", "", "")
    assert card in stripe_standin.detached and customer in stripe_standin.deleted_customers
    # The beat finds nothing, and a run queued before the deletion charges nothing either.
    assert services.auto_topups_due() == []
    from apps.billing import tasks

    assert tasks.run_auto_topups.delay().get() == 0
    for _ in range(3):
        assert services.auto_topup_run(user_id=user.pk) is None
    assert stripe_standin.intents == {}
    assert not AutoTopUpAttempt.objects.exists()
    assert balance(user) == 90 * MICRO


def test_a_run_of_a_user_made_inactive_behind_its_back_charges_nothing(saver):
    """The run re-checks, under its row lock, that the user is active (a deactivation through
    the admin, or any path that skipped the deletion service)."""
    from django.contrib.auth import get_user_model

    user, _ = saver()
    spend(user, 60)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert services.auto_topups_due() == []
    assert services.auto_topup_run(user_id=user.pk) is None
    assert stripe_standin.intents == {}


def test_forgetting_at_stripe_twice_is_harmless(stripe_on, saver):
    user, _ = saver()
    config = AutoTopUp.objects.get(user=user)
    first = services.stripe_customer_forget(
        customer_id=config.customer_id, payment_method_id=config.payment_method_id
    )
    again = services.stripe_customer_forget(
        customer_id=config.customer_id, payment_method_id=config.payment_method_id
    )
    assert first == "card detached, customer deleted" and again == "nothing left at Stripe"


@pytest.mark.parametrize(
    ("language", "locale"), [("en", "en"), ("zh-hans", "zh"), ("zh-hant", "zh-TW")]
)
def test_the_stripe_customer_gets_the_users_language_for_its_invoices(stripe_on, language, locale):
    user = UserFactory(verified=True, language=language)
    client = Client()
    client.force_login(user)
    save_card(client)
    [customer] = stripe_standin.customers.values()
    assert customer["email"] == user.email and customer["preferred_locales"] == [locale]
