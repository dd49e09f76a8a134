import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.billing import services
from apps.billing.models import Payment, StripeEvent
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.errors import AccountSuspended
from apps.credits.models import Account, LedgerEntry
from apps.credits.selectors import ledger_problems

from . import stripe_standin
from .webhooks import event, sign

pytestmark = pytest.mark.django_db
BILLING = reverse("billing:index")


def start_checkout(client, dollars="10"):
    response = client.post(reverse("billing:checkout"), {"amount": dollars})
    assert response.status_code == 303, response.content
    payment = Payment.objects.latest("id")
    return payment, response["Location"]


def paid_session(payment, **changes):
    return stripe_standin.mark_paid(payment.checkout_session_id, **changes)


def balance(user) -> int:
    return Account.objects.get(user=user).balance


# --- the page and checkout -------------------------------------------------------------------


def test_topups_are_off_without_stripe_settings(owner_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    body = owner_client.get(BILLING).content.decode()
    assert "Buying credits is not available at the moment" in body
    assert "STRIPE_SECRET_KEY" not in body  # configuration is for operators, not customers
    response = owner_client.post(reverse("billing:checkout"), {"amount": "10"})
    assert response.status_code == 503 and "turned off" in response.content.decode()
    assert not Payment.objects.exists()


def test_with_stripe_off_the_page_still_shows_packs_prices_and_why_auto_topup_is_off(
    owner_client, settings
):
    """Issue #24 (5): the packs and their prices as of today, not clickable; the auto top-up
    card with its controls, disabled, and the reason."""
    settings.STRIPE_SECRET_KEY = ""
    body = owner_client.get(BILLING).content.decode()
    packs = body[body.index('data-testid="packs-off"') :]
    packs = packs[: packs.index("</div>")]
    buttons = re.findall(r"<button[^>]*>(.*?)</button>", packs, re.S)
    assert len(buttons) == 4 and packs.count(" disabled ") == 4
    assert "500 credits" in buttons[0] and "US$5" in buttons[0]
    assert "10,000 credits" in buttons[3] and "US$100" in buttons[3]
    assert reverse("billing:checkout") not in body  # nothing to submit
    as_of = re.search(r'data-testid="prices-as-of">([^<]*)<', body).group(1)
    assert as_of == f"Prices in USD, as of {timezone.localdate().isoformat()}."
    reason = re.search(r'data-testid="auto-topup-off">([^<]*)<', body).group(1)
    assert "cards cannot be saved" in reason
    controls = body[body.index('data-testid="auto-topup-controls-off"') :]
    controls = controls[: controls.index("</fieldset>")]
    assert 'name="auto-threshold"' in controls and 'name="auto-dollars"' in controls


def test_staff_see_how_to_turn_topups_on(client, owner, settings):
    settings.STRIPE_SECRET_KEY = ""
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    body = client.get(BILLING).content.decode()
    assert "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET" in body


def test_page_shows_balance_packs_and_history(owner_client, owner, stripe_on):
    credits.credits_grant_signup(user_id=owner.pk)
    body = owner_client.get(BILLING).content.decode()
    assert "500.00" in body
    for dollars, credits_ in ((5, 500), (10, 1000), (25, 2500), (100, 10000)):
        assert f'value="{credits_}"' in body and f"{credits_:,} credits" in body
        assert f"US${dollars}<" in body
    assert "No payments yet" in body


def test_pack_checkout_creates_the_payment_before_redirecting(owner_client, owner, stripe_on):
    payment, url = start_checkout(owner_client, "25")
    assert url.startswith(stripe_on + "/pay/cs_test_")
    assert (payment.user, payment.amount_cents, payment.currency) == (owner, 2500, "usd")
    assert payment.credits == 2500 * MICRO and payment.status == "created"
    sent = stripe_standin.requests_seen[-1]
    assert sent["mode"] == "payment" and sent["client_reference_id"] == str(owner.pk)
    assert sent["metadata[credits]"] == "2500" and sent["metadata[payment_id]"] == str(payment.pk)
    assert sent["success_url"].endswith("/billing/success/?session_id={CHECKOUT_SESSION_ID}")
    assert "Awaiting payment" in owner_client.get(BILLING).content.decode()


@pytest.mark.parametrize(
    ("dollars", "error"),
    [
        ("4", "Choose from US$5 to US$1,000"),
        ("1001", "Choose from US$5 to US$1,000"),
        ("5.5", "Enter a whole amount"),
        ("ten", "Enter a whole amount"),
        ("-5", "Choose from US$5 to US$1,000"),
        ("", "This field is required"),
    ],
)
def test_custom_amount_validation(owner_client, stripe_on, dollars, error):
    response = owner_client.post(reverse("billing:checkout"), {"amount": dollars})
    body = response.content.decode()
    assert response.status_code == 400 and error in body
    if dollars:
        assert f'value="{dollars}"' in body
    assert not Payment.objects.exists()


def test_custom_amount_at_the_limits(owner_client, stripe_on):
    for dollars in ("5", "1000"):
        payment, _ = start_checkout(owner_client, dollars)
        assert payment.amount_cents == int(dollars) * 100


# --- fulfilment exactly once ---------------------------------------------------------------


def test_webhook_credits_once_whatever_repeats(owner_client, owner, stripe_on, deliver):
    payment, _ = start_checkout(owner_client, "10")
    session = paid_session(payment)
    completed = event("checkout.session.completed", session)
    assert deliver(completed).status_code == 200
    again = deliver(completed)
    assert again.status_code == 200 and again.content == b"already processed"
    assert deliver(event("checkout.session.async_payment_succeeded", session)).status_code == 200
    assert balance(owner) == 1000 * MICRO
    entry = LedgerEntry.objects.get(account__user=owner)
    assert (entry.kind, entry.reference) == ("topup", f"stripe:{session['id']}")
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.payment_intent_id.startswith("pi_")
    assert StripeEvent.objects.filter(status="processed").count() == 2
    assert ledger_problems() == []


def test_success_page_fulfils_and_the_webhook_then_changes_nothing(
    owner_client, owner, stripe_on, deliver
):
    payment, _ = start_checkout(owner_client, "5")
    session = paid_session(payment)
    response = owner_client.get(reverse("billing:success") + f"?session_id={session['id']}")
    assert response.status_code == 302
    assert "500 credits were added" in owner_client.get(BILLING).content.decode()
    deliver(event("checkout.session.completed", session))
    assert balance(owner) == 500 * MICRO
    assert LedgerEntry.objects.filter(kind="topup").count() == 1


def test_an_unpaid_session_is_pending_and_credits_nothing(owner_client, owner, stripe_on, deliver):
    payment, _ = start_checkout(owner_client, "5")
    session = stripe_standin.sessions[payment.checkout_session_id]
    deliver(event("checkout.session.completed", {**session, "status": "complete"}))
    payment.refresh_from_db()
    assert payment.status == "pending" and not LedgerEntry.objects.exists()
    deliver(event("checkout.session.async_payment_succeeded", paid_session(payment)))
    assert balance(owner) == 500 * MICRO


def test_success_page_of_someone_elses_session_is_404(client, owner, outsider, stripe_on):
    client.force_login(owner)
    payment, _ = start_checkout(client, "5")
    paid_session(payment)
    client.force_login(outsider)
    url = reverse("billing:success") + f"?session_id={payment.checkout_session_id}"
    assert client.get(url).status_code == 404
    assert not LedgerEntry.objects.exists()


def test_amount_mismatch_credits_nothing_and_is_recorded(owner_client, owner, stripe_on, deliver):
    payment, _ = start_checkout(owner_client, "10")
    session = paid_session(payment, amount_total=100)
    assert deliver(event("checkout.session.completed", session, "evt_mismatch")).status_code == 200
    payment.refresh_from_db()
    assert payment.status == "mismatch" and "nothing credited" in payment.error
    assert "nothing credited" in StripeEvent.objects.get(event_id="evt_mismatch").error
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=deadbeef",
        "garbage",
        sign(b"{}", secret="whsec_other"),
    ],
)
def test_bad_or_missing_signatures_are_400_and_write_nothing(stripe_on, deliver, signature):
    response = deliver(event("checkout.session.completed", {"id": "cs_x"}), signature=signature)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_stale_signature_is_400(stripe_on, deliver):
    import json
    import time

    body = json.dumps(event("checkout.session.completed", {"id": "cs_x"})).encode()
    stale = sign(body, timestamp=int(time.time()) - 3600)
    assert deliver({}, signature=stale, body=body).status_code == 400
    assert not StripeEvent.objects.exists()


def test_unknown_event_types_are_stored_and_ignored(stripe_on, deliver):
    assert deliver(event("customer.created", {"id": "cus_1"}, "evt_other")).status_code == 200
    assert StripeEvent.objects.get(event_id="evt_other").status == "ignored"


@pytest.mark.django_db(transaction=True)
def test_webhook_and_success_page_at_once_credit_once(owner, stripe_on):
    client = Client()
    client.force_login(owner)
    payment, _ = start_checkout(client, "10")
    session = paid_session(payment)
    import json

    body = json.dumps(event("checkout.session.completed", session)).encode()
    barrier = threading.Barrier(6)

    def hit(i):
        barrier.wait()
        try:
            c = Client()
            if i % 2:
                c.force_login(owner)
                return c.get(
                    reverse("billing:success") + f"?session_id={session['id']}"
                ).status_code
            return c.generic(
                "POST",
                "/billing/stripe/webhook/",
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(body),
            ).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(hit, range(6)))
    assert set(statuses) <= {200, 302}, statuses
    assert balance(owner) == 1000 * MICRO
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    assert ledger_problems() == []


# --- money going back ------------------------------------------------------------------------


def paid_payment(owner_client, deliver, dollars="10"):
    payment, _ = start_checkout(owner_client, dollars)
    session = paid_session(payment)
    deliver(event("checkout.session.completed", session))
    payment.refresh_from_db()
    return payment


def charge(payment, refunds, amount_refunded):
    return {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": payment.payment_intent_id,
        "amount": payment.amount_cents,
        "amount_refunded": amount_refunded,
        "receipt_url": "https://pay.stripe.com/receipts/test",
        "refunds": {"object": "list", "data": refunds},
    }


def test_partial_and_full_refunds_add_up_once_each(owner_client, owner, stripe_on, deliver):
    payment = paid_payment(owner_client, deliver)  # $10 = 1000 credits
    first = [{"id": "re_1", "amount": 300, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, first, 300)))
    deliver(event("charge.refunded", charge(payment, first, 300)))  # another delivery
    assert balance(owner) == 700 * MICRO
    both = [*first, {"id": "re_2", "amount": 700, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, both, 1000)))
    assert balance(owner) == 0
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded_cents) == ("refunded", 1000)
    assert payment.receipt_url.startswith("https://pay.stripe.com/")
    assert LedgerEntry.objects.filter(kind="refund").count() == 2
    assert ledger_problems() == []


def test_refunds_never_take_back_more_than_the_payment_bought(
    owner_client, owner, stripe_on, deliver
):
    payment = paid_payment(owner_client, deliver)  # $10 = 1000 credits
    too_much = [{"id": "re_big", "amount": 5000, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, too_much, 5000)))
    assert balance(owner) == 0  # 1000 credits back, not 5000
    more = [*too_much, {"id": "re_more", "amount": 100, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, more, 5100)))
    assert balance(owner) == 0
    payment.refresh_from_db()
    assert payment.credits_refunded == payment.credits == 1000 * MICRO
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert ledger_problems() == []


def test_a_refund_may_take_the_balance_below_zero(owner_client, owner, stripe_on, deliver):
    payment = paid_payment(owner_client, deliver, "5")
    credits.credits_hold(account_id=owner.credit_account.pk, amount=100 * MICRO, reference="h")
    credits.credits_settle(reference="h", amount=100 * MICRO)  # spent 100 of the 500
    full = [{"id": "re_9", "amount": 500, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, full, 500)))
    assert balance(owner) == -100 * MICRO
    with pytest.raises(Exception, match="Insufficient"):
        credits.credits_hold(account_id=owner.credit_account.pk, amount=1, reference="h2")
    assert ledger_problems() == []


def dispute(payment, status="needs_response"):
    return {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": payment.payment_intent_id,
        "amount": payment.amount_cents,
        "status": status,
    }


def test_dispute_lost_keeps_the_credits_back_and_the_account_suspended(
    owner_client, owner, stripe_on, deliver
):
    payment = paid_payment(owner_client, deliver)
    deliver(event("charge.dispute.created", dispute(payment)))
    assert balance(owner) == 0
    account = Account.objects.get(user=owner)
    assert account.suspended
    with pytest.raises(AccountSuspended):
        credits.credits_grant_signup(user_id=owner.pk)
        credits.credits_hold(account_id=account.pk, amount=MICRO, reference="blocked")
    assert "suspended" in owner_client.get(BILLING).content.decode()
    deliver(event("charge.dispute.closed", dispute(payment, "lost")))
    assert Account.objects.get(user=owner).suspended
    assert LedgerEntry.objects.filter(kind="dispute").count() == 1


def test_dispute_won_restores_credits_and_access(owner_client, owner, stripe_on, deliver):
    payment = paid_payment(owner_client, deliver)
    deliver(event("charge.dispute.created", dispute(payment)))
    deliver(event("charge.dispute.closed", dispute(payment, "won")))
    deliver(event("charge.dispute.closed", dispute(payment, "won"), "evt_again"))
    account = Account.objects.get(user=owner)
    assert account.balance == 1000 * MICRO and not account.suspended
    credits.credits_hold(account_id=account.pk, amount=MICRO, reference="works")
    assert ledger_problems() == []


# --- low balance ------------------------------------------------------------------------------


def test_low_balance_email_once_until_back_above(
    owner, owner_client, django_capture_on_commit_callbacks
):
    def notify():
        with django_capture_on_commit_callbacks(execute=True):
            return services.low_balance_notify()

    credits.credits_grant_signup(user_id=owner.pk)
    account = owner.credit_account
    assert notify() == 0
    credits.credits_adjust(user_id=owner.pk, amount=-460 * MICRO, reason="spend", actor_id=None)
    assert notify() == 1
    assert notify() == 0
    assert len(mail.outbox) == 1 and "40.00 credits" in mail.outbox[0].body
    assert mail.outbox[0].to == [owner.email] and "/billing/" in mail.outbox[0].body
    credits.credits_adjust(user_id=owner.pk, amount=100 * MICRO, reason="top-up", actor_id=None)
    assert notify() == 0  # back above: re-armed
    credits.credits_adjust(user_id=owner.pk, amount=-120 * MICRO, reason="spend", actor_id=None)
    assert notify() == 1
    assert len(mail.outbox) == 2
    account.refresh_from_db()
    assert account.balance == 20 * MICRO


def test_low_balance_setting_on_the_billing_page(owner_client, owner):
    credits.credits_grant_signup(user_id=owner.pk)
    response = owner_client.post(reverse("billing:low_balance"), {"threshold": "600"})
    assert response.status_code == 302
    assert services.low_balance_notify() == 1
    bad = owner_client.post(reverse("billing:low_balance"), {"threshold": "-1"})
    assert bad.status_code == 400 and "greater than or equal to 0" in bad.content.decode()


def test_the_beat_task_sends_low_balance_emails(owner):
    from apps.billing.tasks import send_low_balance_emails

    credits.credits_grant(user_id=owner.pk, amount=MICRO, kind="topup", reference="small")
    assert send_low_balance_emails.delay().get() == 1


def test_admin_shows_payments_and_events(client, owner, stripe_on, deliver):
    from tests.factories import UserFactory

    client.force_login(owner)
    paid_payment(client, deliver)
    client.force_login(UserFactory(email="admin@example.com", is_staff=True, is_superuser=True))
    for name in ("billing_payment", "billing_stripeevent"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    stored = StripeEvent.objects.first()
    page = client.get(reverse("admin:billing_stripeevent_change", args=[stored.pk]))
    assert page.status_code == 200 and "checkout.session.completed" in page.content.decode()


def test_a_refund_before_fulfilment_is_retried_until_it_can_be_applied(
    owner_client, owner, stripe_on, deliver
):
    payment, _ = start_checkout(owner_client, "10")
    session = paid_session(payment)
    Payment.objects.filter(pk=payment.pk).update(payment_intent_id=session["payment_intent"])
    payment.refresh_from_db()
    refund = event(
        "charge.refunded",
        charge(payment, [{"id": "re_early", "amount": 1000, "status": "succeeded"}], 1000),
        "evt_early_refund",
    )
    assert deliver(refund).status_code == 500  # Stripe will deliver it again
    assert StripeEvent.objects.get(event_id="evt_early_refund").status == "failed"
    assert not LedgerEntry.objects.exists()
    deliver(event("checkout.session.completed", session))
    assert deliver(refund).status_code == 200
    assert balance(owner) == 0
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_a_refund_of_a_payment_never_credited_takes_nothing(
    owner_client, owner, stripe_on, deliver
):
    payment, _ = start_checkout(owner_client, "10")
    session = paid_session(payment, amount_total=1)
    deliver(event("checkout.session.completed", session))
    payment.refresh_from_db()
    full = [{"id": "re_m", "amount": 1, "status": "succeeded"}]
    assert deliver(event("charge.refunded", charge(payment, full, 1))).status_code == 200
    assert not LedgerEntry.objects.exists()


def test_winning_one_of_two_disputes_keeps_the_account_suspended(
    owner_client, owner, stripe_on, deliver
):
    first = paid_payment(owner_client, deliver, "10")
    second = paid_payment(owner_client, deliver, "5")
    deliver(event("charge.dispute.created", dispute(first)))
    deliver(event("charge.dispute.created", {**dispute(second), "id": "dp_2"}))
    deliver(event("charge.dispute.closed", dispute(first, "won")))
    assert Account.objects.get(user=owner).suspended
    deliver(event("charge.dispute.closed", {**dispute(second, "warning_closed"), "id": "dp_2"}))
    account = Account.objects.get(user=owner)
    assert not account.suspended and account.balance == 1500 * MICRO
    assert ledger_problems() == []


def test_a_dispute_closed_before_its_creation_is_handled_does_not_suspend(
    owner_client, owner, stripe_on, deliver
):
    payment = paid_payment(owner_client, deliver)
    deliver(event("charge.dispute.closed", dispute(payment, "won")))
    deliver(event("charge.dispute.created", dispute(payment)))
    account = Account.objects.get(user=owner)
    assert not account.suspended and account.balance == 1000 * MICRO
