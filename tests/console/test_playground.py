"""The playground end to end over HTTP: the portal's endpoint calls the live gateway (the whole
ASGI app served by uvicorn) under the user's playground key and relays the stream. The same
holds, charges and usage records apply as to any API call; the key's secret never reaches the
browser."""

import json
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from apps.console.models import PlaygroundKey
from apps.core.money import MICRO
from apps.credits.selectors import ledger_problems
from apps.credits.services import credits_grant
from apps.keys.models import ApiKey
from apps.keys.services import api_key_revoke
from apps.usage.models import UsageRecord
from tests.factories import AccountFactory, UserFactory
from tests.gateway.conftest import (  # noqa: F401  (the live gateway's fixtures)
    api,
    drain,
    live_api,
    upstream_url,
)

CHAT = reverse("console:playground_chat")
PAGE = reverse("console:playground")
HELLO = [{"role": "user", "content": "Hello there!"}]
CSRF = "playgroundcsrftoken0123456789abc"  # 32 characters: a CSRF secret as the cookie holds it


@pytest.fixture
def playground(api, settings):  # noqa: F811
    settings.PLAYGROUND_API_BASE_URL = f"{api.url}/api/v1"
    return api


def browser(server, user=None, csrf=True) -> httpx.Client:
    """An HTTP client holding a signed-in session of ``user`` and a CSRF cookie, as a browser."""
    cookies, headers = {}, {}
    if user is not None:
        django_client = Client()
        django_client.force_login(user)
        name = django_settings.SESSION_COOKIE_NAME
        cookies[name] = django_client.cookies[name].value
    if csrf:
        cookies[django_settings.CSRF_COOKIE_NAME] = CSRF
        headers["X-CSRFToken"] = CSRF
    return httpx.Client(base_url=server.url, cookies=cookies, headers=headers, timeout=30)


def funded_user(credits=100):
    user = UserFactory(verified=True)
    credits_grant(user_id=user.pk, amount=credits * MICRO, kind="topup", reference=f"t:{user.pk}")
    return user


def events(text: str) -> list[tuple[str, str]]:
    """(event name, data) of each server-sent event."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            out.append((name, "\n".join(data)))
    return out


def answer_of(found) -> str:
    text = ""
    for name, data in found:
        if name == "message" and data != "[DONE]":
            for choice in json.loads(data).get("choices") or []:
                text += choice["delta"].get("content") or ""
    return text


def send(http, **body):
    body.setdefault("model", "demo-chat")
    body.setdefault("messages", HELLO)
    return http.post(CHAT, json=body)


def the_secret(user) -> str:
    from apps.console.services import SEAL_PURPOSE
    from apps.core.sealed import unseal

    return unseal(cache.get(f"console:playground:{user.pk}")["sealed"], purpose=SEAL_PURPOSE)


def test_the_cache_holds_no_usable_secret_of_the_playground_or_a_new_key(playground, client):
    """Redis holds the playground's key and a just-created key's secret only sealed with a key
    Redis does not have: nothing in it is a working key."""
    import redis
    from django.conf import settings

    user = funded_user()
    http = browser(playground, user)
    assert send(http).status_code == 200
    client.force_login(user)
    page = client.get(reverse("keys:list")).content.decode()
    import re

    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    created = client.post(reverse("keys:list"), {"name": "ci", "token": token})
    assert created.status_code == 302  # the secret waits in the cache for the next page
    server = redis.Redis.from_url(settings.REDIS_URL)
    values = b"".join(server.dump(name) or b"" for name in server.scan_iter(match="*", count=1000))
    live = ApiKey.objects.filter(user=user)
    assert live.count() == 2  # the playground's and the new one
    assert b"sk-live-" not in values
    assert the_secret(user).startswith("sk-live-")  # sealed, and opened with the server's key


def test_a_reply_streams_in_and_is_charged_like_any_api_call(playground):
    user = funded_user()
    http = browser(playground, user)
    response = send(http, system="Be brief.", temperature=0.3, max_tokens=200)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    found = events(response.text)
    assert found[0][0] == "request"
    request_id = json.loads(found[0][1])["request_id"]
    assert request_id.startswith("req_")
    assert answer_of(found).startswith("[demo]")
    assert ("message", "[DONE]") in found
    name, data = found[-1]
    summary = json.loads(data)
    assert name == "summary" and summary["request_id"] == request_id and summary["complete"]
    usage = summary["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    drain(playground)

    record = UsageRecord.objects.get(request_id=request_id)
    key = record.api_key
    assert record.user == user and record.stream and record.status == 200
    assert PlaygroundKey.objects.filter(api_key=key).exists() and key.name == "Playground"
    assert key.expires_at is not None and key.revoked_at is None
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert record.cost > 0 and summary["cost"] == record.cost
    assert summary["credits"] == f"{record.cost / MICRO:.6f}"
    account = user.credit_account
    account.refresh_from_db()
    assert account.balance == 100 * MICRO - record.cost and account.held == 0
    assert ledger_problems() == []

    # The secret stayed on the server: not in the stream, nor in the page or its script.
    secret = the_secret(user)
    assert secret.startswith("sk-live-") and key.last4 == secret[-4:]
    page = http.get(PAGE)
    assert page.status_code == 200
    script = (Path(django_settings.BASE_DIR) / "static" / "js" / "playground.js").read_text()
    for text in (response.text, page.text, script):
        assert secret not in text and key.digest not in text


def test_the_playground_key_is_reused_then_replaced_when_revoked(playground):
    user = funded_user()
    http = browser(playground, user)
    assert send(http).status_code == 200
    assert send(http).status_code == 200
    drain(playground)
    keys = list(ApiKey.objects.filter(user=user))
    assert len(keys) == 1 and UsageRecord.objects.filter(api_key=keys[0]).count() == 2

    api_key_revoke(user_id=user.pk, key_id=keys[0].pk)  # e.g. on the keys page
    response = send(http)
    assert response.status_code == 200 and answer_of(events(response.text))
    drain(playground)
    fresh = ApiKey.objects.filter(user=user).exclude(pk=keys[0].pk).get()
    assert fresh.playground and fresh.is_active
    assert UsageRecord.objects.filter(api_key=fresh, status=200).count() == 1


def test_an_expiring_key_is_replaced_and_the_old_one_revoked(playground, monkeypatch):
    from apps.console import services

    user = funded_user()
    first = services.playground_key_mint(user_id=user.pk)
    monkeypatch.setattr(services, "RENEW_MARGIN", django_settings.PLAYGROUND_KEY_SECONDS + 1)
    second = services.playground_key_get(user_id=user.pk)
    assert second.key_id != first.key_id
    assert ApiKey.objects.get(pk=first.key_id).status == "revoked"
    assert ApiKey.objects.get(pk=second.key_id).is_active


def test_out_of_credits_is_a_402_the_page_can_show(playground):
    user = AccountFactory(user__verified=True).user  # an account with nothing in it
    response = send(browser(playground, user))
    assert response.status_code == 402
    body = response.json()
    assert body["error"]["code"] == "insufficient_credits" and body["error"]["message"]
    assert body["request_id"].startswith("req_")
    drain(playground)
    account = user.credit_account
    account.refresh_from_db()
    assert (account.balance, account.held) == (0, 0)


def test_the_gateways_refusals_pass_through_with_their_status(playground):
    http = browser(playground, funded_user())
    response = send(http, model="no-such-model")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] == "model_not_found"
    drain(playground)


def test_a_provider_error_mid_stream_reaches_the_page(playground):
    http = browser(playground, funded_user())
    response = send(http, model="fake-stream-error")
    assert response.status_code == 200
    found = events(response.text)
    chunks = [(n, d) for n, d in found if n == "message" and d != "[DONE]"]
    errors = [d for _, d in chunks if "error" in json.loads(d)]
    assert answer_of([c for c in chunks if c[1] not in errors]).startswith("part")
    assert len(errors) == 1 and json.loads(errors[0])["error"]["message"]
    assert found[-1][0] == "summary"
    drain(playground)


def test_what_the_form_sent_is_checked_before_any_key_is_made(playground):
    user = funded_user()
    http = browser(playground, user)
    response = send(http, messages=[])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"
    response = http.post(CHAT, content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert send(http, temperature=9).json()["error"]["param"] == "temperature"
    assert not ApiKey.objects.filter(user=user).exists()


def test_only_a_signed_in_user_with_the_csrf_token_may_send(playground):
    user = funded_user()
    anonymous = send(browser(playground))
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_signed_in"
    assert send(browser(playground, user, csrf=False)).status_code == 403
    assert browser(playground, user).get(CHAT).status_code == 405
    assert not ApiKey.objects.filter(user=user).exists()


def test_the_page_offers_the_models_and_the_code_views(client, owner, playground):
    client.force_login(owner)
    body = client.get(PAGE + "?model=deepseek-chat").content.decode()
    assert '<option value="deepseek-chat" data-max-output="8192" data-demo="1" selected>' in body
    assert 'id="pg-code-curl"' in body and 'id="pg-code-python"' in body
    assert f'data-base-url="{django_settings.SITE_URL}/api/v1"' in body
    assert 'id="pg-strings" type="application/json"' in body
    assert "<script>" not in body and " style=" not in body  # the CSP allows neither
    assert client.get(PAGE).status_code == 200
    assert not ApiKey.objects.filter(user=owner).exists()  # a key is made on the first send


def test_concurrent_first_uses_mint_one_live_playground_key(playground):
    """Twenty tabs opening the playground at once: the mints wait for each other on the user's
    row and take the key the first one kept."""
    from apps.console import services
    from tests.threads import run_concurrently, unexpected

    user = funded_user()
    results = run_concurrently(lambda i: services.playground_key_get(user_id=user.pk), 20)
    assert unexpected(results, services.PlaygroundCredential) == []
    assert len({r.key_id for r in results}) == 1
    live = [k for k in ApiKey.objects.filter(user=user) if k.is_active]
    assert len(live) == 1 and live[0].pk == results[0].key_id


def test_deeply_nested_json_is_a_400_not_a_500(playground):
    user = funded_user()
    http = browser(playground, user)
    for depth in (2_000, 200_000):
        nested = "[" * depth + "]" * depth
        response = http.post(CHAT, content=nested, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (depth, response.status_code)
        assert response.json()["error"]["code"] == "invalid_playground_request"
    deep = (
        '{"model": "demo-chat", "messages": [{"role": "user", "content": "x"}], "extra": '
        + '{"a": ' * 3_000
        + "1"
        + "}" * 3_000
        + "}"
    )
    response = http.post(CHAT, content=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
