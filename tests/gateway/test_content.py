"""Prompts and answers are kept only for users who turn it on, for the days they chose."""

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.services import user_content_storage_set
from apps.usage.models import UsageContent
from apps.usage.services import content_purge_expired

from .conftest import drain
from .test_api import HELLO, post


def detail(user, request_id):
    client = Client()
    client.force_login(user)
    return client.get(reverse("console:request_detail", args=[request_id])).content.decode()


def test_nothing_is_kept_by_default(api, customer):
    user, _, secret = customer
    reply = post(api, secret, {"model": "demo-chat", "messages": HELLO})
    drain(api)
    assert reply.status_code == 200 and not UsageContent.objects.exists()
    assert "Prompts and answers are not stored" in detail(user, reply.headers["x-request-id"])


def test_kept_for_the_chosen_days_shown_to_the_owner_and_gone_when_turned_off(
    api, customer, outsider
):
    user, _, secret = customer
    post(api, secret, {"model": "demo-chat", "messages": HELLO})  # facts cached: keeping off
    user_content_storage_set(user_id=user.pk, days=7)  # takes effect on the next request
    plain = post(api, secret, {"model": "demo-chat", "messages": HELLO, "user": "u-42"})
    streamed = post(api, secret, {"model": "demo-chat", "messages": HELLO, "stream": True})
    drain(api)
    kept = {c.request_id: c for c in UsageContent.objects.filter(user=user)}
    assert set(kept) == {plain.headers["x-request-id"], streamed.headers["x-request-id"]}
    first = kept[plain.headers["x-request-id"]]
    assert first.request["messages"] == HELLO and first.request["user"] == "u-42"
    assert (
        first.response["choices"][0]["message"]["content"]
        == (plain.json()["choices"][0]["message"]["content"])
    )
    assert timedelta(days=7) - (first.expires_at - first.created_at) < timedelta(seconds=1)
    answer = kept[streamed.headers["x-request-id"]].response
    assert answer["streamed"] is True and answer["text"].startswith("[demo]")
    page = detail(user, plain.headers["x-request-id"])
    assert 'data-testid="content-request"' in page and "u-42" in page
    # Someone else never sees it, even knowing the id.
    other = Client()
    other.force_login(outsider)
    page_url = reverse("console:request_detail", args=[plain.headers["x-request-id"]])
    assert other.get(page_url).status_code == 404
    # Past its days it is not shown, and the hourly task deletes it.
    UsageContent.objects.filter(pk=first.pk).update(expires_at=timezone.now())
    assert 'data-testid="content-request"' not in detail(user, plain.headers["x-request-id"])
    assert content_purge_expired() == 1
    user_content_storage_set(user_id=user.pk, days=0)  # off: what was kept goes too
    assert not UsageContent.objects.filter(user=user).exists()
    post(api, secret, {"model": "demo-chat", "messages": HELLO})
    drain(api)
    assert not UsageContent.objects.exists()


# --- kept only while the user says so, only what was charged, within bounds --------------------


def test_a_request_in_flight_when_keeping_is_turned_off_keeps_nothing(api, customer):
    """The write is conditional on the setting at write time: a request admitted while keeping
    was on (its facts say so) finishes after the user turned it off, and stores nothing."""
    from apps.usage.services import content_store

    user, _, _ = customer
    user_content_storage_set(user_id=user.pk, days=30)
    now = timezone.now()
    kept = content_store(
        request_id="req_a", user_id=user.pk, created_at=now, request={"x": 1}, response={}, cost=5
    )
    assert kept and UsageContent.objects.count() == 1
    user_content_storage_set(user_id=user.pk, days=0)  # deletes what is kept
    late = content_store(
        request_id="req_b", user_id=user.pk, created_at=now, request={"x": 1}, response={}, cost=5
    )
    assert not late and not UsageContent.objects.exists()


def test_the_gateway_stores_nothing_for_a_user_who_stopped_keeping_while_cached(api, customer):
    user, _, secret = customer
    user_content_storage_set(user_id=user.pk, days=7)
    post(api, secret, {"model": "demo-chat", "messages": HELLO})  # facts cached: keeping on
    drain(api)
    from apps.accounts.models import User

    # Turned off behind the gateway's cached facts (another worker served the account page).
    User.objects.filter(pk=user.pk).update(store_content_days=0)
    UsageContent.objects.all().delete()
    reply = post(api, secret, {"model": "demo-chat", "messages": HELLO})
    drain(api)
    assert reply.status_code == 200 and not UsageContent.objects.exists()
    assert "content-request" not in detail(user, reply.headers["x-request-id"])


def test_lowering_the_period_lowers_what_is_kept(api, customer):
    user, _, secret = customer
    user_content_storage_set(user_id=user.pk, days=30)
    post(api, secret, {"model": "demo-chat", "messages": HELLO})
    drain(api)
    content = UsageContent.objects.get(user=user)
    assert content.expires_at - content.created_at == timedelta(days=30)
    UsageContent.objects.filter(pk=content.pk).update(created_at=timezone.now() - timedelta(days=3))
    user_content_storage_set(user_id=user.pk, days=7)
    content.refresh_from_db()
    assert content.expires_at - content.created_at == timedelta(days=7)
    user_content_storage_set(user_id=user.pk, days=1)  # older than a day: gone at once
    assert not UsageContent.objects.filter(pk=content.pk).exists()


def test_refused_requests_keep_nothing_and_media_are_kept_as_type_and_size(api, customer):
    import base64

    user, _, secret = customer
    user_content_storage_set(user_id=user.pk, days=7)
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"\0" * 300_000).decode()
    picture = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": image}},
    ]
    refused = post(api, secret, {"model": "fake-reject-400", "messages": HELLO})
    served = post(
        api, secret, {"model": "demo-chat", "messages": [{"role": "user", "content": picture}]}
    )
    drain(api)
    assert refused.status_code == 400 and served.status_code == 200
    kept = UsageContent.objects.get(user=user)  # only the charged one
    assert kept.request_id == served.headers["x-request-id"]
    part = kept.request["messages"][0]["content"][1]["image_url"]["url"]
    assert part == "[image/png, 300,004 bytes]"
    assert kept.size < 10_000


def test_an_account_keeps_at_most_its_quota(api, customer, settings):
    from apps.usage.services import content_store

    user, _, _ = customer
    user_content_storage_set(user_id=user.pk, days=7)
    settings.CONTENT_QUOTA_BYTES = 1_500
    settings.CONTENT_MAX_BYTES = 2_000
    big = {"text": "x" * 5_000}
    now = timezone.now()
    first = content_store(
        request_id="r1", user_id=user.pk, created_at=now, request=big, response=None, cost=1
    )
    second = content_store(
        request_id="r2", user_id=user.pk, created_at=now, request=big, response=None, cost=1
    )
    stored = UsageContent.objects.get(request_id="r1")
    assert first and not second
    assert stored.request["truncated"] is True and stored.request["bytes"] > 5_000
    assert stored.size <= 1_100
