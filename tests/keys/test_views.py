import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.keys import services
from apps.keys.models import ApiKey, ApiKeyEvent
from apps.keys.selectors import api_key_verify

from .factories import make_key

pytestmark = pytest.mark.django_db

LIST = reverse("keys:list")
SECRET_RE = re.compile(r"sk-live-[0-9A-Za-z]{38}")


def create_form(client, **data):
    token = re.search(r'name="token" value="([0-9a-f-]+)"', client.get(LIST).content.decode())
    return {"name": "my app", "token": token.group(1), **data}


def test_anonymous_is_sent_to_login(client):
    for url in (LIST, reverse("keys:detail", args=[1]), reverse("keys:rotate", args=[1])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_empty_state_leads_to_the_first_key(owner_client):
    body = owner_client.get(LIST).content.decode()
    assert "Create your first API key" in body
    assert "You have no API keys yet" in body


def test_create_shows_the_secret_once(owner_client, owner):
    response = owner_client.post(
        LIST,
        create_form(
            owner_client,
            name="prod bot",
            expires_on=(timezone.now() + timedelta(days=30)).date().isoformat(),
            credit_limit="12.5",
            rpm_limit="30",
        ),
        follow=True,
    )
    # Post, redirect, get: the secret shows on the list's URL, and a reload cannot re-post.
    assert response.redirect_chain == [(LIST, 302)]
    body = response.content.decode()
    secret = SECRET_RE.search(body).group(0)
    assert "will not be shown again" in body
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(user=owner)
    assert (key.name, key.credit_limit, key.rpm_limit) == ("prod bot", 12_500_000, 30)
    assert key.expires_at.date() == (timezone.now() + timedelta(days=31)).date()
    assert api_key_verify(presented=secret).key == key
    # Never again: not on the list, not on the key's page.
    for url in (LIST, reverse("keys:detail", args=[key.pk])):
        later = owner_client.get(url).content.decode()
        assert secret not in later
        assert key.masked in later


def test_create_with_htmx_returns_the_fragment(owner_client):
    response = owner_client.post(LIST, create_form(owner_client), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and 'id="keys-area"' in body
    assert SECRET_RE.search(body)


def test_double_submitted_create_makes_one_key(owner_client, owner):
    data = create_form(owner_client)
    first = owner_client.post(LIST, data, follow=True)
    second = owner_client.post(LIST, data)
    assert SECRET_RE.search(first.content.decode())
    assert not SECRET_RE.search(second.content.decode())
    assert "already created" in second.content.decode()
    assert ApiKey.objects.filter(user=owner).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "", "This field is required"),
        ("name", "x" * 65, "at most 64 characters"),
        ("expires_on", "2001-01-01", "today or a later date"),
        ("expires_on", "31/31/2030", "Enter a valid date"),
        ("credit_limit", "-1", "greater than or equal to"),
        ("credit_limit", "ten", "Enter a number"),
        ("rpm_limit", "0", "greater than or equal to 1"),
        ("rpm_limit", "1.5", "Enter a whole number"),
        ("rpm_limit", "100000", "At most 6000 requests per minute"),
    ],
)
def test_create_form_errors_keep_what_was_typed(owner_client, owner, field, value, error):
    data = create_form(owner_client, name="typed name")
    data[field] = value
    body = owner_client.post(LIST, data).content.decode()
    assert error in body
    assert not ApiKey.objects.filter(user=owner).exists()
    if value:
        assert f'value="{value}"' in body


def test_the_cap_gives_a_clear_message(owner_client, owner, settings):
    settings.API_KEYS_MAX_ACTIVE = 1
    make_key(owner)
    body = owner_client.post(LIST, create_form(owner_client)).content.decode()
    assert "the most allowed is 1" in body and "Revoke a key" in body
    assert ApiKey.objects.filter(user=owner).count() == 1


def test_list_shows_every_column_and_a_constant_number_of_queries(owner_client, owner):
    make_key(owner, name="first", credit_limit=3_000_000, rpm_limit=9)
    owner_client.get(LIST)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(LIST)
    for i in range(15):
        key, _ = make_key(owner, name=f"k{i}")
        if i % 3 == 0:
            services.api_key_rotate(user_id=owner.pk, key_id=key.pk, grace_seconds=3600)
    with CaptureQueriesContext(connection) as many:
        body = owner_client.get(LIST).content.decode()
    assert len(many) == len(few)
    for text in ("first", "3.00", "never", "Rotating", "Active", "Rotate…", "Revoke…"):
        assert text in body


def test_revoke_asks_first_without_js_then_refuses_the_key(owner_client, owner):
    key, secret = make_key(owner, name="old")
    url = reverse("keys:revoke", args=[key.pk])
    assert "Revoke this key?" in owner_client.get(url).content.decode()
    assert api_key_verify(presented=secret).ok
    response = owner_client.post(url)
    assert response.status_code == 302 and response.url == LIST
    assert api_key_verify(presented=secret).reason == "revoked"
    assert owner_client.post(url).status_code == 302  # revoking again is harmless
    assert ApiKeyEvent.objects.filter(key=key, kind="revoked").count() == 1
    body = owner_client.get(LIST).content.decode()
    assert "Revoked" in body


def test_revoke_with_htmx_returns_the_fragment(owner_client, owner):
    key, _ = make_key(owner, name="old")
    response = owner_client.post(reverse("keys:revoke", args=[key.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="keys-area"' in body and "is revoked" in body


def test_rotate_shows_the_successor_once_and_keeps_the_old_key_for_the_grace(owner_client, owner):
    key, old_secret = make_key(owner, name="svc")
    url = reverse("keys:rotate", args=[key.pk])
    assert "Keep the old key working" in owner_client.get(url).content.decode()
    response = owner_client.post(url, {"grace_seconds": "3600"}, follow=True)
    assert response.redirect_chain == [(LIST, 302)]  # the URL leaves /rotate/
    body = response.content.decode()
    new_secret = SECRET_RE.search(body).group(0)
    assert new_secret != old_secret and response["Cache-Control"] == "no-store"
    assert f"replaces {key.masked}" in body
    assert not SECRET_RE.search(owner_client.get(LIST).content.decode())  # shown once
    assert api_key_verify(presented=old_secret).ok and api_key_verify(presented=new_secret).ok
    key.refresh_from_db()
    assert abs((key.expires_at - timezone.now()) - timedelta(hours=1)) < timedelta(minutes=1)
    again = owner_client.post(url, {"grace_seconds": "3600"}).content.decode()
    assert "already rotated" in again and not SECRET_RE.search(again)
    # The rotate page of a rotating key says so and offers no second rotation.
    page = owner_client.get(url).content.decode()
    assert "already rotated" in page and 'name="grace_seconds"' not in page
    assert ApiKey.objects.filter(rotated_from=key).count() == 1


@pytest.mark.parametrize("grace", ["5", "", "abc"])
def test_rotate_rejects_other_grace_periods(owner_client, owner, grace):
    key, _ = make_key(owner)
    body = owner_client.post(reverse("keys:rotate", args=[key.pk]), {"grace_seconds": grace})
    assert "errorlist" in body.content.decode()
    assert not ApiKey.objects.filter(rotated_from=key).exists()


def test_history_lists_created_rotated_and_revoked(owner_client, owner):
    key, _ = make_key(owner, name="svc")
    services.api_key_rotate(user_id=owner.pk, key_id=key.pk, grace_seconds=3600, actor_id=owner.pk)
    services.api_key_revoke(user_id=owner.pk, key_id=key.pk, actor_id=owner.pk)
    body = owner_client.get(reverse("keys:detail", args=[key.pk])).content.decode()
    for text in ("Created", "Rotated", "Revoked", "Replaced by", owner.email):
        assert text in body


def test_an_outsider_gets_404_on_every_key_url_and_changes_nothing(client, owner, outsider):
    key, secret = make_key(owner, name="owner's")
    client.force_login(outsider)
    for method, name, data in [
        ("get", "keys:detail", None),
        ("get", "keys:revoke", None),
        ("post", "keys:revoke", {}),
        ("get", "keys:rotate", None),
        ("post", "keys:rotate", {"grace_seconds": "0"}),
    ]:
        response = getattr(client, method)(reverse(name, args=[key.pk]), data)
        assert response.status_code == 404, (method, name)
    assert "owner&#x27;s" not in client.get(LIST).content.decode()
    assert api_key_verify(presented=secret).ok
    assert not ApiKey.objects.filter(rotated_from=key).exists()
    assert list(ApiKeyEvent.objects.filter(key=key).values_list("kind", flat=True)) == ["created"]


def test_posts_need_a_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    key, _ = make_key(owner)
    assert client.post(LIST, {"name": "x"}).status_code == 403
    assert client.post(reverse("keys:revoke", args=[key.pk])).status_code == 403
    assert (
        client.post(reverse("keys:rotate", args=[key.pk]), {"grace_seconds": 0}).status_code == 403
    )
    assert ApiKey.objects.filter(user=owner).count() == 1
    key.refresh_from_db()
    assert key.revoked_at is None


def test_nav_links_to_api_keys(owner_client):
    assert f'href="{LIST}"' in owner_client.get(reverse("dashboard")).content.decode()


def test_name_and_limits_can_be_changed_on_the_keys_page(owner_client, owner):
    key, _ = make_key(owner, name="old", rpm_limit=5)
    url = reverse("keys:detail", args=[key.pk])
    response = owner_client.post(url, {"name": "new", "credit_limit": "2.5", "rpm_limit": "90"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.credit_limit, key.rpm_limit) == ("new", 2_500_000, 90)
    event = ApiKeyEvent.objects.get(key=key, kind="updated")
    assert "rpm_limit: 5 → 90" in event.detail
    bad = owner_client.post(url, {"name": "", "rpm_limit": "0"}).content.decode()
    assert "This field is required" in bad and "greater than or equal to 1" in bad
    owner_client.post(url, {"name": "new", "credit_limit": "", "rpm_limit": ""})
    key.refresh_from_db()
    assert key.credit_limit is None and key.rpm_limit is None


def test_an_outsider_cannot_change_a_keys_limits(client, owner, outsider):
    key, _ = make_key(owner, name="mine", rpm_limit=5)
    client.force_login(outsider)
    url = reverse("keys:detail", args=[key.pk])
    assert client.post(url, {"name": "hacked", "rpm_limit": "1000"}).status_code == 404
    key.refresh_from_db()
    assert (key.name, key.rpm_limit) == ("mine", 5)


def test_the_secret_survives_one_redirect_only_for_its_owner(client, owner, outsider):
    client.force_login(owner)
    key, _ = make_key(owner, name="svc")
    response = client.post(reverse("keys:rotate", args=[key.pk]), {"grace_seconds": "0"})
    assert response.status_code == 302 and response.url == LIST
    # Another browser (the outsider's session) never sees it; the owner's next GET does, once.
    other = Client()
    other.force_login(outsider)
    assert not SECRET_RE.search(other.get(LIST).content.decode())
    assert SECRET_RE.search(client.get(LIST).content.decode())
    assert not SECRET_RE.search(client.get(LIST).content.decode())


def test_keys_table_keeps_expiry_never_apart_from_last_used_never(owner_client, owner):
    make_key(owner, name="k")
    body = owner_client.get(LIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "永不" in body and "从未" in body
