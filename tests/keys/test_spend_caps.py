"""A key's spend cap (an organization member's: ``credits.SpendCap``) in the facts the gateway
caches, and those facts dropped on every worker when the cap changes."""

import pytest
from django.conf import settings

from apps.core.money import MICRO
from apps.credits.services import spend_cap_create, spend_cap_update
from apps.keys import cache as key_cache
from apps.keys import services
from apps.keys.selectors import KeyFacts, api_key_facts
from tests.factories import AccountFactory

from .factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return AccountFactory(user__verified=True).user


def test_the_facts_carry_the_caps_limit_and_models(owner):
    cap = spend_cap_create(user_id=owner.pk, monthly_limit=5 * MICRO, allowed_models=["b", "a"])
    key, _ = make_key(owner, spend_cap_id=cap.pk, allowed_models=["a", "c"])
    facts = api_key_facts(digest=key.digest)
    assert (facts.cap_id, facts.cap_limit, facts.cap_models) == (cap.pk, 5 * MICRO, ["a", "b"])
    assert facts.model_allowed("a")
    assert not facts.model_allowed("b") and not facts.model_allowed("c")  # both must allow
    assert facts.allowed_models == ["a"] and facts.restricted
    plain, _ = make_key(owner, name="plain")
    facts = api_key_facts(digest=plain.digest)
    assert (facts.cap_id, facts.cap_limit, facts.cap_models) == (None, None, [])
    assert facts.model_allowed("anything") and not facts.restricted


def test_facts_cached_before_caps_existed_still_load():
    old = {"id": 1, "user_id": 2, "account_id": 3, "rpm_limit": None, "credit_limit": None}
    facts = KeyFacts(**old, expires_at=None, revoked=False)
    assert facts.cap_id is None and facts.model_allowed("x")


def test_a_changed_cap_drops_the_cached_facts_of_every_key_sharing_it(owner):
    cap = spend_cap_create(user_id=owner.pk, monthly_limit=5 * MICRO)
    first, _ = make_key(owner, name="one", spend_cap_id=cap.pk)
    second, _ = make_key(owner, name="two", spend_cap_id=cap.pk)
    other, _ = make_key(owner, name="other")
    key_cache.memory.clear()
    spend_cap_update(cap_id=cap.pk, monthly_limit=MICRO, allowed_models=["demo-chat"])
    for key in (first, second):
        assert key_cache.memory[key.digest][1] == key_cache.TOMBSTONE
        if settings.REDIS_URL:  # the shared entry every worker reads
            entry = key_cache.sync_redis().get(key_cache.KEY_PREFIX + key.digest)
            assert entry == key_cache.TOMBSTONE.encode()
    assert other.digest not in key_cache.memory
    assert services.api_keys_forget_cap(cap.pk) == 2


def test_rotation_keeps_the_cap(owner):
    cap = spend_cap_create(user_id=owner.pk, monthly_limit=MICRO)
    key, _ = make_key(owner, spend_cap_id=cap.pk)
    successor, _ = services.api_key_rotate(user_id=owner.pk, key_id=key.pk, grace_seconds=0)
    assert api_key_facts(digest=successor.digest).cap_id == cap.pk
