"""Each hooked change writes one audit event, with its actor, the client's address and only
the changed fields before and after; the system's changes have no actor."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account
from apps.keys import services as keys
from apps.keys.models import ApiKey
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db
IP = "198.51.100.7"


@pytest.fixture
def browser(owner):
    """The owner's browser, from a known address."""
    client = Client(REMOTE_ADDR=IP)
    client.force_login(owner)
    return client


def only_event(**filters) -> AuditEvent:
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, [(e.action, e.before, e.after) for e in events]
    return events[0]


def test_creating_a_key_records_its_settings_never_its_secret(browser, owner):
    page = browser.get(reverse("keys:list")).content.decode()
    token = re.search(r'name="token" value="([0-9a-f-]+)"', page).group(1)
    response = browser.post(reverse("keys:list"), {"name": "ci", "token": token, "rpm_limit": "60"})
    assert response.status_code == 302
    key = ApiKey.objects.get(user=owner)
    event = only_event(action="key.created")
    assert (event.account_id, event.actor_id, event.ip) == (owner.pk, owner.pk, IP)
    assert event.target == key.masked and event.before is None
    assert event.after == {"name": "ci", "rpm_limit": 60}
    stored = f"{event.target} {event.before} {event.after} {event.actor_label}"
    assert key.digest not in stored and not re.search(r"sk-live-[0-9A-Za-z]{38}", stored)


def test_changing_a_keys_limits_records_only_what_changed(browser, owner):
    key, _ = keys.api_key_create(user_id=owner.pk, name="k", rpm_limit=60)
    response = browser.post(
        reverse("keys:detail", args=[key.pk]),
        {"name": "k", "rpm_limit": "120", "credit_limit": "5", "spend_window": "day"},
    )
    assert response.status_code == 302, response.content.decode()
    event = only_event(action="key.limits_changed")
    assert event.before == {"rpm_limit": 60, "credit_limit": None}
    assert event.after == {"rpm_limit": 120, "credit_limit": 5 * MICRO}
    assert (event.actor_id, event.ip, event.target) == (owner.pk, IP, key.masked)
    # Saving the same values again changes nothing and records nothing.
    browser.post(
        reverse("keys:detail", args=[key.pk]),
        {"name": "k", "rpm_limit": "120", "credit_limit": "5", "spend_window": "day"},
    )
    assert AuditEvent.objects.filter(action="key.limits_changed").count() == 1


def test_rotating_and_revoking_a_key(browser, owner):
    key, _ = keys.api_key_create(user_id=owner.pk, name="k")
    browser.post(reverse("keys:rotate", args=[key.pk]), {"grace_seconds": "3600"})
    key.refresh_from_db()
    successor = ApiKey.objects.get(rotated_from=key)
    rotated = only_event(action="key.rotated")
    assert rotated.target == key.masked and rotated.ip == IP
    assert rotated.before == {"expires_at": None}
    assert rotated.after["successor"] == successor.masked
    assert rotated.after["expires_at"].startswith(key.expires_at.isoformat()[:19])
    browser.post(reverse("keys:revoke", args=[successor.pk]))
    revoked = only_event(action="key.revoked")
    assert (revoked.target, revoked.actor_id, revoked.ip) == (successor.masked, owner.pk, IP)
    # The rotation's successor is one rotation event, not a creation too.
    assert AuditEvent.objects.filter(action="key.created").count() == 1


def test_the_playground_key_is_not_recorded(owner):
    from apps.console.services import playground_key_mint

    playground_key_mint(user_id=owner.pk)
    assert not AuditEvent.objects.exists()


def test_budget_low_balance_and_auto_top_up_settings(browser, owner):
    AccountFactory(user=owner)
    browser.post(reverse("billing:budget"), {"budget": "25"})
    budget = only_event(action="budget.changed")
    assert (budget.before, budget.after) == (
        {"monthly_budget": None},
        {"monthly_budget": 25 * MICRO},
    )
    assert (budget.actor_id, budget.ip) == (owner.pk, IP)
    browser.post(reverse("billing:budget"), {"budget": ""})
    removed = AuditEvent.objects.filter(action="budget.changed").order_by("-id").first()
    assert removed.after == {"monthly_budget": None}
    browser.post(reverse("billing:low_balance"), {"threshold": "7"})
    low = only_event(action="settings.changed")
    assert low.after == {"low_balance_threshold": 7 * MICRO}
    response = browser.post(
        reverse("billing:auto_topup"),
        {"auto-threshold": "50", "auto-dollars": "30"},  # off: no card needed
    )
    assert response.status_code == 302, response.content.decode()
    auto = only_event(action="auto_topup.changed")
    assert auto.before["threshold"] != auto.after["threshold"] == 50 * MICRO
    assert auto.after.get("dollars") == 30 and "enabled" not in auto.after


def test_account_settings_and_language(browser, owner):
    browser.post(reverse("account_settings"), {"action": "time_zone", "time_zone": "Asia/Tokyo"})
    browser.post(reverse("account_settings"), {"action": "profile", "name": "Ada"})
    browser.post(reverse("account_settings"), {"action": "content", "days": "7"})
    browser.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    events = {
        tuple(e.after): (e.before, e.after, e.ip, e.actor_id)
        for e in AuditEvent.objects.filter(action="settings.changed")
    }
    assert events == {
        ("time_zone",): ({"time_zone": "UTC"}, {"time_zone": "Asia/Tokyo"}, IP, owner.pk),
        ("profile_name",): ({"profile_name": ""}, {"profile_name": "Ada"}, IP, owner.pk),
        ("store_content_days",): (
            {"store_content_days": 0},
            {"store_content_days": 7},
            IP,
            owner.pk,
        ),
        ("language",): ({"language": ""}, {"language": "zh-hans"}, IP, owner.pk),
    }


def test_deleting_the_account_is_recorded_with_the_address_it_had(browser, owner, password):
    response = browser.post(reverse("account_delete"), {"confirm": password})
    assert response.status_code == 302, response.content.decode()
    event = only_event(action="account.deleted")
    assert (event.account_id, event.actor_label, event.ip) == (owner.pk, "owner@example.com", IP)
    owner.refresh_from_db()
    assert not owner.is_active  # the deletion happened; the log keeps who it was


def test_a_staff_adjustment_in_the_admin_is_a_staff_action(owner):
    account = AccountFactory(user=owner)
    staff = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    admin = Client(REMOTE_ADDR="192.0.2.50")
    admin.force_login(staff)
    url = reverse("admin:credits_account_adjust", args=[account.pk])
    token = re.search(r'name="token" value="([0-9a-f-]+)"', admin.get(url).content.decode())
    response = admin.post(url, {"amount": "12.5", "reason": "goodwill", "token": token.group(1)})
    assert response.status_code == 302
    event = only_event(action="credits.adjusted")
    assert (event.account_id, event.actor_id, event.ip) == (owner.pk, staff.pk, "192.0.2.50")
    assert event.actor_label == "ops@example.com (staff)"
    assert event.after == {"credits": 12_500_000, "reason": "goodwill"}
    assert event.target.startswith("adjustment:")


def test_staff_suspending_revoking_and_deactivating_in_the_admin(owner):
    account = AccountFactory(user=owner)
    key, _ = keys.api_key_create(user_id=owner.pk, name="k")
    staff = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    changelist = reverse("admin:credits_account_changelist")
    admin.post(changelist, {"action": "suspend_selected", "_selected_action": [account.pk]})
    assert Account.objects.get(pk=account.pk).suspended
    suspended = only_event(action="account.suspended")
    assert suspended.after == {"suspended": True}
    assert suspended.actor_label == "ops@example.com (staff)"
    admin.post(
        reverse("admin:keys_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    revoked = only_event(action="key.revoked")
    assert (revoked.actor_id, revoked.actor_label) == (staff.pk, "ops@example.com (staff)")
    response = admin.post(
        reverse("admin:accounts_user_change", args=[owner.pk]),
        {
            "email": owner.email,
            "name": "",
            "language": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        },  # is_active unticked
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deactivated = only_event(action="account.deactivated")
    assert deactivated.after == {"is_active": False}
    assert deactivated.actor_label == "ops@example.com (staff)"


def test_a_dispute_suspends_as_the_system(owner):
    AccountFactory(user=owner)
    credits.credits_account_suspend(user_id=owner.pk, suspended=True)
    credits.credits_account_suspend(user_id=owner.pk, suspended=True)  # no change: no event
    event = only_event(action="account.suspended")
    assert (event.actor_id, event.actor_label, event.ip) == (None, "", None)
