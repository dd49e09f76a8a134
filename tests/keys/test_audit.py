"""Creating, changing, rotating and revoking a key each write one audit event: who, from
where, and only the changed settings, never the secret."""

import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.money import MICRO
from apps.keys import services as keys
from apps.keys.models import ApiKey
from tests.audit.hooks import IP, only_event, owner_browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(owner):
    return owner_browser(owner)


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
