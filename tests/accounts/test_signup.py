import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.core.money import MICRO
from apps.credits.models import Account, LedgerEntry
from apps.credits.selectors import ledger_problems
from apps.credits.services import address_fingerprint

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase"


def signup(client, email="new@example.com", password=PASSWORD):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": password, "password2": password},
    )


def confirmation_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_signup_sends_a_verification_email_and_grants_nothing_yet(client):
    response = signup(client)
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body
    assert not LedgerEntry.objects.filter(account__user=user).exists()
    assert Account.objects.filter(user=user, balance=0).exists()


def test_verification_grants_500_credits_and_lands_on_the_dashboard(client):
    signup(client)
    link = confirmation_link(mail.outbox[0])
    assert client.get(link).status_code == 200  # a page with a confirm button; GET changes nothing
    assert not LedgerEntry.objects.exists()
    response = client.post(link, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "500.00" in response.content.decode()
    user = User.objects.get(email="new@example.com")
    assert user.credit_account.balance == 500 * MICRO
    entry = LedgerEntry.objects.get(account__user=user)
    assert entry.kind == "signup_grant"
    assert entry.reference == f"signup:{address_fingerprint('new@example.com')}"
    assert "new@example.com" not in entry.reference  # a keyed hash, not the address


def test_replayed_link_and_second_address_grant_nothing_twice(client):
    signup(client)
    link = confirmation_link(mail.outbox[0])
    client.post(link)
    client.post(link)  # replay
    client.post(reverse("account_email"), {"action_add": "", "email": "second@example.com"})
    second = [m for m in mail.outbox if m.to == ["second@example.com"]]
    assert second, [m.to for m in mail.outbox]
    client.post(confirmation_link(second[-1]))
    user = User.objects.get(email="new@example.com")
    assert EmailAddress.objects.filter(user=user, verified=True).count() == 2
    assert user.credit_account.balance == 500 * MICRO
    assert LedgerEntry.objects.filter(account__user=user).count() == 1
    assert ledger_problems() == []


def test_unverified_user_cannot_log_in(client):
    signup(client)
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "new@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert client.get(reverse("dashboard")).status_code == 302


def test_signup_form_errors_keep_what_was_typed(client):
    response = signup(client, email="typed@example.com", password="short")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="typed@example.com"' in body
    assert "errorlist" in body
    assert not User.objects.exists()


def test_signup_rejects_a_bad_email(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "not-an-email", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert 'value="not-an-email"' in response.content.decode()
    assert not User.objects.exists()


def test_double_submitted_signup_makes_one_user(client):
    signup(client, email="twice@example.com")
    signup(client, email="twice@example.com")
    assert User.objects.filter(email__iexact="twice@example.com").count() == 1


def test_email_is_the_login_and_is_case_insensitive(client, owner, password):
    response = client.post(
        reverse("account_login"), {"login": "OWNER@Example.com", "password": password}
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert "username" not in client.get(reverse("account_signup")).content.decode().lower()


def test_password_reset_sends_a_link_that_sets_a_new_password(client, owner):
    client.post(reverse("account_reset_password"), {"email": owner.email})
    assert len(mail.outbox) == 1
    match = re.search(
        r"https?://[^/\s]+(/accounts/password/reset/key/[^\s]+/)", mail.outbox[0].body
    )
    assert match
    response = client.get(match.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    new = "another-long-passphrase-2"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(new)


def test_change_password_requires_the_old_one(owner_client, owner, password):
    url = reverse("account_change_password")
    response = owner_client.post(
        url,
        {
            "oldpassword": "wrong",
            "password1": "new-pass-phrase-9",
            "password2": "new-pass-phrase-9",
        },
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = owner_client.post(
        url,
        {
            "oldpassword": password,
            "password1": "new-pass-phrase-9",
            "password2": "new-pass-phrase-9",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("new-pass-phrase-9")


def test_logout_is_a_post(owner_client):
    response = owner_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert owner_client.get(reverse("dashboard")).status_code == 302


def test_signup_is_rate_limited(client):
    from django.conf import settings

    assert settings.ACCOUNT_RATE_LIMITS_ENABLED
    statuses = [signup(client, email=f"flood{i}@example.com").status_code for i in range(25)]
    assert 429 in statuses


def test_totp_two_factor_can_be_turned_on_and_is_then_asked_at_login(client, owner, password):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    def code(secret):
        import time

        return format_hotp_value(hotp_value(secret, int(time.time()) // 30))

    client.post(reverse("account_login"), {"login": owner.email, "password": password})
    response = client.get(reverse("mfa_activate_totp"))
    if response.status_code == 302:  # allauth asks for the password again before changing 2FA
        assert response.url.startswith(reverse("account_reauthenticate"))
        client.post(response.url, {"password": password})
        response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    secret = response.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=owner, type="totp").exists()

    client.post(reverse("account_logout"))
    response = client.post(reverse("account_login"), {"login": owner.email, "password": password})
    assert response.url == reverse("mfa_authenticate")
    assert client.get(reverse("dashboard")).status_code == 302  # not in without the code


def test_a_deleted_accounts_address_signing_up_again_gets_no_second_grant(client, settings):
    """The grant is keyed by the mailbox (a keyed hash that survives the deletion), so deleting
    the account and signing up again, with a +tag or Gmail's dots, grants nothing more."""
    from apps.accounts.services import user_delete

    settings.ACCOUNT_RATE_LIMITS = False  # one confirmation e-mail per address per 3 minutes

    def sign_up_and_verify(email):
        browser = Client()
        mail.outbox.clear()
        response = signup(browser, email=email)
        assert response.status_code == 302, response.content.decode()[-3000:]
        browser.post(confirmation_link(mail.outbox[0]))
        return User.objects.get(email__iexact=email)

    first = sign_up_and_verify("ada.lovelace@gmail.com")
    assert first.credit_account.balance == 500 * MICRO
    user_delete(user_id=first.pk)
    for again in (
        "ada.lovelace@gmail.com",
        "adalovelace+2@gmail.com",
        "Ada.Love.lace@googlemail.com",
    ):
        user = sign_up_and_verify(again)
        assert user.pk != first.pk
        assert user.credit_account.balance == 0, again
        assert not LedgerEntry.objects.filter(account__user=user).exists()
        user_delete(user_id=user.pk)
    # Someone else still gets theirs.
    assert sign_up_and_verify("grace@example.com").credit_account.balance == 500 * MICRO
    assert ledger_problems() == []
