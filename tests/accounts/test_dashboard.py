import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.money import MICRO
from apps.credits import services

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_dashboard_shows_balance_held_and_latest_entries(owner_client, owner):
    services.credits_grant_signup(user_id=owner.pk)
    account = owner.credit_account
    services.credits_hold(account_id=account.pk, amount=2 * MICRO, reference="h")
    services.credits_hold(account_id=account.pk, amount=MICRO, reference="h2")
    services.credits_settle(reference="h2", amount=MICRO // 4)
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert "499.75" in body  # balance
    assert "2.00" in body  # held
    assert "497.75" in body  # available
    assert "Signup grant" in body and "Usage" in body and "-0.25" in body


def test_dashboard_never_shows_another_users_entries(owner_client, outsider):
    services.credits_grant_signup(user_id=outsider.pk)
    services.credits_adjust(
        user_id=outsider.pk, amount=7 * MICRO, reason="outsider-secret-note", actor_id=None
    )
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert "outsider-secret-note" not in body
    assert "507.00" not in body
    assert "0.00" in body


def test_dashboard_query_count_does_not_grow_with_entries(owner_client, owner):
    services.credits_grant_signup(user_id=owner.pk)
    owner_client.get(reverse("dashboard"))
    with CaptureQueriesContext(connection) as few:
        owner_client.get(reverse("dashboard"))
    for i in range(30):
        services.credits_adjust(user_id=owner.pk, amount=MICRO, reason=f"r{i}", actor_id=None)
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(reverse("dashboard"))
    assert len(many) == len(few)
    assert response.content.decode().count("<tr>") == 11  # header + the latest 10


def test_navigation_lists_the_sections_and_account_menu(owner_client):
    body = owner_client.get(reverse("dashboard")).content.decode()
    for label in ("Dashboard", "API Keys", "Usage", "Billing", "Docs", "Sign Out"):
        assert label in body
    assert 'aria-current="page"' in body
    assert f'href="{reverse("account_settings")}"' in body and "Account settings" in body


def test_a_new_user_sees_the_next_step_until_a_key_is_used(owner_client, owner):
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="next-step"' in body and "Next step: create an API key" in body
    assert f'href="{reverse("keys:list")}"' in body
    from tests.keys.factories import make_key

    key, _ = make_key(owner)
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert "Next step: make your first request" in body
    key.last_used_at = key.created_at
    key.save()
    assert 'data-testid="next-step"' not in owner_client.get(reverse("dashboard")).content.decode()


def test_the_welcome_grant_reads_in_the_users_language(owner_client, owner):
    services.credits_grant_signup(user_id=owner.pk)
    body = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "欢迎积分" in body and "Welcome credits" not in body
