"""Signing in with GitHub or Google, against a stand-in OAuth server in the test process."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.urls import reverse

from apps.accounts.models import User
from apps.core.money import MICRO
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems
from config.settings.base import social_providers_from_env
from tests.servers import ServerThread

from .oauth_standin import CLIENTS, OAuthStandIn, environ, github_identity, google_identity
from .test_signup import PASSWORD, confirmation_link, signup

pytestmark = pytest.mark.django_db


@pytest.fixture
def standin(monkeypatch, settings):
    server = OAuthStandIn()
    with ServerThread(server.app) as thread:
        server.point_at(monkeypatch, thread.url)
        settings.SOCIALACCOUNT_PROVIDERS = social_providers_from_env(environ())
        yield server


def sign_in_with(client, provider: str):
    """The browser's round trip: our login URL, the provider's authorize page, our callback."""
    response = client.post(reverse(f"{provider}_login"))
    assert response.status_code == 302, response.content[:500]
    authorize = response["Location"]
    at_provider = requests.get(authorize, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    callback = urlsplit(at_provider.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}", follow=True)


def grants(user) -> int:
    return LedgerEntry.objects.filter(account__user=user, kind="signup_grant").count()


def test_off_without_client_ids_no_buttons_and_no_500(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = social_providers_from_env({})
    for name in ("account_login", "account_signup"):
        page = client.get(reverse(name)).content.decode()
        assert "GitHub" not in page and "Google" not in page
    for provider in ("github", "google"):
        for method in (client.get, client.post):
            response = method(f"/accounts/{provider}/login/")
            assert response.status_code == 404
        assert client.get(f"/accounts/{provider}/login/callback/?code=x&state=y").status_code == 404


def test_only_a_provider_with_both_id_and_secret_is_on():
    providers = social_providers_from_env({"GITHUB_CLIENT_ID": "x", "GOOGLE_CLIENT_ID": "y"})
    assert providers["github"]["APPS"] == [] and providers["google"]["APPS"] == []
    providers = social_providers_from_env({"GITHUB_CLIENT_ID": "x", "GITHUB_CLIENT_SECRET": "s"})
    assert providers["github"]["APPS"] == [{"client_id": "x", "secret": "s"}]
    assert providers["google"]["APPS"] == []


def test_buttons_on_login_and_signup_pages(client, standin):
    for name in ("account_login", "account_signup"):
        page = client.get(reverse(name)).content.decode()
        assert "Continue with GitHub" in page
        assert "Continue with Google" in page
        assert f'action="{reverse("github_login")}' in page  # a POST form, not a GET link


def test_new_user_by_github_gets_the_free_credits_once(client, standin):
    response = sign_in_with(client, "github")
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    user = User.objects.get(email="octo@example.com")
    assert user.name == "Octo Cat"
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    assert SocialAccount.objects.get(user=user).uid == "4242"
    assert user.credit_account.balance == 500 * MICRO
    assert grants(user) == 1
    assert mail.outbox == []  # GitHub vouched for the address: nothing to confirm
    # The provider was asked for the e-mail addresses, with our client and callback.
    ask = standin.authorize_requests[-1]
    assert ask["client_id"] == CLIENTS["github"][0]
    assert "user:email" in ask["scope"]
    assert ask["redirect_uri"] == "http://testserver/accounts/github/login/callback/"

    client.post(reverse("account_logout"))
    again = sign_in_with(client, "github")  # signing in again: the same account, no new grant
    assert again.redirect_chain[-1][0] == reverse("dashboard")
    assert User.objects.count() == 1
    assert grants(user) == 1
    assert ledger_problems() == []


def test_new_user_by_google_gets_the_free_credits(client, standin):
    response = sign_in_with(client, "google")
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    user = User.objects.get(email="person@example.com")
    assert user.name == "Pat Lee"
    assert user.credit_account.balance == 500 * MICRO
    assert SocialAccount.objects.get(user=user, provider="google").uid == "10987654321"
    token_call = standin.token_requests[-1]
    assert token_call["client_secret"] == CLIENTS["google"][1]


def test_existing_account_is_linked_by_a_verified_address(client, standin):
    signup(client, email="octo@example.com")
    client.post(confirmation_link(mail.outbox[0]))
    client.post(reverse("account_logout"))
    user = User.objects.get(email="octo@example.com")
    response = sign_in_with(client, "github")
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert response.context["user"].pk == user.pk
    assert SocialAccount.objects.get(provider="github").user_id == user.pk
    assert User.objects.count() == 1
    assert grants(user) == 1  # the sign-up's, not a second one
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # a verified account keeps its password


def test_an_unverified_provider_address_is_never_trusted(client, standin):
    signup(client, email="victim@example.com")
    client.post(confirmation_link(mail.outbox[0]))
    client.post(reverse("account_logout"))
    victim = User.objects.get(email="victim@example.com")
    standin.identities["github"] = github_identity(email="victim@example.com", verified=False)
    response = sign_in_with(client, "github")
    assert response.context["user"].pk != victim.pk
    assert not SocialAccount.objects.filter(user=victim).exists()
    assert grants(victim) == 1


def test_someone_who_signed_up_with_your_address_is_locked_out(client, standin):
    """An unverified account made with this address by someone else: the provider's verified
    address signs its owner in, the address becomes verified (the credits follow) and the
    password the other person chose stops working (allauth wipes it)."""
    signup(client, email="octo@example.com")  # never confirmed
    client.post(reverse("account_logout"))
    mail.outbox.clear()
    response = sign_in_with(client, "github")
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    user = User.objects.get(email="octo@example.com")
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    assert grants(user) == 1
    client.post(reverse("account_logout"))
    refused = client.post(
        reverse("account_login"), {"login": "octo@example.com", "password": PASSWORD}
    )
    assert "_auth_user_id" not in client.session
    assert refused.status_code == 200


def test_google_address_not_verified_asks_for_the_usual_confirmation(client, standin):
    standin.identities["google"] = google_identity(email="pending@example.com", verified=False)
    response = sign_in_with(client, "google")
    assert response.redirect_chain[-1][0] == reverse("account_email_verification_sent")
    user = User.objects.get(email="pending@example.com")
    assert grants(user) == 0
    assert mail.outbox[-1].to == ["pending@example.com"]
    client.post(confirmation_link(mail.outbox[-1]))
    assert grants(user) == 1


def test_a_code_from_the_provider_cannot_be_replayed(client, standin):
    response = client.post(reverse("github_login"))
    at_provider = requests.get(response["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(at_provider.headers["Location"])
    assert parse_qs(callback.query)["code"]
    client.get(f"{callback.path}?{callback.query}")
    client.post(reverse("account_logout"))
    replay = client.get(f"{callback.path}?{callback.query}")
    assert replay.status_code == 401  # the "sign-in failed" page, in the site's layout
    assert "site-header" in replay.content.decode()
    assert "_auth_user_id" not in client.session
