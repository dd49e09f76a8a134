import re

import pytest
from django.urls import reverse

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.models import LedgerEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    return client


def form_token(response):
    return re.search(r'name="token" value="([0-9a-f-]+)"', response.content.decode()).group(1)


def test_staff_grants_credits_with_a_reason_as_an_adjustment(staff_client, owner):
    account = services.account_ensure(user_id=owner.pk)
    url = reverse("admin:credits_account_adjust", args=[account.pk])
    token = form_token(staff_client.get(url))
    data = {"amount": "12.5", "reason": "Support goodwill", "token": token}
    response = staff_client.post(url, data)
    assert response.status_code == 302
    again = staff_client.post(url, data)  # double submit
    assert again.status_code == 200 and "already applied" in again.content.decode()
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.amount, entry.memo) == ("adjustment", 12_500_000, "Support goodwill")
    assert entry.created_by.email == "staff@example.com"
    account.refresh_from_db()
    assert account.balance == 12_500_000


def test_deducting_more_than_available_is_a_form_error(staff_client, owner):
    services.credits_grant_signup(user_id=owner.pk)
    account = owner.credit_account
    url = reverse("admin:credits_account_adjust", args=[account.pk])
    response = staff_client.post(
        url, {"amount": "-600", "reason": "chargeback", "token": form_token(staff_client.get(url))}
    )
    assert response.status_code == 200
    assert "Insufficient credits" in response.content.decode()
    account.refresh_from_db()
    assert account.balance == 500 * MICRO


@pytest.mark.parametrize(
    ("amount", "reason", "error"),
    [
        ("0", "x", "non-zero"),
        ("abc", "x", "Enter a number"),
        ("1", "", "required"),
        ("0.0000001", "x", "decimal places"),
    ],
)
def test_adjust_form_validation_keeps_input(staff_client, owner, amount, reason, error):
    account = services.account_ensure(user_id=owner.pk)
    url = reverse("admin:credits_account_adjust", args=[account.pk])
    response = staff_client.post(
        url, {"amount": amount, "reason": reason, "token": form_token(staff_client.get(url))}
    )
    body = response.content.decode()
    assert response.status_code == 200 and error in body
    assert f'value="{amount}"' in body
    assert not LedgerEntry.objects.exists()


def test_non_staff_cannot_adjust(owner_client, owner):
    account = services.account_ensure(user_id=owner.pk)
    url = reverse("admin:credits_account_adjust", args=[account.pk])
    response = owner_client.post(url, {"amount": "100", "reason": "me", "token": "x"})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert not LedgerEntry.objects.exists()


def test_ledger_entries_are_read_only_in_admin(staff_client, owner):
    entry = services.credits_grant_signup(user_id=owner.pk)
    change = reverse("admin:credits_ledgerentry_change", args=[entry.pk])
    assert staff_client.get(reverse("admin:credits_ledgerentry_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:credits_ledgerentry_add")).status_code == 403
    assert staff_client.post(change, {"amount": 1}).status_code == 403
    delete = reverse("admin:credits_ledgerentry_delete", args=[entry.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 500 * MICRO


def test_account_and_user_admin_pages_render(staff_client, owner):
    account = services.account_ensure(user_id=owner.pk)
    for url in (
        reverse("admin:credits_account_changelist"),
        reverse("admin:credits_account_change", args=[account.pk]),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[owner.pk]),
        reverse("admin:credits_hold_changelist"),
    ):
        assert staff_client.get(url).status_code == 200, url


def test_admin_lists_overruns(staff_client, funded_account):
    account = funded_account(credits=10)
    services.credits_hold(account_id=account.pk, amount=1 * MICRO, reference="req-over")
    services.credits_settle(reference="req-over", amount=3 * MICRO)
    services.credits_hold(account_id=account.pk, amount=1 * MICRO, reference="req-fine")
    services.credits_settle(reference="req-fine", amount=MICRO // 2)
    page = staff_client.get(reverse("admin:credits_hold_changelist") + "?overrun=yes")
    assert page.status_code == 200
    html = page.content.decode()
    assert "req-over" in html and "req-fine" not in html
    assert "2.0000" in html  # the overrun, in credits


def test_admin_login_goes_through_allauth_with_its_second_factor(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    staff = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    staff.set_password("a-strong-pass-123")
    staff.save()
    # Django's own form is gone: posting a password to it signs nobody in.
    client.post("/admin/login/", {"username": staff.email, "password": "a-strong-pass-123"})
    assert client.get("/admin/").status_code == 302
