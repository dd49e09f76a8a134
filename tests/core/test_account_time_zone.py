"""Issue #24, 1: every page and every CSV export shows times in the account's time zone."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import LedgerEntry
from apps.keys import services as keys
from apps.keys.models import ApiKey, ApiKeyEvent
from apps.usage.rollup import rollup_step
from tests.keys.factories import make_key
from tests.usage.factories import record

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def moment():
    """Two hours ago, on a whole minute (so both renderings are exact)."""
    return (timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)


@pytest.fixture
def shanghai(owner, owner_client):
    owner.time_zone = "Asia/Shanghai"
    owner.save(update_fields=["time_zone"])
    return owner_client


def local(at):
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def utc(at):
    return at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")


def assert_local(body, at):
    assert local(at) in body, body
    assert utc(at) not in body
    assert 'data-testid="time-zone"' in body and "Asia/Shanghai" in body


def test_dashboard_activity(shanghai, owner, moment):
    entry = credits.credits_grant(
        user_id=owner.pk, amount=5 * MICRO, kind="adjustment", reference="tz-test"
    )
    LedgerEntry.objects.filter(pk=entry.pk).update(created_at=moment)
    assert_local(shanghai.get(reverse("dashboard")).content.decode(), moment)


def test_request_log_and_request_detail(shanghai, owner, moment):
    key, _ = make_key(owner)
    r = record(owner, key=key, at=moment)
    assert_local(shanghai.get(reverse("usage:requests")).content.decode(), moment)
    detail = shanghai.get(reverse("console:request_detail", args=[r.request_id]))
    assert_local(detail.content.decode(), moment)


def test_keys_list_detail_and_history(shanghai, owner, moment):
    key, _ = make_key(owner)
    ApiKey.objects.filter(pk=key.pk).update(
        last_used_at=moment, expires_at=moment + timedelta(days=3)
    )
    ApiKeyEvent.objects.filter(key=key).update(created_at=moment)
    listing = shanghai.get(reverse("keys:list")).content.decode()
    assert_local(listing, moment)
    assert local(moment + timedelta(days=3)) in listing
    detail = shanghai.get(reverse("keys:detail", args=[key.pk])).content.decode()
    assert_local(detail, moment)
    assert local(moment + timedelta(days=3)) in detail


def test_rotate_page_names_the_zone(shanghai, owner):
    key, _ = make_key(owner)
    keys.api_key_rotate(user_id=owner.pk, key_id=key.pk, grace_seconds=86400)
    key.refresh_from_db()
    body = shanghai.get(reverse("keys:rotate", args=[key.pk])).content.decode()
    assert f"{local(key.expires_at)} (Asia/Shanghai)" in body
    assert "(UTC)" not in body


def test_csv_exports_convert_and_name_the_zone(shanghai, owner, moment):
    key, _ = make_key(owner, name="bot")
    record(owner, key=key, at=moment)
    rollup_step()
    rows = b"".join(shanghai.get(reverse("usage:export_requests") + "?range=7d")).decode(
        "utf-8-sig"
    )  # Excel reads its BOM
    header, first = rows.splitlines()[:2]
    assert header.startswith("time (Asia/Shanghai),")
    assert first.startswith(moment.astimezone(SHANGHAI).isoformat())
    hourly = b"".join(shanghai.get(reverse("usage:export_hours") + "?range=7d")).decode("utf-8-sig")
    header, first = hourly.splitlines()[:2]
    hour = moment.replace(minute=0).astimezone(SHANGHAI)
    assert header.startswith("hour (Asia/Shanghai),") and first.startswith(hour.isoformat())


def test_visitors_and_utc_accounts_see_utc(owner_client, owner, moment):
    key, _ = make_key(owner)
    record(owner, key=key, at=moment)
    body = owner_client.get(reverse("usage:requests")).content.decode()
    assert utc(moment) in body and "Times are shown in UTC" in body


def test_the_audit_export_is_in_the_accounts_zone_and_says_so(shanghai, owner, moment):
    """As the audit page and the other exports: the account's zone, named in the header, for
    the event's time and for the times among its changes (a key's new expiry)."""
    key, _ = make_key(owner, name="audited")
    keys.api_key_update(
        user_id=owner.pk,
        key_id=key.pk,
        name="audited",
        credit_limit=None,
        rpm_limit=None,
        expires_at=moment + timedelta(days=3),
    )
    event = owner.audit_events.order_by("-created_at", "-id").first()
    expiry = moment + timedelta(days=3)
    body = b"".join(shanghai.get(reverse("audit:export")).streaming_content).decode("utf-8-sig")
    header, first = body.splitlines()[:2]
    assert header.startswith("Time (Asia/Shanghai),")
    assert first.startswith(event.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"))
    assert local(expiry) in first and utc(expiry) not in first
