"""Key guardrails in the services: parsing what the owner typed, the windows a spend limit counts
in, the ORM reservation (the rule apps/gateway/pg.py also writes in SQL), and cache
invalidation on every change."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.core.money import MICRO
from apps.keys import cache as key_cache
from apps.keys import services, windows
from apps.keys.errors import InvalidGuardrail, KeyCreditLimitReached, KeySpendLimitReached
from apps.keys.guardrails import address_allowed, clean_models, clean_networks
from apps.keys.models import ApiKey, ApiKeyEvent
from apps.keys.selectors import api_key_facts

from .factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """The explanations are translated: these read them in English, whatever ran before."""
    from django.utils import translation

    with translation.override("en"):
        yield


# --- parsing -------------------------------------------------------------------------------------


def test_networks_are_written_back_canonically_and_bad_ones_explained():
    assert clean_networks("203.0.113.7, 10.0.0.0/8\n2001:DB8::/32  192.0.2.1/32 10.0.0.0/8") == [
        "203.0.113.7",
        "10.0.0.0/8",
        "2001:db8::/32",
        "192.0.2.1",
    ]
    assert clean_networks("") == [] and clean_networks(None) == []
    with pytest.raises(InvalidGuardrail, match=r"the network is 10\.0\.0\.0/8"):
        clean_networks("10.1.2.3/8")
    with pytest.raises(InvalidGuardrail, match="not an IP address or network"):
        clean_networks("office-wifi")
    with pytest.raises(InvalidGuardrail, match="at most 100"):
        clean_networks([f"10.0.{i // 256}.{i % 256}" for i in range(101)])


def test_models_are_split_and_checked_against_the_catalog():
    assert clean_models("a, b\nc a") == ["a", "b", "c"]
    assert clean_models("a b", known={"a", "b"}) == ["a", "b"]
    with pytest.raises(InvalidGuardrail, match="No such model: gpt-9"):
        clean_models("a gpt-9", known={"a"})


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.9.8.7", True),
        ("11.0.0.1", False),
        ("2001:db8:ffff::1", True),
        ("2001:db9::1", False),
        ("::ffff:10.1.1.1", True),  # an IPv4 client on a dual-stack socket
        ("203.0.113.7", True),
        ("203.0.113.8", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
        (None, False),
    ],
)
def test_a_client_address_is_matched_against_ipv4_and_ipv6_networks(address, allowed):
    networks = ["10.0.0.0/8", "2001:db8::/32", "203.0.113.7"]
    assert address_allowed(address, networks) is allowed
    assert address_allowed(address, []) is True  # no list: any address


# --- windows -------------------------------------------------------------------------------------


def test_windows_start_at_midnight_in_the_owners_time_zone():
    # 2026-03-01 17:30 UTC is Monday 2 March, 01:30 in Shanghai (UTC+8).
    now = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
    starts = windows.compute("Asia/Shanghai", now)
    assert starts.day == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert starts.week == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # Monday
    assert starts.month == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert windows.compute("UTC", now).week == datetime(2026, 2, 23, tzinfo=UTC)
    assert windows.compute("No/Such_Zone", now) == windows.compute("UTC", now)
    # A day of 23 hours: New York's midnight moves with its clocks.
    dst = windows.compute("America/New_York", datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    assert dst.day == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert dst.until == datetime(2026, 3, 9, 4, 0, tzinfo=UTC).timestamp()
    nxt = windows.next_start("month", "Asia/Shanghai", datetime(2026, 12, 31, 17, 0, tzinfo=UTC))
    assert nxt.isoformat() == "2027-02-01T00:00:00+08:00"
    assert windows.next_start("week", "UTC", now).date().isoformat() == "2026-03-02"


def test_the_starts_are_kept_until_midnight_and_then_moved():
    first = windows.starts("Europe/Berlin", datetime(2026, 5, 4, 21, 0, tzinfo=UTC))
    assert windows.starts("Europe/Berlin", datetime(2026, 5, 4, 21, 59, tzinfo=UTC)) is first
    after = windows.starts("Europe/Berlin", datetime(2026, 5, 4, 22, 0, tzinfo=UTC))
    assert after.day == datetime(2026, 5, 4, 22, 0, tzinfo=UTC) != first.day


# --- settings ------------------------------------------------------------------------------------


def test_a_key_is_created_with_its_guardrails_and_the_gateway_sees_them(owner):
    owner.time_zone = "Asia/Shanghai"
    owner.save(update_fields=["time_zone"])
    key, _ = make_key(
        owner,
        tpm_limit=5000,
        spend_limit=3 * MICRO,
        spend_window="week",
        allowed_models="demo-chat, fake-ok",
        allowed_ips="10.0.0.0/8 2001:db8::/32",
    )
    assert key.allowed_models == ["demo-chat", "fake-ok"]
    assert key.allowed_ips == ["10.0.0.0/8", "2001:db8::/32"]
    assert key.window_start == windows.starts("Asia/Shanghai", timezone.now()).week
    facts = api_key_facts(digest=key.digest)
    assert (facts.tpm_limit, facts.spend_limit, facts.spend_window) == (5000, 3 * MICRO, "week")
    assert facts.models == ["demo-chat", "fake-ok"] and facts.networks == key.allowed_ips
    assert facts.time_zone == "Asia/Shanghai" and facts.limited


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spend_limit": MICRO}, "needs its window"),
        ({"spend_limit": 0, "spend_window": "day"}, "positive"),
        ({"spend_limit": MICRO, "spend_window": "year"}, "needs its window"),
        ({"tpm_limit": 0}, "Tokens per minute"),
        ({"allowed_ips": "10.0.0.1/8"}, "bits set"),
    ],
)
def test_guardrails_that_cannot_be_applied_are_refused(owner, kwargs, message):
    with pytest.raises(InvalidGuardrail, match=message):
        make_key(owner, **kwargs)
    assert not ApiKey.objects.exists()


def test_every_change_reaches_the_gateway_on_the_next_request(owner):
    key, _ = make_key(owner)
    key_cache.memory.pop(key.digest, None)
    services.api_key_update(
        user_id=owner.pk,
        key_id=key.pk,
        name=key.name,
        credit_limit=None,
        rpm_limit=None,
        allowed_models=["demo-chat"],
        allowed_ips="192.0.2.0/24",
        tpm_limit=1000,
        spend_limit=MICRO,
        spend_window="day",
        expires_at=timezone.now() + timedelta(days=3),
    )
    assert key_cache.memory[key.digest][1] == key_cache.TOMBSTONE
    key.refresh_from_db()
    assert key.allowed_models == ["demo-chat"] and key.allowed_ips == ["192.0.2.0/24"]
    assert (key.tpm_limit, key.spend_limit, key.spend_window) == (1000, MICRO, "day")
    event = ApiKeyEvent.objects.filter(key=key, kind="updated").get()
    assert "allowed_models" in event.detail and "spend_window" in event.detail
    # What is not given stays as it is.
    services.api_key_update(
        user_id=owner.pk, key_id=key.pk, name="renamed", credit_limit=None, rpm_limit=None
    )
    key.refresh_from_db()
    assert key.allowed_models == ["demo-chat"] and key.spend_limit == MICRO
    # Removing the spend limit removes its window.
    services.api_key_update(
        user_id=owner.pk,
        key_id=key.pk,
        name="renamed",
        credit_limit=None,
        rpm_limit=None,
        spend_limit=None,
    )
    key.refresh_from_db()
    assert (key.spend_limit, key.spend_window, key.window_start) == (None, "", None)


def test_rotation_keeps_the_guardrails_and_the_line_shares_its_window(owner):
    old, _ = make_key(
        owner,
        spend_limit=2 * MICRO,
        spend_window="month",
        tpm_limit=100,
        allowed_models=["demo-chat"],
        allowed_ips=["10.0.0.0/8"],
    )
    new, _ = services.api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=3600)
    assert (new.tpm_limit, new.allowed_models, new.allowed_ips) == (
        100,
        ["demo-chat"],
        ["10.0.0.0/8"],
    )
    facts = api_key_facts(digest=new.digest)
    assert facts.budget_id == old.pk and facts.spend_limit == 2 * MICRO
    services.api_key_update(
        user_id=owner.pk,
        key_id=new.pk,
        name=new.name,
        credit_limit=None,
        rpm_limit=None,
        spend_limit=5 * MICRO,
        spend_window="month",
    )
    old.refresh_from_db()
    assert old.spend_limit == 5 * MICRO  # the line's budget key carries it
    assert api_key_facts(digest=old.digest).spend_limit == 5 * MICRO


# --- the ORM reservation -------------------------------------------------------------------------


def test_a_window_reserves_counts_and_starts_afresh_in_the_next_window(owner):
    with time_machine.travel(datetime(2030, 6, 10, 12, 0, tzinfo=UTC), tick=False):
        key, _ = make_key(owner, spend_limit=3 * MICRO, spend_window="day")
        now = timezone.now()
        starts = windows.starts("UTC", now)
        services.api_key_reserve(key_id=key.pk, amount=2 * MICRO, starts=starts)
        with pytest.raises(KeySpendLimitReached) as exc:
            services.api_key_reserve(key_id=key.pk, amount=2 * MICRO, starts=starts)
        assert exc.value.left == MICRO and exc.value.window == "day"
        assert "daily spend limit of 3.0000 credits" in exc.value.message
        assert "resets at 2030-06-11 00:00 UTC" in exc.value.message
        services.api_key_settle(
            key_id=key.pk, reserved=2 * MICRO, charged=2 * MICRO, started_at=now
        )
        # A request that started before this window is charged but not counted in it.
        services.api_key_settle(
            key_id=key.pk, reserved=0, charged=MICRO, started_at=now - timedelta(days=1)
        )
        key.refresh_from_db()
        assert (key.window_spent, key.spent, key.held) == (2 * MICRO, 3 * MICRO, 0)
        with pytest.raises(KeySpendLimitReached):
            services.api_key_reserve(key_id=key.pk, amount=2 * MICRO, starts=starts)
    with time_machine.travel(datetime(2030, 6, 11, 0, 0, 1, tzinfo=UTC), tick=False):
        starts = windows.starts("UTC", timezone.now())
        services.api_key_reserve(key_id=key.pk, amount=3 * MICRO, starts=starts)
        key.refresh_from_db()
        assert key.window_start == datetime(2030, 6, 11, tzinfo=UTC) and key.window_spent == 0
        assert key.held == 3 * MICRO


def test_the_tighter_of_the_credit_limit_and_the_window_is_named(owner):
    key, _ = make_key(owner, credit_limit=MICRO, spend_limit=5 * MICRO, spend_window="day")
    starts = windows.starts("UTC", timezone.now())
    with pytest.raises(KeyCreditLimitReached) as exc:
        services.api_key_reserve(key_id=key.pk, amount=2 * MICRO, starts=starts)
    assert type(exc.value) is KeyCreditLimitReached and exc.value.left == MICRO
    ApiKey.objects.filter(pk=key.pk).update(credit_limit=50 * MICRO)
    services.api_key_reserve(key_id=key.pk, amount=5 * MICRO, starts=starts)
    with pytest.raises(KeySpendLimitReached):
        services.api_key_reserve(key_id=key.pk, amount=1, starts=starts)


def test_a_new_time_zone_reaches_the_gateway_on_the_next_request(owner):
    from apps.accounts.services import user_time_zone_set

    key, _ = make_key(owner, spend_limit=MICRO, spend_window="day")
    key_cache.memory.pop(key.digest, None)
    user_time_zone_set(user_id=owner.pk, time_zone="America/New_York")
    assert key_cache.memory[key.digest][1] == key_cache.TOMBSTONE
    assert api_key_facts(digest=key.digest).time_zone == "America/New_York"
