"""Staff actions in the Django admin on an account's money, keys and access are recorded as
the staff member's, marked as staff; a dispute's suspension is the system's."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.credits import services as credits
from apps.credits.models import Account
from apps.keys import services as keys
from tests.audit.hooks import only_event
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


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
