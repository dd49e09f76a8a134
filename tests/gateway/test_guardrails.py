"""Keys as narrow as wanted (issue #21): a model allowlist, an IP allowlist, an expiry, a spend
limit per window and tokens per minute, each checked before the body is forwarded, each applied
from the very next request after a change, in each protocol's own error shape."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import anthropic
import httpx
import openai
import pytest
from django.utils import timezone

from apps.catalog.estimate import estimate_messages_tokens
from apps.core.money import MICRO
from apps.credits.models import Account, Hold
from apps.credits.selectors import ledger_problems
from apps.keys import services as key_services
from apps.keys import windows
from apps.keys.models import ApiKey
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain
from .test_api import HELLO, away_from_a_minute_boundary, cost, post


def claude_for(api, secret, **kwargs):
    return anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0, **kwargs)


def update(key, **changes):
    """Change a key's guardrails as its owner does on the key's page (the other settings kept)."""
    return key_services.api_key_update(
        user_id=key.user_id,
        key_id=key.pk,
        name=key.name,
        credit_limit=key.credit_limit,
        rpm_limit=key.rpm_limit,
        **changes,
    )


# --- models --------------------------------------------------------------------------------------


def test_a_key_limited_to_some_models_is_refused_the_others_in_every_protocol(
    api, customer, client_for
):
    user, account, _ = customer
    _, secret = make_key(user, name="narrow", allowed_models=["fake-ok", "demo-chat"])
    client = client_for(secret)
    assert client.chat.completions.create(model="fake-ok", messages=HELLO).choices

    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(model="fake-record", messages=HELLO)
    error = exc.value.body
    assert exc.value.status_code == 403
    assert (error["code"], error["type"], error["param"]) == (
        "model_not_allowed",
        "permission_error",
        "model",
    )
    assert "'fake-record'" in error["message"] and "fake-ok, demo-chat" in error["message"]
    # A fallback the key may not use is refused too, naming it.
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(
            model="fake-ok", messages=HELLO, extra_body={"models": ["demo-chat", "fake-record"]}
        )
    assert exc.value.body["param"] == "models[1]"
    # Streaming: refused before anything streams.
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="fake-record", messages=HELLO, stream=True)
    # Responses (Codex): the OpenAI error shape.
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.responses.create(model="fake-record", input="Hi")
    assert exc.value.body["code"] == "model_not_allowed"
    # Messages (Claude Code), translated and passed through natively: Anthropic's shape.
    claude = claude_for(api, secret)
    for model in ("fake-record", "native"):
        with pytest.raises(anthropic.PermissionDeniedError) as exc:
            claude.messages.create(model=model, max_tokens=50, messages=HELLO)
        body = exc.value.body
        assert body["type"] == "error" and body["error"]["type"] == "permission_error"
        assert f"'{model}'" in body["error"]["message"]
    assert claude.messages.create(model="demo-chat", max_tokens=50, messages=HELLO).content
    count = post(
        api,
        secret,
        {"model": "native", "messages": HELLO},
        path="/api/v1/messages/count_tokens",
    )
    assert count.status_code == 403
    drain(api)
    # Nothing reached the provider, nothing was held for the refused requests; they are on
    # the key's record as refusals.
    assert fake_upstream.received == []
    assert Hold.objects.filter(status="active").count() == 0
    assert Account.objects.get(pk=account.pk).held == 0
    refused = UsageRecord.objects.filter(error_code="model_not_allowed")
    assert refused.count() == 6 and not refused.exclude(cost=0).exists()
    assert ledger_problems() == []


def test_the_model_list_shows_only_the_models_a_key_may_use(api, customer, client_for):
    user, _, _ = customer
    _, secret = make_key(user, name="narrow", allowed_models=["fake-ok", "native"])
    client = client_for(secret)
    assert sorted(m.id for m in client.models.list()) == ["fake-ok", "native"]
    assert client.models.retrieve("native").id == "native"
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.models.retrieve("demo-chat")
    assert exc.value.body["code"] == "model_not_allowed"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    claude = claude_for(api, secret)
    assert sorted(m.id for m in claude.models.list()) == ["fake-ok", "native"]
    assert claude.models.retrieve("native").id == "native"
    with pytest.raises(anthropic.PermissionDeniedError):
        claude.models.retrieve("demo-chat")
    # A key without the list sees every model.
    everything = {m.id for m in client_for(customer[2]).models.list()}
    assert {"demo-chat", "fake-ok", "native"} <= everything


def test_a_changed_model_list_applies_from_the_very_next_request(api, customer, client_for):
    user, _, secret = customer
    key = ApiKey.objects.get(user=user)
    client = client_for(secret)
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices  # cached
    update(key, allowed_models=["fake-ok"])
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    assert [m.id for m in client.models.list()] == ["fake-ok"]
    update(key, allowed_models=[])  # and back: every model again, at once
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
    drain(api)
    assert Account.objects.get(user=user).held == 0
    assert ledger_problems() == []


# --- client addresses ----------------------------------------------------------------------------


def test_a_key_limited_to_networks_refuses_other_addresses_ipv4_and_ipv6(api, customer, client_for):
    """The test server trusts its loopback proxy (uvicorn's default --forwarded-allow-ips), so
    X-Forwarded-For names the client's address, as a proxy in front of the gateway does."""
    user, _, _ = customer
    _, secret = make_key(user, name="office", allowed_ips=["10.0.0.0/8", "2001:db8::/32"])

    def call(address):
        client = client_for(secret, default_headers={"X-Forwarded-For": address})
        return client.chat.completions.create(model="fake-ok", messages=HELLO)

    assert call("10.20.30.40").choices
    assert call("2001:db8::7").choices
    for address in ("203.0.113.9", "2001:db9::1", "11.0.0.1"):
        with pytest.raises(openai.PermissionDeniedError) as exc:
            call(address)
        error = exc.value.body
        assert (error["code"], error["type"]) == ("ip_not_allowed", "permission_error")
        assert address in error["message"]
    # The loopback client itself (no proxy header) is not on the list either.
    with pytest.raises(openai.PermissionDeniedError):
        client_for(secret).models.list()
    claude = claude_for(api, secret, default_headers={"X-Forwarded-For": "198.51.100.1"})
    with pytest.raises(anthropic.PermissionDeniedError) as exc:
        claude.messages.create(model="demo-chat", max_tokens=50, messages=HELLO)
    assert exc.value.body["error"]["type"] == "permission_error"
    drain(api)
    assert UsageRecord.objects.filter(status=200).count() == 2


def test_a_changed_network_list_applies_from_the_very_next_request(api, customer, client_for):
    user, _, secret = customer
    key = ApiKey.objects.get(user=user)
    client = client_for(secret, default_headers={"X-Forwarded-For": "192.0.2.10"})
    assert client.chat.completions.create(model="fake-ok", messages=HELLO).choices
    update(key, allowed_ips="10.0.0.0/8")
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="fake-ok", messages=HELLO)
    update(key, allowed_ips="10.0.0.0/8, 192.0.2.0/24")
    assert client.chat.completions.create(model="fake-ok", messages=HELLO).choices
    drain(api)
    assert Account.objects.get(user=user).held == 0


def test_an_address_not_allowed_is_refused_before_the_body_is_read(api, customer, settings):
    import socket

    settings.GATEWAY_BODY_READ_TIMEOUT = 30  # a refusal that waited for the body would hang
    user, _, _ = customer
    _, secret = make_key(user, name="office", allowed_ips=["10.0.0.0/8"])
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {secret}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 33554432\r\n\r\n"
        )
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 403") and "ip_not_allowed" in reply


# --- expiry --------------------------------------------------------------------------------------


def test_a_key_past_its_new_expiry_is_refused_with_401_saying_so(api, customer, client_for):
    user, _, secret = customer
    key = ApiKey.objects.get(user=user)
    client = client_for(secret)
    assert client.chat.completions.create(model="fake-ok", messages=HELLO).choices
    update(key, expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(openai.AuthenticationError) as exc:
        client.chat.completions.create(model="fake-ok", messages=HELLO)
    assert exc.value.body["code"] == "api_key_expired"
    assert "expired" in exc.value.body["message"]
    with pytest.raises(anthropic.AuthenticationError) as exc:
        claude_for(api, secret).messages.create(model="fake-ok", max_tokens=9, messages=HELLO)
    assert "expired" in exc.value.body["error"]["message"]
    drain(api)
    assert Account.objects.get(user=user).held == 0


# --- tokens per minute ---------------------------------------------------------------------------


def test_tokens_per_minute_beside_requests_per_minute(api, customer, client_for):
    away_from_a_minute_boundary()
    user, _, _ = customer
    _, secret = make_key(user, name="tpm", tpm_limit=30)  # the fake model uses 17 a request
    client = client_for(secret)
    first = client.chat.completions.with_raw_response.create(model="fake-ok", messages=HELLO)
    assert first.headers["x-ratelimit-limit-tokens"] == "30"
    assert first.headers["x-ratelimit-remaining-tokens"] == "30"
    drain(api)  # counted when it ended
    second = client.chat.completions.with_raw_response.create(model="fake-ok", messages=HELLO)
    assert second.headers["x-ratelimit-remaining-tokens"] == "13"
    drain(api)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="fake-ok", messages=HELLO)
    assert exc.value.body["code"] == "token_rate_limit_exceeded"
    assert "30 tokens per minute" in exc.value.body["message"]
    assert 1 <= int(exc.value.response.headers["retry-after"]) <= 60
    assert exc.value.response.headers["x-ratelimit-remaining-tokens"] == "0"
    with pytest.raises(anthropic.RateLimitError):
        claude_for(api, secret).messages.create(model="fake-ok", max_tokens=9, messages=HELLO)
    drain(api)
    assert UsageRecord.objects.filter(api_key__name="tpm").count() == 2


# --- spend per window ----------------------------------------------------------------------------

money_paths = pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)


@money_paths
def test_fifty_concurrent_requests_stop_at_the_keys_daily_spend_limit(
    api, money_path, customer, client_for
):
    user, _, _ = customer
    max_tokens = 200
    one = cost(estimate_messages_tokens(HELLO), max_tokens)  # the fake bills the worst case
    limit = 10 * one + one // 2
    key, secret = make_key(
        user, name="daily", rpm_limit=1000, spend_limit=limit, spend_window="day"
    )
    client = client_for(secret)
    barrier = threading.Barrier(50)

    def call(_):
        barrier.wait()
        try:
            client.chat.completions.create(
                model="fake-exact-cost", messages=HELLO, max_tokens=max_tokens
            )
            return 200, None
        except openai.APIStatusError as exc:
            return exc.status_code, exc.body.get("code")

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    drain(api)
    ok = [r for r in results if r[0] == 200]
    assert 5 <= len(ok) <= 10
    assert all(r == (402, "key_spend_limit_reached") for r in results if r[0] != 200)
    key.refresh_from_db()
    assert key.held == 0 and key.window_spent == len(ok) * one <= limit
    assert key.window_start == windows.starts("UTC", timezone.now()).day
    account = Account.objects.get(user=user)
    assert account.held == 0 and account.balance == 100 * MICRO - len(ok) * one
    assert ledger_problems() == [] and usage_charge_problems() == []
    # Spent to the limit: refused, naming the key's daily limit and when it resets.
    ApiKey.objects.filter(pk=key.pk).update(window_spent=limit)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="fake-exact-cost", messages=HELLO, max_tokens=200)
    assert exc.value.status_code == 402
    message = exc.value.body["message"]
    assert "daily spend limit" in message and "resets at" in message
    assert "credit limit" not in message and "Insufficient credits" not in message
    # The next window starts afresh: the key was last counting yesterday.
    yesterday = windows.starts("UTC", timezone.now() - timedelta(days=1)).day
    ApiKey.objects.filter(pk=key.pk).update(window_start=yesterday)
    assert client.chat.completions.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=max_tokens
    ).choices
    drain(api)
    key.refresh_from_db()
    assert key.window_start > yesterday and key.window_spent == one and key.held == 0


@money_paths
def test_the_output_limit_is_lowered_to_what_the_keys_window_covers(
    api, money_path, customer, client_for
):
    user, _, _ = customer
    prompt = estimate_messages_tokens(HELLO)
    _, secret = make_key(user, name="weekly", spend_limit=cost(prompt, 600), spend_window="week")
    raw = client_for(secret).chat.completions.with_raw_response.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=1000
    )
    assert raw.parse().choices
    assert raw.headers["x-opencodex-max-tokens-reason"] == "key_spend_limit"
    assert int(raw.headers["x-opencodex-max-tokens"]) == 600
    drain(api)
    key = ApiKey.objects.get(name="weekly")
    assert key.held == 0 and key.window_spent == cost(prompt, 600) == key.spend_limit


@money_paths
def test_the_window_refusal_in_the_anthropic_and_responses_shapes(api, money_path, customer):
    user, _, _ = customer
    _, secret = make_key(user, name="monthly", spend_limit=1, spend_window="month")
    messages = post(
        api,
        secret,
        {"model": "native", "max_tokens": 100, "messages": HELLO},
        path="/api/v1/messages",
    )
    assert messages.status_code == 402
    error = messages.json()["error"]
    assert error["type"] == "billing_error" and "monthly spend limit" in error["message"]
    responses = post(api, secret, {"model": "fake-ok", "input": "Hi"}, path="/api/v1/responses")
    assert responses.status_code == 402
    assert responses.json()["error"]["code"] == "key_spend_limit_reached"
    drain(api)
    assert Account.objects.get(user=user).held == 0
    assert ApiKey.objects.get(name="monthly").held == 0


def test_a_window_set_mid_window_counts_what_the_key_spent_since_it_began(
    api, customer, client_for
):
    user, _, secret = customer
    key = ApiKey.objects.get(user=user)
    client = client_for(secret)
    for _ in range(3):
        client.chat.completions.create(model="fake-exact-cost", messages=HELLO, max_tokens=100)
    drain(api)
    spent = sum(UsageRecord.objects.filter(api_key=key).values_list("cost", flat=True))
    one = cost(estimate_messages_tokens(HELLO), 100)
    assert spent == 3 * one
    update(key, spend_limit=3 * one + one // 2, spend_window="day")
    key.refresh_from_db()
    assert (
        key.window_spent == spent and key.window_start == windows.starts("UTC", timezone.now()).day
    )
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="fake-exact-cost", messages=HELLO, max_tokens=100)
    assert exc.value.body["code"] == "key_spend_limit_reached"
    # Raising the limit lets requests through again at once; the count goes on.
    update(key, spend_limit=10 * one, spend_window="day")
    client.chat.completions.create(model="fake-exact-cost", messages=HELLO, max_tokens=100)
    drain(api)
    key.refresh_from_db()
    assert key.window_spent == 4 * one and key.held == 0
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_rotated_keys_share_one_window(api, customer, client_for):
    user, _, _ = customer
    one = cost(estimate_messages_tokens(HELLO), 100)
    old, old_secret = make_key(user, name="line", spend_limit=2 * one, spend_window="day")
    client_for(old_secret).chat.completions.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=100
    )
    _, new_secret = key_services.api_key_rotate(user_id=user.pk, key_id=old.pk, grace_seconds=3600)
    client_for(new_secret).chat.completions.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=100
    )
    for secret in (old_secret, new_secret):
        with pytest.raises(openai.APIStatusError) as exc:
            client_for(secret).chat.completions.create(
                model="fake-exact-cost", messages=HELLO, max_tokens=100
            )
        assert exc.value.body["code"] == "key_spend_limit_reached"
    drain(api)
    old.refresh_from_db()
    assert old.window_spent == 2 * one and old.held == 0


# --- all at once, and what each check costs --------------------------------------------------


def test_a_key_with_every_guardrail_serves_what_they_allow(api, customer, client_for):
    user, _, _ = customer
    _, secret = make_key(
        user,
        name="everything",
        expires_at=timezone.now() + timedelta(days=1),
        credit_limit=50 * MICRO,
        rpm_limit=100,
        tpm_limit=100_000,
        spend_limit=20 * MICRO,
        spend_window="day",
        allowed_models=["fake-ok", "fake-exact-cost"],
        allowed_ips=["127.0.0.1", "::1"],
    )
    client = client_for(secret)
    for _ in range(3):
        assert client.chat.completions.create(model="fake-ok", messages=HELLO).choices
    with client.chat.completions.create(model="fake-ok", messages=HELLO, stream=True) as stream:
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    raw = httpx.get(f"{api.url}/api/v1/balance", headers={"Authorization": f"Bearer {secret}"})
    assert raw.json()["key"]["credit_limit"] == 50.0
    drain(api)
    key = ApiKey.objects.get(name="everything")
    assert key.held == 0 and key.window_spent == key.spent > 0
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_a_key_that_fills_up_while_a_hold_waits_for_the_account_gives_nothing_back_held(
    transactional_db,
):
    """The PostgreSQL hold reads the key's room before it takes the account's row, and reserves
    on the key after: when another request takes the key's last room in between, the whole
    statement is rolled back (the account keeps nothing held) and the key's limit is named."""
    import asyncio

    import psycopg

    from apps.credits.services import credits_grant
    from apps.gateway.pg import PgMoney, conninfo
    from apps.keys.errors import KeyCreditLimitReached
    from tests.factories import UserFactory

    user = UserFactory(verified=True)
    credits_grant(user_id=user.pk, amount=10 * MICRO, kind="topup", reference="race")
    key, _ = make_key(user, name="race", credit_limit=MICRO)
    account = Account.objects.get(user=user)
    now = timezone.now()

    async def hold():
        money = PgMoney()
        try:
            await money.hold(
                request_id="req_race",
                account_id=account.pk,
                key_id=key.pk,
                limited=True,
                amount=MICRO // 2,
                now=now,
                expires_at=now + timedelta(minutes=5),
                starts=windows.starts("UTC", now),
            )
        finally:
            await money.close()

    with psycopg.connect(conninfo()) as other:  # another request, mid-transaction
        other.execute("SELECT 1 FROM credits_account WHERE id = %s FOR UPDATE", [account.pk])
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(asyncio.run, hold())
            time.sleep(1.0)  # the hold has read the key's room and waits for the account
            assert not waiting.done()
            other.execute("UPDATE keys_apikey SET held = %s WHERE id = %s", [MICRO, key.pk])
            other.commit()
            with pytest.raises(KeyCreditLimitReached) as exc:
                waiting.result(timeout=30)
    assert exc.value.left == 0
    assert Account.objects.get(pk=account.pk).held == 0
    assert not Hold.objects.filter(reference="req_race").exists()
    ApiKey.objects.filter(pk=key.pk).update(held=0)


@pytest.mark.parametrize("step", ["hold", "settle"])
def test_the_money_statements_lock_the_account_before_the_key(transactional_db, step):
    """A hold and a settlement of one limited key, each waiting for the account's row another
    transaction has, must not have taken the key's row meanwhile: every path locks the account
    first, then the key, so a hold and a settlement of the same key never deadlock."""
    import asyncio

    import psycopg

    from apps.credits.services import credits_grant
    from apps.gateway.pg import PgMoney, conninfo
    from apps.usage.services import RequestOutcome
    from tests.factories import UserFactory

    user = UserFactory(verified=True)
    credits_grant(user_id=user.pk, amount=10 * MICRO, kind="topup", reference="order")
    key, _ = make_key(user, name="order", spend_limit=5 * MICRO, spend_window="day")
    account = Account.objects.get(user=user)
    now = timezone.now()

    async def run(what):
        money = PgMoney()
        try:
            if what == "hold":
                await money.hold(
                    request_id="req_order",
                    account_id=account.pk,
                    key_id=key.pk,
                    limited=True,
                    amount=MICRO,
                    now=now,
                    expires_at=now + timedelta(minutes=5),
                    starts=windows.starts("UTC", now),
                )
            else:
                outcome = RequestOutcome(
                    request_id="req_order",
                    user_id=user.pk,
                    api_key_id=key.pk,
                    model="fake-ok",
                    status=200,
                    created_at=now,
                    cost=MICRO // 2,
                )
                await money.settle(outcome, timezone.now())
        finally:
            await money.close()

    if step == "settle":  # in a thread: another test's event loop may be running here
        with ThreadPoolExecutor(1) as own_loop:
            own_loop.submit(asyncio.run, run("hold")).result()
    with psycopg.connect(conninfo()) as other, ThreadPoolExecutor(1) as pool:
        other.execute("SELECT 1 FROM credits_account WHERE id = %s FOR UPDATE", [account.pk])
        waiting = pool.submit(asyncio.run, run(step))
        time.sleep(1.0)
        assert not waiting.done()  # it waits for the account
        other.execute("SELECT 1 FROM keys_apikey WHERE id = %s FOR UPDATE NOWAIT", [key.pk])
        other.rollback()
        waiting.result(timeout=30)
    key.refresh_from_db()
    if step == "settle":
        assert (key.held, key.window_spent, key.spent) == (0, MICRO // 2, MICRO // 2)
    else:
        assert key.held == MICRO
        ApiKey.objects.filter(pk=key.pk).update(held=0)
        Account.objects.filter(pk=account.pk).update(held=0)
        Hold.objects.filter(reference="req_order").update(status="released")


def test_the_balance_says_what_the_keys_window_has_spent_and_when_it_starts_again(
    api, customer, client_for
):
    user, _, _ = customer
    one = cost(estimate_messages_tokens(HELLO), 100)
    _, secret = make_key(user, name="weekly", spend_limit=10 * one, spend_window="week")
    client_for(secret).chat.completions.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=100
    )
    drain(api)
    key = httpx.get(
        f"{api.url}/api/v1/balance", headers={"Authorization": f"Bearer {secret}"}
    ).json()["key"]
    assert key["spend_window"] == "week" and key["spend_limit"] == 10 * one / MICRO
    assert key["window_spent"] == one / MICRO
    resets = windows.next_start("week", "UTC", timezone.now())
    assert key["window_resets_at"] == resets.isoformat()
    plain = httpx.get(
        f"{api.url}/api/v1/balance", headers={"Authorization": f"Bearer {customer[2]}"}
    ).json()["key"]
    assert plain["spend_limit"] is None and plain["window_resets_at"] is None
