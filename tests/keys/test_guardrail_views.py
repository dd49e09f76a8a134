"""The guardrails on the keys pages: set when a key is created or edited, bad input kept in its
field with the reason beside it, and shown on the key's page."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.catalog.models import Model, Provider
from apps.core.money import MICRO
from apps.keys import cache as key_cache
from apps.keys.models import ApiKey

from .factories import make_key
from .test_views import LIST, create_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalog(db):
    provider = Provider.objects.create(slug="demo", name="Demo", base_url="https://x.invalid/v1")
    for public_id in ("deepseek-chat", "qwen-plus", "old-model"):
        Model.objects.create(
            public_id=public_id,
            provider=provider,
            upstream_id=public_id,
            input_price=1,
            output_price=2,
            context_length=8192,
            max_output=1024,
            enabled=public_id != "old-model",
        )


def test_a_key_is_created_with_every_guardrail(owner_client, owner):
    response = owner_client.post(
        LIST,
        create_form(
            owner_client,
            name="narrow",
            spend_limit="2.5",
            spend_window="week",
            tpm_limit="20000",
            allowed_models="deepseek-chat\nqwen-plus",
            allowed_ips="203.0.113.7, 10.0.0.0/8\n2001:db8::/32",
        ),
        follow=True,
    )
    assert response.redirect_chain == [(LIST, 302)]
    key = ApiKey.objects.get(user=owner)
    assert (key.spend_limit, key.spend_window, key.tpm_limit) == (2_500_000, "week", 20000)
    assert key.allowed_models == ["deepseek-chat", "qwen-plus"]
    assert key.allowed_ips == ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]
    page = owner_client.get(reverse("keys:detail", args=[key.pk])).content.decode()
    assert "2.50 per week (0.00 spent this week)" in page
    assert "<code>deepseek-chat</code>, <code>qwen-plus</code>" in page
    assert "<code>2001:db8::/32</code>" in page and "20000" in page


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("allowed_ips", "10.1.2.3/8, 192.0.2.1", "has bits set after the prefix"),
        ("allowed_ips", "office wifi", "is not an IP address or network"),
        ("allowed_models", "deepseek-chat gpt-9", "No such model: gpt-9"),
        ("allowed_models", "old-model", "No such model: old-model"),  # disabled
        ("tpm_limit", "0", "greater than or equal to 1"),
        ("spend_limit", "-1", "greater than or equal to"),
    ],
)
def test_bad_guardrails_stay_in_the_form_with_the_reason(owner_client, owner, field, value, error):
    response = owner_client.post(LIST, create_form(owner_client, **{field: value}))
    body = response.content.decode()
    assert response.status_code == 200 and error in body
    assert '<details class="guardrails" open>' in body  # opened where the error is
    assert value.split("\n")[0] in body  # what was typed is still there
    assert not ApiKey.objects.filter(user=owner).exists()


def test_a_spend_limit_needs_its_window(owner_client, owner):
    response = owner_client.post(LIST, create_form(owner_client, spend_limit="5", spend_window=""))
    assert "Choose the window the spend limit is for." in response.content.decode()
    assert not ApiKey.objects.filter(user=owner).exists()


def test_editing_changes_the_guardrails_and_drops_the_cached_facts(owner_client, owner):
    key, _ = make_key(owner, name="k")
    url = reverse("keys:detail", args=[key.pk])
    page = owner_client.get(url).content.decode()
    assert "every model" in page and "any address" in page
    key_cache.memory.pop(key.digest, None)
    response = owner_client.post(
        url,
        {
            "name": "k",
            "spend_limit": "1",
            "spend_window": "day",
            "tpm_limit": "500",
            "allowed_models": "qwen-plus",
            "allowed_ips": "::1",
            "expires_on": (timezone.now() + timedelta(days=2)).date().isoformat(),
        },
    )
    assert response.status_code == 302
    assert key_cache.memory[key.digest][1] == key_cache.TOMBSTONE
    key.refresh_from_db()
    assert (key.spend_limit, key.spend_window, key.tpm_limit) == (MICRO, "day", 500)
    assert key.allowed_models == ["qwen-plus"] and key.allowed_ips == ["::1"]
    assert key.expires_at.date() == (timezone.now() + timedelta(days=3)).date()
    # The form shows them back; a bad edit keeps the input and changes nothing.
    page = owner_client.get(url).content.decode()
    assert "qwen-plus</textarea>" in page and 'value="500"' in page
    response = owner_client.post(url, {"name": "k", "allowed_ips": "::1, 300.1.1.1"})
    assert "300.1.1.1" in response.content.decode()
    assert "is not an IP address or network" in response.content.decode()
    key.refresh_from_db()
    assert key.allowed_ips == ["::1"]
    # Clearing them lifts them.
    owner_client.post(url, {"name": "k", "spend_window": "day"})
    key.refresh_from_db()
    assert (key.spend_limit, key.tpm_limit, key.allowed_models, key.allowed_ips) == (
        None,
        None,
        [],
        [],
    )
    assert key.expires_at is None


def test_saving_without_touching_the_date_keeps_a_rotation_grace_to_the_minute(owner_client, owner):
    from apps.keys.services import api_key_rotate

    old, _ = make_key(owner, name="k")
    api_key_rotate(user_id=owner.pk, key_id=old.pk, grace_seconds=3600)
    old.refresh_from_db()
    grace_end = old.expires_at
    url = reverse("keys:detail", args=[old.pk])
    initial = re.search(
        r'name="expires_on" value="([\d-]+)"', owner_client.get(url).content.decode()
    )
    assert (
        initial.group(1)
        == (grace_end - timedelta(microseconds=1)).astimezone(UTC).date().isoformat()
    )
    owner_client.post(url, {"name": "renamed", "expires_on": initial.group(1)})
    old.refresh_from_db()
    assert old.name == "renamed" and old.expires_at == grace_end


def test_the_window_shows_what_was_spent_in_it_and_when_it_starts_again(owner_client, owner):
    owner.time_zone = "Asia/Shanghai"
    owner.save(update_fields=["time_zone"])
    key, _ = make_key(owner, spend_limit=5 * MICRO, spend_window="month")
    ApiKey.objects.filter(pk=key.pk).update(window_spent=1_250_000)
    body = owner_client.get(reverse("keys:detail", args=[key.pk])).content.decode()
    assert "5.00 per month (1.25 spent this month)" in body
    now = timezone.now().astimezone(key.window_start.tzinfo)
    first = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1).strftime("%Y-%m-%d")
    assert f"starts again {first} 00:00" in body


def test_an_outsider_cannot_change_anothers_guardrails(client, owner, outsider):
    key, _ = make_key(owner, allowed_models=["qwen-plus"])
    client.force_login(outsider)
    response = client.post(reverse("keys:detail", args=[key.pk]), {"name": "x"})
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.allowed_models == ["qwen-plus"]


def test_the_guardrails_in_chinese(owner_client, owner):
    body = owner_client.get(LIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "允许的模型" in body and "每分钟 token 数" in body
