"""The gateway is faithful to real providers and exact to the µcr: their errors, rate limits,
keep-alives and error events pass through; output limits bend instead of break; what the
provider bills is charged, cache reads and writes at their own prices, also beyond the hold."""

import base64
import json

import httpx
import openai
import pytest

from apps.catalog.estimate import estimate_request_tokens
from apps.catalog.pricing import count_text_tokens, tokens_cost
from apps.core.money import MICRO
from apps.credits.models import Account, Hold, LedgerEntry
from apps.credits.selectors import ledger_problems, overrun_holds
from apps.credits.services import credits_grant
from apps.keys.models import ApiKey
from apps.usage.models import UsageRecord
from tests.factories import UserFactory
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain

HELLO = [{"role": "user", "content": "Hello!"}]
# Prices of the test catalog's models, in µcr per token (the catalog's are per 1M tokens).
LARGE_IN, LARGE_OUT = 250, 1000  # fake-large and fake-bills: $2.50 and $10 per 1M


def funded(credits: float, **key_kwargs):
    user = UserFactory(verified=True)
    credits_grant(
        user_id=user.pk, amount=int(credits * MICRO), kind="topup", reference=f"f{user.pk}"
    )
    _, secret = make_key(user, **key_kwargs)
    return user, secret


def assert_books_balance(user=None):
    from apps.usage.selectors import usage_charge_problems

    assert ledger_problems() == []
    assert usage_charge_problems() == []  # every delivered request charged, every key's spend
    if user is not None:
        account = Account.objects.get(user=user)
        assert account.held == 0
        assert not Hold.objects.filter(account=account, status="active").exists()


# --- errors as the provider said them -------------------------------------------------------


def test_an_upstream_429_is_a_rate_limit_error_with_its_headers_one_call_per_sdk_attempt(
    api, customer, client_for
):
    user, account, secret = customer
    client = client_for(secret, max_retries=2)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="fake-rate-limited", messages=HELLO)
    # The SDK tried three times (honouring retry-after-ms); the gateway added no retries.
    assert fake_upstream.attempts["rate-limited"] == 3
    response = exc.value.response
    assert response.status_code == 429
    assert exc.value.body == fake_upstream.RATE_LIMITED["error"]
    assert response.headers["retry-after-ms"] == "20"
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "20ms"
    drain(api)
    records = UsageRecord.objects.filter(user=user)
    assert [(r.status, r.error_code, r.cost) for r in records] == [
        (429, "rate_limit_exceeded", 0)
    ] * 3
    account.refresh_from_db()
    assert (account.balance, account.held) == (100 * MICRO, 0)
    assert_books_balance(user)


def test_5xx_is_retried_by_the_gateway_only_on_the_clients_first_attempt(api, customer, client_for):
    _, _, secret = customer
    with pytest.raises(openai.InternalServerError) as exc:
        client_for(secret, max_retries=2).chat.completions.create(
            model="fake-overloaded", messages=HELLO
        )
    assert exc.value.status_code == 503
    assert exc.value.response.headers["retry-after"] == "0"
    assert "overloaded" in exc.value.body["message"]
    # The SDK's first attempt: the gateway's try and one retry; its two retries: one call each.
    assert fake_upstream.attempts["overloaded"] == 4
    request_ids = [h.get("x-request-id") for h in fake_upstream.headers_seen]
    assert len(set(request_ids)) == 3  # three gateway requests, one of them retried


def test_a_stream_that_breaks_before_its_first_event_is_opened_again(api, customer, client_for):
    _, _, secret = customer
    chunks = list(
        client_for(secret).chat.completions.create(
            model="fake-broken-before-first", messages=HELLO, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "word " * 10
    assert fake_upstream.attempts["broken-before-first"] == 2
    drain(api)
    assert UsageRecord.objects.get().status == 200


# --- limits that bend -----------------------------------------------------------------------


def test_a_reasoning_model_gets_the_held_limit_in_its_own_field(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret)
    answer = client.chat.completions.create(model="fake-reasoning", messages=HELLO)
    assert answer.usage.completion_tokens_details.reasoning_tokens == 50
    assert "max_tokens" not in fake_upstream.received[-1]
    assert fake_upstream.received[-1]["max_completion_tokens"] == 1024
    client.chat.completions.create(
        model="fake-reasoning", messages=HELLO, max_completion_tokens=300
    )
    assert fake_upstream.received[-1]["max_completion_tokens"] == 300
    # Both fields: exactly one goes upstream, the model's own, with the smaller value.
    client.chat.completions.create(
        model="fake-reasoning", messages=HELLO, max_tokens=100, max_completion_tokens=300
    )
    sent = fake_upstream.received[-1]
    assert sent["max_completion_tokens"] == 100 and "max_tokens" not in sent
    drain(api)
    record = UsageRecord.objects.order_by("id").first()
    assert (record.completion_tokens, record.reasoning_tokens) == (60, 50)


def test_max_tokens_above_the_models_limit_is_lowered_to_it(api, customer, client_for):
    _, _, secret = customer
    raw = client_for(secret).chat.completions.with_raw_response.create(
        model="fake-small", messages=HELLO, max_tokens=32_000
    )
    assert raw.parse().choices
    assert fake_upstream.received[-1]["max_tokens"] == 4096
    assert raw.headers["x-opencodex-max-tokens"] == "4096"
    assert raw.headers["x-opencodex-max-tokens-reason"] == "model_limit"


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
@pytest.mark.parametrize("limit", ["balance", "key_credit_limit"])
def test_one_credit_calling_a_large_model_gets_an_answer_with_a_lowered_limit(
    api, money_path, client_for, limit
):
    if limit == "balance":
        user, secret = funded(1)
    else:
        user, secret = funded(100, credit_limit=1 * MICRO)
    raw = client_for(secret).chat.completions.with_raw_response.create(
        model="fake-large", messages=HELLO
    )
    assert raw.parse().choices[0].message.content
    lowered = int(raw.headers["x-opencodex-max-tokens"])
    assert raw.headers["x-opencodex-max-tokens-reason"] == limit
    prompt = tokens_cost(estimate_request_tokens({"messages": HELLO}), LARGE_IN * 1_000_000)
    assert lowered == (MICRO - prompt) // LARGE_OUT  # all that one credit covers
    assert 256 <= lowered < 16_384
    assert fake_upstream.received[-1]["max_tokens"] == lowered
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert record.status == 200 and record.cost == 7 * LARGE_IN + 10 * LARGE_OUT
    if limit == "key_credit_limit":
        assert ApiKey.objects.get(user=user).held == 0
    assert_books_balance(user)


def test_402_only_below_the_floor(api, client_for):
    user, secret = funded(0.2)  # 200 output tokens of fake-large: below the 256 floor
    with pytest.raises(openai.APIStatusError) as exc:
        client_for(secret).chat.completions.create(model="fake-large", messages=HELLO)
    assert exc.value.status_code == 402
    # A request that asks for less than the floor is held as it is.
    answer = client_for(secret).chat.completions.create(
        model="fake-large", messages=HELLO, max_tokens=100
    )
    assert answer.choices
    drain(api)
    assert_books_balance(user)


# --- charges as the provider bills ----------------------------------------------------------


def tiny_png(width: int, height: int) -> str:
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_a_large_media_request_is_charged_what_the_provider_bills_beyond_the_balance(
    api, money_path, client_for
):
    user, secret = funded(20)
    pdf = b"%PDF-1.7\n" + b"1 0 obj << /Type /Page >> endobj\n" * 3 + b"%%EOF"
    content = [{"type": "text", "text": "Summarise the report and describe the charts."}]
    content += [{"type": "image_url", "image_url": {"url": tiny_png(2048, 2048), "detail": "high"}}]
    content += [
        {
            "type": "file",
            "file": {
                "filename": "report.pdf",
                "file_data": "data:application/pdf;base64," + base64.b64encode(pdf).decode(),
            },
        }
    ]
    messages = [{"role": "user", "content": content}]
    estimate = estimate_request_tokens({"messages": messages})
    # The provider bills the PDF's rendered pages and text far beyond any estimate by size.
    fake_upstream.billed.update(
        {"prompt_tokens": 250_000, "completion_tokens": 1, "total_tokens": 250_001}
    )
    client = client_for(secret)
    answer = client.chat.completions.create(model="fake-bills", messages=messages, max_tokens=1)
    assert answer.usage.prompt_tokens == 250_000
    drain(api)
    charged = 250_000 * LARGE_IN + 1 * LARGE_OUT  # 62.501 credits
    record = UsageRecord.objects.get(user=user)
    assert record.cost == charged and record.prompt_tokens == 250_000
    account = Account.objects.get(user=user)
    assert account.balance == 20 * MICRO - charged < 0
    hold = Hold.objects.get(account=account)
    assert hold.amount < charged == hold.charged  # charged beyond the hold: an overrun
    assert hold.amount >= tokens_cost(estimate, LARGE_IN * 1_000_000)
    from apps.usage.rollup import rollup_step

    rollup_step()  # the charge is posted to the ledger with the account's others
    entry = LedgerEntry.objects.get(kind="usage", account=account)
    assert (entry.amount, entry.balance_after) == (-charged, account.balance)
    assert [h.reference for h in overrun_holds()] == [hold.reference]
    # Until a top-up covers the overrun, the account is refused.
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="fake-bills", messages=HELLO, max_tokens=1)
    assert exc.value.status_code == 402 and "below zero" in exc.value.body["message"]
    assert_books_balance(user)


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_cached_input_and_cache_writes_are_charged_at_their_prices_to_the_microcredit(
    api, money_path, customer, client_for
):
    user, account, secret = customer
    client = client_for(secret)
    client.chat.completions.create(model="fake-cached", messages=HELLO, max_tokens=100)
    list(
        client.chat.completions.create(
            model="fake-cached", messages=HELLO, max_tokens=100, stream=True
        )
    )
    drain(api)
    # 12,000 prompt tokens: 10,000 read from the cache at $0.30, 1,500 written at $3.75 and
    # 500 uncached at $3.00 per 1M; 100 output at $15; and $0.0001 for the request.
    expected = 500 * 300 + 10_000 * 30 + 1_500 * 375 + 100 * 1_500 + 10_000
    assert expected == 1_172_500
    records = list(UsageRecord.objects.filter(user=user))
    assert len(records) == 2
    for record in records:
        assert (record.prompt_tokens, record.cached_tokens, record.cache_write_tokens) == (
            12_000,
            10_000,
            1_500,
        )
        assert record.cost == expected
    account.refresh_from_db()
    assert account.balance == 100 * MICRO - 2 * expected
    model = client.models.retrieve("fake-cached")
    pricing = model.model_extra["pricing"]
    assert (pricing["input_usd"], pricing["cached_input_usd"], pricing["cache_write_usd"]) == (
        3.0,
        0.3,
        3.75,
    )
    assert pricing["request_usd"] == 0.0001
    assert_books_balance(user)


# --- streams relayed as they are ------------------------------------------------------------


def test_keepalives_arrive_before_the_first_token_within_a_3_s_read_timeout(
    api, customer, client_for
):
    _, _, secret = customer
    body = {"model": "fake-keepalive", "messages": HELLO, "stream": True}
    lines = []
    with httpx.stream(
        "POST",
        f"{api.url}/api/v1/chat/completions",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {secret}"},
        timeout=httpx.Timeout(3.0),
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    assert lines[0] == ": keep-alive"
    assert lines.count(": keep-alive") == 5
    assert lines[-1] == "data: [DONE]"
    # The SDK with the same read timeout skips the comments and gets the answer.
    client = client_for(secret, timeout=openai.Timeout(3.0))
    chunks = list(client.chat.completions.create(**body))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_providers_error_event_is_relayed_unchanged_and_delivered_output_settled(api, customer):
    _, account, secret = customer
    body = {"model": "fake-stream-error", "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST",
        f"{api.url}/api/v1/chat/completions",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    ) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert json.loads(events[-1]) == fake_upstream.STREAM_ERROR  # as the provider sent it
    assert sum("part" in e for e in events) == 3 and "[DONE]" not in events
    drain(api)
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code) == (502, "invalid_content")
    assert (record.prompt_tokens, record.completion_tokens) == (0, 3)
    account.refresh_from_db()
    assert account.balance == 100 * MICRO - 3 * 200


def test_without_usage_tool_calls_and_reasoning_are_counted(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret)
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("get_weather", "get_time")
    ]
    plain = client.chat.completions.create(model="fake-no-usage-tools", messages=HELLO, tools=tools)
    assert len(plain.choices[0].message.tool_calls) == 2
    streamed = list(
        client.chat.completions.create(
            model="fake-no-usage-tools", messages=HELLO, tools=tools, stream=True
        )
    )
    assert streamed
    client.chat.completions.create(model="fake-no-usage-reasoning", messages=HELLO)
    list(
        client.chat.completions.create(model="fake-no-usage-reasoning", messages=HELLO, stream=True)
    )
    drain(api)
    arguments = " ".join(
        f"{c['function']['name']} {c['function']['arguments']}" for c in fake_upstream.TOOL_CALLS
    )
    for record in UsageRecord.objects.filter(model="fake-no-usage-tools"):
        assert record.usage_counted
        assert record.completion_tokens >= count_text_tokens(arguments) > 10
        assert record.prompt_tokens == estimate_request_tokens({"messages": HELLO, "tools": tools})
    thought = count_text_tokens(fake_upstream.THOUGHT)
    for record in UsageRecord.objects.filter(model="fake-no-usage-reasoning"):
        assert record.usage_counted
        assert record.reasoning_tokens >= thought
        assert record.completion_tokens >= thought + 1
        assert record.prompt_tokens == estimate_request_tokens({"messages": HELLO})
    assert_books_balance()


def test_models_retrieve(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret)
    model = client.models.retrieve("fake-large")
    assert (model.id, model.owned_by) == ("fake-large", "fake")
    assert model.model_extra["max_output_tokens"] == 16_384
    with pytest.raises(openai.NotFoundError) as exc:
        client.models.retrieve("gpt-5")
    assert exc.value.body["code"] == "model_not_found"
    assert httpx.get(f"{api.url}/v1/models/fake-large").status_code == 401


def test_the_demo_model_through_the_gateway_parses_json_calls_tools_and_gives_n(
    api, customer, client_for
):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int
        tags: list[str]

    user, _, secret = customer
    client = client_for(secret)
    parsed = client.chat.completions.parse(model="demo-chat", messages=HELLO, response_format=City)
    assert isinstance(parsed.choices[0].message.parsed, City)
    several = client.chat.completions.create(model="demo-chat", messages=HELLO, n=2)
    assert len(several.choices) == 2
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    called = client.chat.completions.create(
        model="demo-chat", messages=HELLO, tools=[tool], tool_choice="required"
    )
    assert called.choices[0].message.tool_calls[0].function.name == "f"
    drain(api)
    costs = [r.cost for r in UsageRecord.objects.filter(user=user).order_by("id")]
    assert len(costs) == 3 and all(c > 0 for c in costs)
    assert_books_balance(user)


def test_without_usage_the_count_includes_the_reasoning_in_every_protocol(
    api, customer, client_for
):
    """A provider that reports no usage: what it streamed is counted, reasoning included, also
    when another protocol's translator holds part of it back before writing it."""
    import anthropic

    user, _, secret = customer
    client = client_for(secret)
    with client.responses.stream(model="fake-no-usage-reasoning", input="2+2?") as stream:
        stream.get_final_response()
    claude = anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0)
    with claude.messages.stream(
        model="fake-no-usage-reasoning", max_tokens=100, messages=HELLO
    ) as stream:
        stream.get_final_message()
    drain(api)
    thought = count_text_tokens(fake_upstream.THOUGHT)
    records = list(UsageRecord.objects.filter(user=user))
    assert {r.protocol for r in records} == {"responses", "messages"}
    for record in records:
        assert record.usage_counted
        assert record.reasoning_tokens >= thought, record.protocol
        assert record.completion_tokens >= thought + 1, record.protocol
