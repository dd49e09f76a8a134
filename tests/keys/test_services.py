import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.keys import services
from apps.keys.errors import AlreadyDone, InvalidRpmLimit, KeyLimitReached, KeyNotActive
from apps.keys.models import ApiKey, ApiKeyEvent
from apps.keys.selectors import api_key_verify
from tests.factories import UserFactory

from .factories import make_key

pytestmark = pytest.mark.django_db


def test_database_row_holds_no_secret(owner):
    key, secret = make_key(owner, name="prod")
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    body = secret[len("sk-live-") :]
    for column, value in row.items():
        text = str(value)
        assert secret not in text, column
        assert body[:12] not in text, column  # not even a large part of the random body
    assert row["prefix"] == secret[:12] and row["last4"] == secret[-4:]
    assert len(row["digest"]) == 64


def test_verify_accepts_the_key_in_one_query(owner, django_assert_num_queries):
    key, secret = make_key(owner)
    with django_assert_num_queries(1):
        check = api_key_verify(presented=secret)
    assert check.ok and check.key == key


@pytest.mark.parametrize(
    ("presented", "reason"),
    [("sk-abc", "malformed"), ("nope", "malformed"), (None, "malformed")],
)
def test_verify_refuses_malformed_without_a_query(presented, reason, django_assert_num_queries):
    with django_assert_num_queries(0):
        check = api_key_verify(presented=presented)
    assert (check.ok, check.reason) == (False, reason)


def test_verify_refuses_a_bad_checksum_and_an_unknown_key(owner):
    _, secret = make_key(owner)
    typo = secret[:20] + ("a" if secret[20] != "a" else "b") + secret[21:]
    assert api_key_verify(presented=typo).reason == "checksum"
    from apps.keys import tokens

    assert api_key_verify(presented=tokens.generate()).reason == "unknown"


def test_revoke_takes_effect_on_the_next_verify_and_is_idempotent(owner):
    key, secret = make_key(owner)
    assert api_key_verify(presented=secret).ok
    services.api_key_revoke(user_id=owner.pk, key_id=key.pk, actor_id=owner.pk)
    check = api_key_verify(presented=secret)
    assert (check.ok, check.reason) == (False, "revoked")
    services.api_key_revoke(user_id=owner.pk, key_id=key.pk, actor_id=owner.pk)
    assert ApiKeyEvent.objects.filter(key=key, kind="revoked").count() == 1


def test_expired_key_is_refused(owner):
    start = timezone.now()
    _, secret = make_key(owner, expires_at=start + timedelta(hours=1))
    assert api_key_verify(presented=secret, now=start + timedelta(minutes=59)).ok
    assert api_key_verify(presented=secret, now=start + timedelta(hours=1)).reason == "expired"


@pytest.mark.parametrize("grace", [3600, 86400, 604800])
def test_rotation_keeps_the_old_key_exactly_for_the_grace_period(owner, grace):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        old, old_secret = make_key(owner, name="svc", credit_limit=5_000_000, rpm_limit=7)
        new, new_secret = services.api_key_rotate(
            user_id=owner.pk, key_id=old.pk, grace_seconds=grace, actor_id=owner.pk
        )
    assert (new.name, new.credit_limit, new.rpm_limit, new.rotated_from) == (
        "svc",
        5_000_000,
        7,
        old,
    )
    assert new_secret != old_secret
    with time_machine.travel(start + timedelta(seconds=grace - 1), tick=False):
        assert api_key_verify(presented=old_secret).ok
        assert api_key_verify(presented=new_secret).ok
    with time_machine.travel(start + timedelta(seconds=grace), tick=False):
        assert api_key_verify(presented=old_secret).reason == "expired"
        assert api_key_verify(presented=new_secret).ok
    kinds = list(ApiKeyEvent.objects.filter(key=old).values_list("kind", flat=True))
    assert kinds == ["rotated", "created"]
    assert ApiKeyEvent.objects.get(key=new).detail.startswith("Created by rotating")


def test_rotation_with_no_grace_stops_the_old_key_now(owner):
    old, old_secret = make_key(owner)
    services.api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=0)
    assert api_key_verify(presented=old_secret).reason == "expired"


def test_rotation_keeps_an_earlier_expiry_and_the_successor_inherits_it(owner):
    soon = timezone.now() + timedelta(minutes=10)
    old, _ = make_key(owner, expires_at=soon)
    new, _ = services.api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=86400)
    old.refresh_from_db()
    assert old.expires_at == soon and new.expires_at == soon


def test_rotate_twice_or_a_dead_key_is_refused(owner):
    old, _ = make_key(owner)
    services.api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=3600)
    with pytest.raises(AlreadyDone):
        services.api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=3600)
    dead, _ = make_key(owner)
    services.api_key_revoke(user_id=owner.pk, key_id=dead.pk)
    with pytest.raises(KeyNotActive):
        services.api_key_rotate(user_id=owner.pk, key_id=dead.pk, grace_seconds=3600)
    with pytest.raises(ValueError):
        services.api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=5)


def test_another_users_key_cannot_be_revoked_or_rotated(owner, outsider):
    key, secret = make_key(owner)
    with pytest.raises(ApiKey.DoesNotExist):
        services.api_key_revoke(user_id=outsider.pk, key_id=key.pk)
    with pytest.raises(ApiKey.DoesNotExist):
        services.api_key_rotate(user_id=outsider.pk, key_id=key.pk, grace_seconds=0)
    assert api_key_verify(presented=secret).ok


def test_at_most_fifty_active_keys(owner, settings):
    assert settings.API_KEYS_MAX_ACTIVE == 50
    keys = [make_key(owner, name=f"k{i}")[0] for i in range(50)]
    with pytest.raises(KeyLimitReached, match="50"):
        make_key(owner, name="one too many")
    services.api_key_revoke(user_id=owner.pk, key_id=keys[0].pk)
    make_key(owner, name="fits again")
    assert ApiKey.objects.filter(user=owner).count() == 51


def test_expired_keys_do_not_count_towards_the_cap(owner, settings):
    settings.API_KEYS_MAX_ACTIVE = 2
    make_key(owner, expires_at=timezone.now() - timedelta(seconds=1))
    make_key(owner)
    make_key(owner)
    with pytest.raises(KeyLimitReached):
        make_key(owner)


def test_the_same_create_token_makes_one_key(owner):
    import uuid

    token = uuid.uuid4()
    make_key(owner, create_token=token)
    with pytest.raises(AlreadyDone):
        make_key(owner, create_token=token)
    assert ApiKey.objects.filter(user=owner).count() == 1
    make_key(UserFactory(), create_token=token)  # tokens are per user


def test_name_is_required_and_at_most_64_characters(owner):
    for name in ("", "   ", "x" * 65):
        with pytest.raises(ValueError):
            make_key(owner, name=name)
    assert make_key(owner, name="x" * 64)[0].name == "x" * 64


def test_last_used_is_written_at_most_once_a_minute(owner, django_assert_num_queries):
    key, _ = make_key(owner)
    start = timezone.now()
    with django_assert_num_queries(1):
        assert services.api_key_touch(key_id=key.pk, now=start) is True
    with django_assert_num_queries(0):
        for _ in range(20):
            assert services.api_key_touch(key_id=key.pk) is False
    key.refresh_from_db()
    assert key.last_used_at == start


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_at_the_cap_make_only_one_key(settings):
    settings.API_KEYS_MAX_ACTIVE = 3
    user = UserFactory()
    make_key(user)
    make_key(user)
    barrier = threading.Barrier(6)

    def create(i):
        barrier.wait()
        try:
            return make_key(user, name=f"race{i}")[0]
        except KeyLimitReached as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(create, range(6)))
    assert sum(isinstance(r, ApiKey) for r in results) == 1
    assert ApiKey.objects.filter(user=user).count() == 3


def test_requests_per_minute_are_bounded_by_the_setting(owner, settings):
    settings.API_MAX_RPM = 100
    with pytest.raises(InvalidRpmLimit):
        make_key(owner, rpm_limit=101)
    key, _ = make_key(owner, rpm_limit=100)
    with pytest.raises(InvalidRpmLimit):
        services.api_key_update(
            user_id=owner.pk, key_id=key.pk, name="k", credit_limit=None, rpm_limit=1000
        )


def test_the_admin_revoke_action_needs_the_change_permission(client, owner):
    from django.contrib.auth.models import Permission

    key, _ = make_key(owner)
    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.force_login(viewer)
    url = "/admin/keys/apikey/"
    page = client.get(url)
    assert page.status_code == 200 and "revoke_selected" not in page.content.decode()
    client.post(url, {"action": "revoke_selected", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is None
    viewer.user_permissions.add(Permission.objects.get(codename="change_apikey"))
    client.post(url, {"action": "revoke_selected", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
