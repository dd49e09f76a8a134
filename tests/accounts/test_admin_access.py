"""The README's `createsuperuser`, then /admin/: no e-mail to verify first; the admin's sections
have distinct names and the credit accounts list shows each balance."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.urls import reverse

from apps.accounts.models import User
from apps.core.money import MICRO
from apps.credits import services

pytestmark = pytest.mark.django_db

PASSWORD = "an-admin-passphrase-of-length"


@pytest.fixture
def superuser(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", email="Boss@Example.com", verbosity=0)
    return User.objects.get(email="boss@example.com")


def test_a_new_superuser_signs_in_to_the_admin_without_verifying(client, superuser):
    address = EmailAddress.objects.get(user=superuser)
    assert address.verified and address.primary
    response = client.post(
        reverse("account_login") + "?next=/admin/",
        {"login": "boss@example.com", "password": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/admin/"
    assert response.status_code == 200
    assert "Site administration" in response.content.decode()


def test_admin_sections_have_distinct_names(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/").content.decode()

    captions = re.findall(r"<caption>\s*<a[^>]*>([^<]+)</a>", page)
    assert captions, page[:2000]
    assert len(captions) == len(set(captions)), captions


def test_credit_accounts_list_shows_the_balance(client, superuser, owner):
    services.account_ensure(user_id=owner.pk)
    services.credits_adjust(
        user_id=owner.pk, amount=1234 * MICRO, reason="t", actor_id=superuser.pk
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:credits_account_changelist")).content.decode()
    assert "Balance" in page
    assert "1,234" in page or "1234" in page


def test_users_list_shows_each_balance(client, superuser, owner):
    services.account_ensure(user_id=owner.pk)
    services.credits_adjust(
        user_id=owner.pk, amount=4321 * MICRO, reason="t", actor_id=superuser.pk
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "Balance (credits)" in page
    assert "4,321" in page
