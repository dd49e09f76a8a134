"""Issue #24, small ones: keys revoked more than 30 days ago leave the list (shown behind
"show revoked"); the playground's internal key is listed without Rotate/Revoke."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.console.models import PlaygroundKey
from apps.keys.models import ApiKey
from tests.keys.factories import make_key

pytestmark = pytest.mark.django_db
KEYS = reverse("keys:list")


def test_keys_revoked_long_ago_are_behind_show_revoked(owner_client, owner):
    make_key(owner, name="current")
    recent, _ = make_key(owner, name="revoked-lately")
    old, _ = make_key(owner, name="revoked-long-ago")
    ApiKey.objects.filter(pk=recent.pk).update(revoked_at=timezone.now() - timedelta(days=2))
    ApiKey.objects.filter(pk=old.pk).update(revoked_at=timezone.now() - timedelta(days=31))
    body = owner_client.get(KEYS).content.decode()
    assert "current" in body and "revoked-lately" in body
    assert "revoked-long-ago" not in body
    assert 'data-testid="hidden-revoked"' in body and "?revoked=1" in body
    everything = owner_client.get(KEYS + "?revoked=1").content.decode()
    assert "revoked-long-ago" in everything and 'data-testid="hidden-revoked"' not in everything


def test_the_playground_key_has_no_rotate_or_revoke(owner_client, owner):
    key, _ = make_key(owner, name="Playground")
    PlaygroundKey.objects.create(api_key=key)
    body = owner_client.get(KEYS).content.decode()
    assert 'data-testid="playground-key"' in body
    assert reverse("keys:rotate", args=[key.pk]) not in body
    assert reverse("keys:revoke", args=[key.pk]) not in body
