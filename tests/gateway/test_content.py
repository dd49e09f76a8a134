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
