"""Account settings and the account's deletion in the audit log."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.audit.hooks import IP, only_event, owner_browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(owner):
    return owner_browser(owner)


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
