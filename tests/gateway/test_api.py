import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import openai
import pytest
from django.conf import settings
from django.utils import timezone

from apps.catalog.estimate import estimate_messages_tokens, estimate_request_tokens
from apps.catalog.pricing import request_cost
from apps.core.money import MICRO, format_credits
from apps.credits.models import Account, Hold
from apps.credits.selectors import ledger_problems
from apps.keys import services as key_services
from apps.keys import tokens
from apps.keys.models import ApiKey
from apps.usage.models import UsageRecord
from tests.factories import UserFactory
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain, wait_for

HELLO = [{"role": "user", "content": "Hello!"}]
IN_PRICE, OUT_PRICE = 100_000_000, 200_000_000  # µcr per 1M tokens in the test catalog


def cost(prompt, completion):
    return request_cost(
        prompt_tokens=prompt,
        completion_tokens=completion,
        input_price=IN_PRICE,
        output_price=OUT_PRICE,
    )


def post(api, secret, body, path="/api/v1/chat/completions", **kwargs):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return httpx.post(api.url + path, content=data, headers=headers, timeout=30, **kwargs)


# --- completions ----------------------------------------------------------------------------


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_plain_completion_with_the_sdk_is_charged_exactly_and_recorded(
    api, money_path, customer, client_for
):
    user, account, secret = customer
    raw = client_for(secret).chat.completions.with_raw_response.create(
        model="demo-chat",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
        temperature=0.7,
        max_tokens=2048 // 4,
    )
    response = raw.parse()
    assert raw.headers["x-opencodex-upstream"] == "demo"
    assert raw.headers["x-request-id"].startswith("req_")
    assert response.model == "demo-chat"
    assert response.choices[0].message.content.startswith("[demo]")
    assert response.choices[0].finish_reason == "stop"
    usage = response.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    drain(api)
    record = UsageRecord.objects.get(request_id=raw.headers["x-request-id"])
    expected = cost(usage.prompt_tokens, usage.completion_tokens)
    assert (record.status, record.cost, record.stream, record.model) == (
        200,
        expected,
        False,
        "demo-chat",
    )
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO - expected, 0)
    assert Hold.objects.get(reference=record.request_id).status == "settled"
    assert ApiKey.objects.get(user=user).spent == expected
    assert ledger_problems() == []


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_streaming_with_the_sdk_relays_chunks_and_ends_with_done(
    api, money_path, customer, client_for
):
    _, _, secret = customer
    client = client_for(secret)
    plain = client.chat.completions.create(model="demo-chat", messages=HELLO)
    chunks = list(client.chat.completions.create(model="demo-chat", messages=HELLO, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert len(chunks) > 5 and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"

    with_usage = list(
        client.chat.completions.create(
            model="demo-chat", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].usage.completion_tokens == plain.usage.completion_tokens

    raw = post(api, secret, {"model": "demo-chat", "messages": HELLO, "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = [line for line in raw.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    drain(api)
    records = UsageRecord.objects.filter(stream=True)
    assert records.count() == 3
    assert all(
        r.cost == cost(plain.usage.prompt_tokens, plain.usage.completion_tokens) for r in records
    )
    # Time to the first byte is recorded: above zero and within the request's whole latency.
    assert all(0 < r.ttft_ms <= r.latency_ms + 1 for r in records)
    assert ledger_problems() == []


def test_bare_v1_prefix_and_models_and_balance(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret, prefix="/v1")
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
    models = {m.id: m for m in client.models.list()}
    assert {"demo-chat", "fake-ok"} <= set(models)
    demo = models["demo-chat"].model_dump()
    assert demo["pricing"]["input_credits"] == 100.0 and demo["pricing"]["output_usd"] == 2.0
    assert demo["context_length"] == 8192 and demo["owned_by"] == "demo"
    drain(api)
    balance = httpx.get(f"{api.url}/v1/balance", headers={"Authorization": f"Bearer {secret}"})
    data = balance.json()
    assert data["object"] == "balance" and 99 < data["available"] < 100
    assert data["held"] == 0 and data["key"]["credit_limit"] is None
    assert balance.headers["x-request-id"]


def test_unknown_fields_and_parameters_pass_through(api, customer):
    _, _, secret = customer
    body = {
        "model": "fake-record",
        "messages": HELLO,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n\n", "END"],
        "seed": 42,
        "response_format": {"type": "json_object"},
        "max_tokens": 33,
    }
    assert post(api, secret, body).status_code == 200
    sent = fake_upstream.received[-1]
    assert sent["model"] == "record"  # the upstream's id for our public id
    for name in ("temperature", "top_p", "stop", "seed", "response_format", "max_tokens"):
        assert sent[name] == body[name], name
    post(api, secret, {"model": "fake-record", "messages": HELLO, "stream": True})
    sent = fake_upstream.received[-1]
    assert sent["stream_options"] == {"include_usage": True}
    # Without a limit from the client, the limit the hold covers is sent (a provider's own
    # default may be larger), in the model's own field (reasoning models refuse max_tokens).
    assert sent["max_tokens"] == 1024 and "max_completion_tokens" not in sent
    post(api, secret, {"model": "fake-reasoning", "messages": HELLO})
    sent = fake_upstream.received[-1]
    assert sent["max_completion_tokens"] == 1024 and "max_tokens" not in sent


def test_fields_that_change_the_providers_price_or_retention_are_refused(api, customer):
    secret = customer[2]
    cases = [
        ({"service_tier": "priority"}, "service_tier"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"store": True}, "store"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"modalities": ["text", "audio"], "audio": {"voice": "alloy"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
    ]
    before = len(fake_upstream.received)
    for extra, param in cases:
        body = {"model": "fake-record", "messages": HELLO, **extra}
        error = assert_error(post(api, secret, body), 400, "unsupported_parameter", param)
        assert "OpenCodex" in error["message"]
    assert len(fake_upstream.received) == before  # none reached the provider
    # The standard tier and store: false are what is priced: they pass.
    body = {"model": "fake-record", "messages": HELLO, "service_tier": "auto", "store": False}
    assert post(api, secret, body).status_code == 200
    assert fake_upstream.received[-1]["service_tier"] == "auto"


def test_upstream_without_usage_is_counted(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret)
    client.chat.completions.create(model="fake-no-usage", messages=HELLO)
    list(client.chat.completions.create(model="fake-no-usage", messages=HELLO, stream=True))
    drain(api)
    records = list(UsageRecord.objects.all())
    assert len(records) == 2
    for record in records:
        assert record.usage_counted and record.completion_tokens >= 10 and record.cost > 0
    assert ledger_problems() == []


# --- errors ---------------------------------------------------------------------------------


def assert_error(response, status, code, param=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == code and error["param"] == param
    assert response.headers["x-request-id"].startswith("req_")
    return error


def test_401_for_every_kind_of_bad_key(api, customer):
    user, _, secret = customer
    message = assert_error(post(api, None, {}), 401, "missing_api_key")["message"]
    assert "sk-live-" in message
    response = post(api, "sk-proj-123", {})
    assert "start with sk-live-" in assert_error(response, 401, "invalid_api_key")["message"]
    typo = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    assert "checksum" in assert_error(post(api, typo, {}), 401, "invalid_api_key")["message"]
    assert_error(post(api, tokens.generate(), {}), 401, "invalid_api_key")
    response = httpx.post(
        f"{api.url}/api/v1/chat/completions", headers={"Authorization": f"Basic {secret}"}
    )
    assert_error(response, 401, "invalid_authorization")

    _, expired_secret = make_key(user, expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(post(api, expired_secret, {}), 401, "api_key_expired")


def test_revoke_is_refused_on_the_very_next_request(api, customer, client_for):
    user, _, secret = customer
    client = client_for(secret)
    client.chat.completions.create(model="demo-chat", messages=HELLO)  # key facts now cached
    key = ApiKey.objects.get(user=user)
    key_services.api_key_revoke(user_id=user.pk, key_id=key.pk)
    with pytest.raises(openai.AuthenticationError) as exc:
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.status_code == 401 and "revoked" in str(exc.value)
    drain(api)
    user.credit_account.refresh_from_db()
    assert user.credit_account.held == 0  # a hold started before the refusal is given back
    assert UsageRecord.objects.count() == 1
    assert ledger_problems() == []


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_a_refusal_found_while_holding_gives_the_hold_back(api, money_path, client_for):
    """The shared rate count says no (another worker used the key up) while this process, which
    saw the key moments ago, has already started the hold."""
    import redis

    from apps.gateway.state import RATE_PREFIX, WINDOW_SECONDS

    away_from_a_minute_boundary()
    user = UserFactory(verified=True)
    from apps.credits.services import credits_grant

    credits_grant(user_id=user.pk, amount=10 * MICRO, kind="topup", reference="rl2")
    key, secret = make_key(user, rpm_limit=40)
    client = client_for(secret)
    client.chat.completions.create(model="demo-chat", messages=HELLO)
    window = int(__import__("time").time() // WINDOW_SECONDS)
    shared = redis.Redis.from_url(settings.REDIS_URL)
    shared.set(f"{RATE_PREFIX}{key.digest}:{window}", 1000, ex=120)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    shared.delete(f"{RATE_PREFIX}{key.digest}:{window}")
    drain(api)
    account = Account.objects.get(user=user)
    assert account.held == 0
    assert UsageRecord.objects.count() == 1
    assert set(Hold.objects.values_list("status", flat=True)) == {"settled", "released"}
    assert ledger_problems() == []


def test_a_key_changed_meanwhile_is_held_on_its_fresh_facts(api, customer, client_for):
    from apps.keys import cache as key_cache

    user, _, secret = customer
    client = client_for(secret)
    client.chat.completions.create(model="demo-chat", messages=HELLO)
    key = ApiKey.objects.get(user=user)
    ApiKey.objects.filter(pk=key.pk).update(credit_limit=50 * MICRO)
    key_cache.invalidate(key.digest)
    client.chat.completions.create(model="demo-chat", messages=HELLO)
    drain(api)
    key.refresh_from_db()
    assert key.held == 0 and key.spent > 0
    assert Account.objects.get(user=user).held == 0
    assert ledger_problems() == []


def test_rotation_grace_applies_to_the_gateway(api, customer, client_for):
    user, _, secret = customer
    client_for(secret).models.list()
    key = ApiKey.objects.get(user=user)
    _, new_secret = key_services.api_key_rotate(user_id=user.pk, key_id=key.pk, grace_seconds=0)
    with pytest.raises(openai.AuthenticationError):
        client_for(secret).models.list()
    assert client_for(new_secret).models.list().data


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (b"{not json", "invalid_json", None),
        (b"", "invalid_json", None),
        ([1, 2], "invalid_body", None),
        ({"messages": HELLO}, "missing_field", "model"),
        ({"model": 7, "messages": HELLO}, "invalid_type", "model"),
        ({"model": "demo-chat"}, "missing_field", "messages"),
        ({"model": "demo-chat", "messages": []}, "invalid_value", "messages"),
        ({"model": "demo-chat", "messages": "hi"}, "invalid_type", "messages"),
        (
            {"model": "demo-chat", "messages": [{"role": "robot", "content": "x"}]},
            "invalid_value",
            "messages[0].role",
        ),
        (
            {"model": "demo-chat", "messages": [{"role": "user"}]},
            "missing_field",
            "messages[0].content",
        ),
        (
            {"model": "demo-chat", "messages": [{"role": "user", "content": 5}]},
            "invalid_type",
            "messages[0].content",
        ),
        (
            {"model": "demo-chat", "messages": HELLO, "temperature": 2.5},
            "invalid_value",
            "temperature",
        ),
        (
            {"model": "demo-chat", "messages": HELLO, "temperature": "hot"},
            "invalid_type",
            "temperature",
        ),
        ({"model": "demo-chat", "messages": HELLO, "top_p": 1.5}, "invalid_value", "top_p"),
        ({"model": "demo-chat", "messages": HELLO, "max_tokens": 0}, "invalid_value", "max_tokens"),
        (
            {"model": "demo-chat", "messages": HELLO, "max_tokens": "10"},
            "invalid_value",
            "max_tokens",
        ),
        (
            {"model": "demo-chat", "messages": HELLO, "max_completion_tokens": -5},
            "invalid_value",
            "max_completion_tokens",
        ),
        (
            {"model": "demo-chat", "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]},
            "invalid_value",
            "stop",
        ),
        ({"model": "demo-chat", "messages": HELLO, "stream": "yes"}, "invalid_type", "stream"),
        ({"model": "no-such-model", "messages": HELLO}, "model_not_found", "model"),
    ],
)
def test_400_names_the_field(api, customer, body, code, param):
    _, account, secret = customer
    assert_error(post(api, secret, body), 400, code, param)
    drain(api)
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO, 0)


def test_400_for_a_body_over_the_limit(api, customer, settings):
    assert settings.GATEWAY_MAX_BODY_BYTES == 32 * 1024 * 1024  # room for images and PDFs
    settings.GATEWAY_MAX_BODY_BYTES = 1024 * 1024
    _, _, secret = customer
    big = {"model": "demo-chat", "messages": [{"role": "user", "content": "x" * (1024 * 1024)}]}
    error = assert_error(post(api, secret, big), 400, "request_too_large")
    assert "1024 KiB" in error["message"]


def test_errors_after_authentication_are_recorded(api, customer):
    _, _, secret = customer
    post(api, secret, {"model": "no-such-model", "messages": HELLO})
    drain(api)
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code, record.cost) == (400, "model_not_found", 0)


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_402_says_what_is_needed_and_what_is_available(api, money_path, client_for):
    user = UserFactory(verified=True)
    from apps.credits.services import credits_grant

    credits_grant(user_id=user.pk, amount=MICRO // 100, kind="topup", reference="tiny")
    _, secret = make_key(user)
    with pytest.raises(openai.APIStatusError) as exc:
        client_for(secret).chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.status_code == 402
    error = exc.value.body
    assert error["code"] == "insufficient_credits"
    # Not even the floor of 256 output tokens is covered.
    needed = format_credits(cost(estimate_request_tokens({"messages": HELLO}), 256))
    assert f"needs {needed} credits" in error["message"]
    assert "0.0100 are available" in error["message"]
    drain(api)
    assert Account.objects.get(user=user).held == 0


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_402_when_the_keys_credit_limit_is_reached(api, money_path, customer, client_for):
    user, _, _ = customer
    _, limited = make_key(user, name="limited", credit_limit=MICRO // 50)  # 100 output tokens
    with pytest.raises(openai.APIStatusError) as exc:
        client_for(limited).chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.status_code == 402
    assert exc.value.body["code"] == "key_credit_limit_reached"
    small = client_for(limited).chat.completions.create(
        model="demo-chat", messages=HELLO, max_tokens=50
    )
    assert small.choices
    drain(api)
    key = ApiKey.objects.get(name="limited")
    assert key.held == 0 and 0 < key.spent <= MICRO // 50


def away_from_a_minute_boundary():
    """Rate windows are whole minutes: start a rate test well inside one."""
    import time

    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_429_with_retry_after_and_rate_headers(api, client_for):
    away_from_a_minute_boundary()
    user = UserFactory(verified=True)
    from apps.credits.services import credits_grant

    credits_grant(user_id=user.pk, amount=10 * MICRO, kind="topup", reference="rl")
    _, secret = make_key(user, rpm_limit=2)
    client = client_for(secret)
    first = client.models.with_raw_response.list()
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    client.models.list()
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    headers = exc.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert exc.value.body["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_failing_upstream_is_retried_then_5xx_and_nothing_is_charged(
    api, money_path, customer, client_for
):
    _, account, secret = customer
    with pytest.raises(openai.InternalServerError) as exc:
        client_for(secret).chat.completions.create(model="fake-fail-500", messages=HELLO)
    assert exc.value.status_code == 502 and exc.value.body["code"] == "upstream_error"
    assert fake_upstream.attempts["fail-500"] == 2  # the first try and one retry
    with pytest.raises(openai.InternalServerError):
        list(
            client_for(secret).chat.completions.create(
                model="fake-fail-500", messages=HELLO, stream=True
            )
        )
    drain(api)
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO, 0)
    assert set(UsageRecord.objects.values_list("status", flat=True)) == {502}
    assert set(Hold.objects.values_list("status", flat=True)) == {"released"}


def test_a_flaky_upstream_is_retried_before_any_byte(api, customer, client_for):
    _, _, secret = customer
    assert client_for(secret).chat.completions.create(model="fake-flaky", messages=HELLO).choices
    assert fake_upstream.attempts["flaky"] == 2


def test_an_upstream_4xx_is_relayed_with_its_details(api, customer):
    _, _, secret = customer
    error = assert_error(
        post(api, secret, {"model": "fake-reject-400", "messages": HELLO}),
        400,
        "context_length_exceeded",
        param="messages",
    )
    assert error == fake_upstream.CONTEXT_TOO_LONG["error"]
    assert fake_upstream.attempts["reject-400"] == 1  # a 4xx is never retried


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_upstream_dying_mid_stream_charges_only_delivered_output(
    api, money_path, customer, client_for
):
    _, account, secret = customer
    received = []
    with pytest.raises(openai.APIError):
        for event in client_for(secret).chat.completions.create(
            model="fake-die-midstream", messages=HELLO, stream=True
        ):
            received.extend(c.delta.content or "" for c in event.choices)
    assert "".join(received) == "part " * 5
    drain(api)
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code) == (502, "upstream_stream_broken")
    assert (record.prompt_tokens, record.completion_tokens) == (0, 5)
    assert record.cost == cost(0, 5)
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO - cost(0, 5), 0)
    assert ledger_problems() == []


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_a_stream_cut_by_the_client_releases_the_hold_and_charges_partial_output(
    api, money_path, customer
):
    _, account, secret = customer
    body = {"model": "fake-slow-stream", "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST",
        f"{api.url}/api/v1/chat/completions",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    ) as response:
        lines = response.iter_lines()
        seen = [next(lines) for _ in range(10)]
    assert any("word" in line for line in seen)
    wait_for(lambda: UsageRecord.objects.exists())
    drain(api)
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code, record.stream) == (499, "client_disconnected", True)
    assert 3 <= record.completion_tokens < 200
    assert record.cost == cost(record.prompt_tokens, record.completion_tokens) > 0
    account.refresh_from_db()
    assert account.held == 0 and account.balance == 100 * MICRO - record.cost
    assert Hold.objects.get().status == "settled"
    assert ledger_problems() == []


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_fifty_concurrent_requests_on_an_account_that_affords_ten(api, money_path, client_for):
    user = UserFactory(verified=True)
    from apps.credits.services import credits_grant

    max_tokens = 200
    prompt = estimate_messages_tokens(HELLO)
    one = cost(prompt, max_tokens)  # the fake upstream uses exactly the worst case
    credits_grant(user_id=user.pk, amount=10 * one + one // 2, kind="topup", reference="ten")
    _, secret = make_key(user, rpm_limit=1000)
    client = client_for(secret)
    barrier = threading.Barrier(50)

    def call(_):
        barrier.wait()
        try:
            client.chat.completions.create(
                model="fake-exact-cost", messages=HELLO, max_tokens=max_tokens
            )
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(call, range(50)))
    drain(api)
    assert statuses.count(200) <= 10
    assert statuses.count(200) + statuses.count(402) == 50
    assert statuses.count(200) >= 5
    account = Account.objects.get(user=user)
    assert account.balance >= 0 and account.held == 0
    assert account.balance == 10 * one + one // 2 - statuses.count(200) * one
    assert ledger_problems() == []


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_a_failed_settlement_is_retried(api, money_path, customer, client_for, monkeypatch):
    from apps.usage import services as usage_services

    _, account, secret = customer
    failures = []
    if api.gateway.pg is not None:
        pg = api.gateway.pg

        def failing_first(real):
            async def flaky(*args, **kwargs):
                if len(failures) < 2:
                    failures.append(1)
                    raise RuntimeError("database hiccup")
                return await real(*args, **kwargs)

            return flaky

        # The first try goes through the batch, the retries one by one.
        monkeypatch.setattr(pg, "settle_many", failing_first(pg.settle_many))
        monkeypatch.setattr(pg, "settle", failing_first(pg.settle))
    else:
        real = usage_services.request_settle

        def flaky_settle(**kwargs):
            if len(failures) < 2:
                failures.append(1)
                raise RuntimeError("database hiccup")
            return real(**kwargs)

        monkeypatch.setattr(usage_services, "request_settle", flaky_settle)
    client_for(secret).chat.completions.create(model="demo-chat", messages=HELLO)
    wait_for(lambda: UsageRecord.objects.exists())
    drain(api)
    assert len(failures) == 2
    account.refresh_from_db()
    assert account.held == 0 and account.balance < 100 * MICRO
    assert ledger_problems() == []


def test_last_used_is_recorded(api, customer, client_for):
    user, _, secret = customer
    client_for(secret).models.list()
    drain(api)
    assert ApiKey.objects.get(user=user).last_used_at is not None


def test_unknown_endpoints_and_methods_answer_in_the_openai_shape(api, customer):
    _, _, secret = customer
    headers = {"Authorization": f"Bearer {secret}"}
    assert_error(httpx.get(f"{api.url}/api/v1/nope", headers=headers), 404, "unknown_endpoint")
    assert_error(
        httpx.get(f"{api.url}/api/v1/chat/completions", headers=headers), 405, "method_not_allowed"
    )
    # Django still serves everything else.
    assert httpx.get(f"{api.url}/").status_code == 200


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_a_suspended_account_gets_402_with_contact_support(api, money_path, customer, client_for):
    from apps.credits.services import credits_account_suspend

    user, account, secret = customer
    credits_account_suspend(user_id=user.pk, suspended=True)
    with pytest.raises(openai.APIStatusError) as exc:
        client_for(secret).chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.status_code == 402
    assert exc.value.body["code"] == "account_suspended"
    assert "contact support" in exc.value.body["message"]
    assert settings.SUPPORT_EMAIL in exc.value.body["message"]  # where to write
    drain(api)
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO, 0)


def test_a_changed_rate_limit_applies_from_the_next_request(api, customer, client_for):
    user, _, secret = customer
    client = client_for(secret)
    assert client.models.with_raw_response.list().headers["x-ratelimit-limit-requests"] == "600"
    key = ApiKey.objects.get(user=user)
    key_services.api_key_update(
        user_id=user.pk, key_id=key.pk, name=key.name, credit_limit=None, rpm_limit=7
    )
    assert client.models.with_raw_response.list().headers["x-ratelimit-limit-requests"] == "7"


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_rotated_keys_share_one_credit_limit_during_the_grace(
    api, money_path, customer, client_for
):
    user, _, _ = customer
    one = cost(estimate_messages_tokens(HELLO), 100)  # fake-exact-cost charges its worst case
    old, old_secret = make_key(user, name="line", credit_limit=2 * one + one // 3)
    _, new_secret = key_services.api_key_rotate(user_id=user.pk, key_id=old.pk, grace_seconds=3600)

    def call(secret):
        try:
            client_for(secret).chat.completions.create(
                model="fake-exact-cost", messages=HELLO, max_tokens=100
            )
            return 200
        except openai.APIStatusError as exc:
            return exc.body["code"]

    assert call(old_secret) == 200
    assert call(new_secret) == 200
    drain(api)
    assert call(new_secret) == "key_credit_limit_reached"
    assert call(old_secret) == "key_credit_limit_reached"
    drain(api)
    old.refresh_from_db()
    assert (old.spent, old.held) == (2 * one, 0)
    for secret in (old_secret, new_secret):
        balance = httpx.get(
            f"{api.url}/api/v1/balance", headers={"Authorization": f"Bearer {secret}"}
        ).json()
        assert balance["key"]["remaining"] == round((one // 3) / 1_000_000, 6)
    assert ledger_problems() == []


def test_json_nested_too_deep_is_a_400_not_a_500(api, customer):
    _, _, secret = customer
    for depth in (65, 300, 1000):
        body = '{"model": "demo-chat", "messages": ' + "[" * depth + "]" * depth + "}"
        error = assert_error(post(api, secret, body), 400, "invalid_json")
        assert "deeper than 64" in error["message"] or "not valid JSON" in error["message"]
    ok = {"model": "demo-chat", "messages": HELLO, "metadata": {"a": {"b": {"c": [1]}}}}
    assert post(api, secret, ok).status_code == 200


def test_a_body_that_trickles_in_times_out_with_408(api, customer, settings):
    import socket

    settings.GATEWAY_BODY_READ_TIMEOUT = 0.5
    _, _, secret = customer
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {secret}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model"'
        )
        reply = sock.recv(65536).decode()  # the rest never comes
    assert reply.startswith("HTTP/1.1 408") and "request_timeout" in reply


@pytest.mark.parametrize("case", ["unknown", "revoked", "rate"])
def test_the_key_is_checked_before_the_body_is_read(api, customer, settings, case):
    """A stranger cannot make the gateway wait for (or buffer) a body: with a key that is
    unknown, revoked or over its rate, the answer comes while the body has not been sent."""
    import socket

    from apps.keys import tokens
    from apps.keys.models import ApiKey

    settings.GATEWAY_BODY_READ_TIMEOUT = 30  # a refusal that waited for the body would hang
    user, _, secret = customer
    key = ApiKey.objects.get(user=user)
    expected = "401"
    if case == "unknown":
        secret = tokens.generate()
    elif case == "revoked":
        from apps.keys.services import api_key_revoke

        api_key_revoke(user_id=user.id, key_id=key.id)
    else:
        key.rpm_limit = 1
        key.save(update_fields=["rpm_limit"])
        import time

        from apps.gateway.state import WINDOW_SECONDS

        # Both requests in one rate window (a minute): not across its boundary.
        if time.time() % WINDOW_SECONDS > WINDOW_SECONDS - 5:
            time.sleep(WINDOW_SECONDS - time.time() % WINDOW_SECONDS + 0.1)
        assert post(api, secret, {"model": "demo-chat", "messages": HELLO}).status_code == 200
        api.gateway.recent.clear()  # as on another worker: no recent sighting of the key
        expected = "429"
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {secret}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 33554432\r\n\r\n"
        )
        reply = sock.recv(65536).decode()  # no byte of the body was sent
    assert reply.startswith(f"HTTP/1.1 {expected}"), reply[:200]
    drain(api)
