"""/account/: profile, time zone, language, links to e-mail/password/2FA, and deleting."""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from apps.accounts import services
from apps.accounts.models import User
from apps.billing.models import Payment, StripeEvent
from apps.billing.services import low_balance_notify
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems
from apps.keys.models import ApiKey
from apps.keys.selectors import api_key_verify
from tests.factories import PASSWORD, UserFactory
from tests.keys.factories import make_key

pytestmark = pytest.mark.django_db
SETTINGS = reverse("account_settings")
DELETE = reverse("account_delete")


def test_anonymous_is_sent_to_login(client):
    for url in (SETTINGS, DELETE):
        response = client.get(url)
        assert response.status_code == 302 and reverse("account_login") in response.url


def test_the_page_has_every_setting_and_link(owner_client, owner):
    body = owner_client.get(SETTINGS).content.decode()
    for text in ("Profile", "Time zone", "Language", "Delete account", owner.email):
        assert text in body
    for name in ("account_email", "account_change_password", "mfa_index", "set_language"):
        assert f'href="{reverse(name)}"' in body or f'action="{reverse(name)}"' in body, name
    assert 'data-testid="mfa-status"' in body and "Off" in body


def test_profile_and_time_zone_are_saved(owner_client, owner):
    response = owner_client.post(SETTINGS, {"action": "profile", "name": "  Ada Lovelace "})
    assert response.status_code == 302 and response.url == SETTINGS
    owner_client.post(SETTINGS, {"action": "time_zone", "time_zone": "Europe/Berlin"})
    owner.refresh_from_db()
    assert (owner.name, owner.time_zone) == ("Ada Lovelace", "Europe/Berlin")
    page = owner_client.get(SETTINGS).content.decode()
    assert 'value="Ada Lovelace"' in page and '<option value="Europe/Berlin" selected>' in page


@pytest.mark.parametrize(
    "data",
    [
        {"action": "time_zone", "time_zone": "Mars/Olympus"},
        {"action": "profile", "name": "x" * 151},
        {"action": "nonsense"},
    ],
)
def test_bad_settings_change_nothing(owner_client, owner, data):
    response = owner_client.post(SETTINGS, data)
    assert response.status_code == 400
    owner.refresh_from_db()
    assert (owner.name, owner.time_zone) == ("", "UTC")


def test_a_wrong_confirmation_deletes_nothing(owner_client, owner):
    _, secret = make_key(owner)
    response = owner_client.post(DELETE, {"confirm": "not my password"})
    assert response.status_code == 400 and "That is not your password" in response.content.decode()
    owner.refresh_from_db()
    assert owner.is_active and owner.email == "owner@example.com"
    assert api_key_verify(presented=secret).ok


def test_deleting_revokes_keys_erases_personal_data_and_keeps_the_money(client, owner):
    client.force_login(owner)
    other_browser = Client()
    other_browser.force_login(owner)
    credits.credits_grant_signup(user_id=owner.pk)
    credits.credits_hold(account_id=owner.credit_account.pk, amount=MICRO, reference="req-1")
    credits.credits_settle(reference="req-1", amount=MICRO // 2)
    _, first_secret = make_key(owner, name="Ada's laptop")
    _, second_secret = make_key(owner, name="ci")
    owner.name = "Ada Lovelace"
    owner.save()
    Authenticator.objects.create(user=owner, type=Authenticator.Type.TOTP, data={"secret": "x"})
    EmailAddress.objects.create(user=owner, email="ada@old.example", verified=True)
    entries = list(LedgerEntry.objects.filter(account__user=owner).values_list("pk", "amount"))

    response = client.post(DELETE, {"confirm": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Your account is deleted" in response.content.decode()
    # Keys: refused from now on, names gone.
    for secret in (first_secret, second_secret):
        assert api_key_verify(presented=secret).reason == "revoked"
    assert set(ApiKey.objects.filter(user=owner).values_list("name", flat=True)) == {"deleted"}
    # Personal data: gone; the row stays, anonymised and inactive.
    owner.refresh_from_db()
    assert owner.email == f"deleted-user-{owner.pk}@deleted.invalid"
    assert owner.name == "" and not owner.has_usable_password() and not owner.is_active
    assert not EmailAddress.objects.filter(user=owner).exists()
    assert not Authenticator.objects.filter(user=owner).exists()
    assert not User.objects.filter(email__in=["owner@example.com", "ada@old.example"]).exists()
    # Money: every ledger row kept, untouched; the balance is still their sum.
    kept = list(LedgerEntry.objects.filter(account__user=owner).values_list("pk", "amount"))
    assert kept == entries and len(kept) >= 2
    account = owner.credit_account
    account.refresh_from_db()
    total = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
    assert account.balance == total == 500 * MICRO - MICRO // 2
    assert ledger_problems() == []
    # Signed out here and in every other browser; the old password opens nothing.
    for browser in (client, other_browser):
        assert browser.get(reverse("dashboard")).status_code == 302
    assert not Client().login(email="owner@example.com", password=PASSWORD)


def test_deleting_is_idempotent_and_needs_no_password_without_one(client, db):
    user = UserFactory(email="nopass@example.com", verified=True)
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    page = client.get(SETTINGS).content.decode()
    assert "Type your email address (nopass@example.com) to confirm" in page
    assert client.post(DELETE, {"confirm": "someone@else.example"}).status_code == 400
    assert client.post(DELETE, {"confirm": "NoPass@Example.com"}).status_code == 302
    services.user_delete(user_id=user.pk)  # again: nothing breaks
    user.refresh_from_db()
    assert not user.is_active and user.email.endswith("@deleted.invalid")


def test_a_deleted_user_gets_no_low_balance_mail_and_their_stripe_events_lose_the_address(
    owner, mailoutbox
):
    Payment.objects.create(
        user=owner,
        amount_cents=500,
        currency="usd",
        credits=500 * MICRO,
        checkout_session_id="cs_test_1",
        payment_intent_id="pi_test_1",
    )
    payload = {
        "id": "evt_1",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_test_1",
                "customer_email": "owner@example.com",
                "customer_details": {"email": "Owner@Example.com", "name": "Ada"},
                "amount_total": 500,
            }
        },
    }
    StripeEvent.objects.create(event_id="evt_1", type="checkout.session.completed", payload=payload)
    credits.credits_grant(user_id=owner.pk, amount=MICRO, kind="adjustment", reference="r")
    services.user_delete(user_id=owner.pk)
    event = StripeEvent.objects.get(event_id="evt_1")
    assert "owner@example.com" not in str(event.payload).lower()
    assert event.payload["data"]["object"]["amount_total"] == 500  # the money facts stay
    assert Payment.objects.filter(user=owner).count() == 1
    low_balance_notify()
    assert mailoutbox == []


def test_an_outsider_cannot_delete_someone_else(client, owner, outsider):
    client.force_login(outsider)
    _, secret = make_key(owner)
    client.post(DELETE, {"confirm": PASSWORD})
    owner.refresh_from_db()
    assert owner.is_active and api_key_verify(presented=secret).ok
    outsider.refresh_from_db()
    assert not outsider.is_active  # the only account a request can delete is its own


def test_keeping_prompts_and_answers_is_a_choice_of_days(owner_client, owner):
    page = owner_client.get("/account/").content.decode()
    assert "does not store what you send" in page
    response = owner_client.post("/account/", {"action": "content", "days": "7"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.store_content_days == 7
    bad = owner_client.post("/account/", {"action": "content", "days": "365"})
    assert bad.status_code == 400
    owner.refresh_from_db()
    assert owner.store_content_days == 7
    owner_client.post("/account/", {"action": "content", "days": "0"})
    owner.refresh_from_db()
    assert owner.store_content_days == 0


def test_deletion_blanks_personal_data_in_every_stored_stripe_event_and_drops_sessions(
    client, owner
):
    """Name, phone, address and tax ids (not only the e-mail) go from the events of the user's
    Checkout Sessions, payments, invoices, setup sessions and Stripe customer; the money facts
    stay; the session rows that name the user are deleted."""
    from django.contrib.sessions.models import Session

    from apps.billing.models import AutoTopUp

    client.force_login(owner)
    assert Session.objects.count() == 1
    AutoTopUp.objects.create(user=owner, customer_id="cus_ada", payment_method_id="pm_x")
    Payment.objects.create(
        user=owner,
        amount_cents=500,
        currency="usd",
        credits=500 * MICRO,
        checkout_session_id="cs_2",
        payment_intent_id="pi_2",
        invoice_id="in_2",
    )
    details = {
        "email": "ada@billing.example",
        "name": "Ada Lovelace",
        "phone": "+44 20 7946 0000",
        "address": {"line1": "12 St James's Square", "city": "London"},
        "tax_ids": [{"type": "gb_vat", "value": "GB123456789"}],
    }
    objects = [
        {"id": "cs_2", "object": "checkout.session", "amount_total": 500,
         "customer_details": details},
        {"id": "in_2", "object": "invoice", "amount_paid": 500, "customer_name": "Ada Lovelace",
         "customer_address": details["address"], "customer_tax_ids": details["tax_ids"],
         "customer_email": "ada@billing.example"},
        {"id": "seti_1", "object": "setup_intent", "metadata": {"user_id": str(owner.pk)},
         "customer": "cus_ada"},
        {"id": "cus_ada", "object": "customer", **details},
        {"id": "ch_2", "object": "charge", "payment_intent": "pi_2", "amount": 500,
         "billing_details": details},
    ]  # fmt: skip
    for index, obj in enumerate(objects):
        StripeEvent.objects.create(
            event_id=f"evt_p{index}",
            type="x",
            payload={"id": f"evt_p{index}", "data": {"object": obj}},
        )
    services.user_delete(user_id=owner.pk)
    stored = " ".join(str(e.payload) for e in StripeEvent.objects.all())
    for personal in ("Ada Lovelace", "+44 20", "St James", "GB123456789", "ada@billing.example"):
        assert personal not in stored, personal
    kept = {
        e.payload["data"]["object"]["id"]: e.payload["data"]["object"]
        for e in StripeEvent.objects.all()
    }
    assert kept["cs_2"]["amount_total"] == 500 and kept["ch_2"]["amount"] == 500
    assert kept["in_2"]["amount_paid"] == 500
    assert Session.objects.count() == 0
