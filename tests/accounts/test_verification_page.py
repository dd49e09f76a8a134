"""The verify-email page tells the truth (was a mail sent?), and offers "send it again" and
"wrong address?"; the sign-up form keeps what it can and refuses over-long local parts."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from apps.accounts.models import User
from apps.core.money import MICRO

from .test_signup import PASSWORD, confirmation_link, signup

pytestmark = pytest.mark.django_db

SENT_PAGE = "account_email_verification_sent"


def status_text(client) -> str:
    page = client.get(reverse(SENT_PAGE)).content.decode()
    return page


def test_first_sign_up_says_the_mail_went_to_the_address(client):
    signup(client, email="new@example.com")
    page = status_text(client)
    assert "We sent a link to <strong>new@example.com</strong>" in page
    assert len(mail.outbox) == 1


def test_second_sign_up_within_the_limit_does_not_claim_a_new_mail(client):
    signup(client, email="new@example.com")
    client.cookies.clear()
    signup(client, email="new@example.com")  # the same address again, a minute later
    assert len(mail.outbox) == 1  # allauth's limit: no second mail
    page = status_text(client)
    assert "We did not send another email just now" in page
    assert "We sent a link to" not in page


def test_send_it_again_respects_the_limit_and_says_so(client, settings):
    signup(client, email="new@example.com")
    response = client.post(reverse("account_verification_resend"), follow=True)
    assert len(mail.outbox) == 1
    assert "We did not send another email just now" in response.content.decode()
    settings.ACCOUNT_RATE_LIMITS = {"confirm_email": None}
    response = client.post(reverse("account_verification_resend"), follow=True)
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["new@example.com"]
    assert "We sent a new link to new@example.com" in response.content.decode()


def test_wrong_address_moves_the_sign_up_to_the_right_one(client):
    signup(client, email="tpyo@example.com")
    user = User.objects.get(email="tpyo@example.com")
    response = client.post(
        reverse("account_verification_change"), {"email": "typo@example.com"}, follow=True
    )
    assert "We sent a link to <strong>typo@example.com</strong>" in response.content.decode()
    user.refresh_from_db()
    assert user.email == "typo@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == [
        "typo@example.com"
    ]
    assert mail.outbox[-1].to == ["typo@example.com"]
    response = client.post(confirmation_link(mail.outbox[-1]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    user.refresh_from_db()
    assert user.credit_account.balance == 500 * MICRO
    assert user.check_password(PASSWORD)


def test_wrong_address_refuses_a_bad_address_and_keeps_the_page(client):
    signup(client, email="tpyo@example.com")
    response = client.post(reverse("account_verification_change"), {"email": "not-an-address"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert User.objects.get().email == "tpyo@example.com"


def test_wrong_address_after_signing_up_with_a_taken_one_works_the_same(client):
    """Signing up with an address that has an account makes none (allauth mails the owner);
    the right address then gets a new account with the password typed at sign-up."""
    owner = User.objects.create_user(email="taken@example.com", password="x" * 20)
    signup(client, email="taken@example.com")
    assert User.objects.count() == 1
    client.post(reverse("account_verification_change"), {"email": "mine@example.com"})
    user = User.objects.get(email="mine@example.com")
    assert user.pk != owner.pk
    assert user.check_password(PASSWORD)
    assert mail.outbox[-1].to == ["mine@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[-1].body


def test_wrong_address_never_touches_someone_elses_account(client):
    User.objects.create_user(email="other@example.com", password="x" * 20)
    signup(client, email="tpyo@example.com")
    client.post(reverse("account_verification_change"), {"email": "other@example.com"})
    assert User.objects.get(email="tpyo@example.com")  # unchanged
    assert User.objects.get(email="other@example.com").check_password("x" * 20)


def test_local_part_over_64_characters_is_refused(client):
    response = signup(client, email="a" * 65 + "@example.com")
    assert response.status_code == 200
    assert "at most 64 characters" in response.content.decode()
    assert not User.objects.exists()
    assert signup(client, email="a" * 64 + "@example.com").status_code == 302


def test_passwords_are_kept_when_only_the_email_was_wrong(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "a" * 65 + "@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    page = response.content.decode()
    assert page.count(f'value="{PASSWORD}"') == 2
    response = client.post(
        reverse("account_signup"),
        {"email": "ok@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert PASSWORD not in response.content.decode()  # the passwords were what was wrong
    assert 'value="ok@example.com"' in response.content.decode()


def test_sign_up_page_mentions_the_free_credits_and_short_password_rules(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert "500 free credits" in page
    assert "At least 8 characters" in page
    assert "<ul" not in page.split("password1")[1].split("</form>")[0].split("helptext")[0]
    assert "Signup" not in page


def test_the_plain_text_verification_mail_is_in_the_sites_words(client):
    signup(client, email="new@example.com")
    body = mail.outbox[0].body
    assert "Confirm it and your 500 free credits are on your account." in body
    assert "You're receiving this email because" not in body  # allauth's stock text
    assert confirmation_link(mail.outbox[0])
