"""The Anthropic Messages API and the OpenAI Responses API on the gateway, through the official
SDKs, with the same money and limits as chat completions."""

import json
from concurrent.futures import ThreadPoolExecutor

import anthropic
import httpx
import openai
import pytest

from apps.core.money import MICRO
from apps.credits.models import Account
from apps.credits.selectors import ledger_problems
from apps.credits.services import credits_grant
from apps.usage.models import UsageRecord
from tests.factories import UserFactory
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def claude(api, customer):
    def make(secret=None, **kwargs):
        kwargs.setdefault("max_retries", 0)
        return anthropic.Anthropic(
            api_key=secret or customer[2], base_url=f"{api.url}/api", **kwargs
        )

    return make


def test_messages_create_with_the_anthropic_sdk_is_charged_and_recorded(api, customer, claude):
    user, account, _ = customer
    message = claude().messages.create(
        model="demo-chat",
        max_tokens=16_000,  # above the model's 1,024: lowered, not refused
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Hello!"}],
    )
    assert isinstance(message, anthropic.types.Message)
    assert message.content[0].text.startswith("[demo]")
    assert message.stop_reason == "end_turn" and message.model == "demo-chat"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert (record.protocol, record.status, record.stream) == ("messages", 200, False)
    assert (record.prompt_tokens, record.completion_tokens) == (
        message.usage.input_tokens,
        message.usage.output_tokens,
    )
    account.refresh_from_db()
    assert account.balance == 100 * MICRO - record.cost and account.held == 0
    assert ledger_problems() == []


def test_messages_stream_emits_the_full_event_sequence(api, customer, claude):
    user, _, _ = customer
    kinds = []
    with claude().messages.stream(
        model="demo-chat", max_tokens=200, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop"} <= set(kinds)
    assert "message_delta" in kinds
    assert final.content[0].text.startswith("[demo]") and final.usage.output_tokens > 0
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert (record.protocol, record.stream, record.status) == ("messages", True, 200)
    assert record.completion_tokens == final.usage.output_tokens


def test_messages_tool_use_round_trip(api, customer, claude):
    client = claude()
    first = client.messages.create(
        model="demo-chat",
        max_tokens=500,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert call.type == "tool_use" and call.name == "get_weather" and "city" in call.input
    with client.messages.stream(
        model="demo-chat",
        max_tokens=500,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [call.model_dump()]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 °C"}
                ],
            },
        ],
    ) as stream:
        text = stream.get_final_text()
    assert text == "[demo] The tool returned: Sunny, 21 °C"
    streamed_call = None
    with client.messages.stream(
        model="demo-chat",
        max_tokens=500,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather?"}],
    ) as stream:
        streamed_call = stream.get_final_message().content[-1]
    assert streamed_call.type == "tool_use" and streamed_call.input == {"city": "demo city"}


def test_count_tokens_models_and_the_api_root(api, customer, claude):
    client = claude()
    count = client.messages.count_tokens(
        model="demo-chat", messages=[{"role": "user", "content": "Hello!"}]
    )
    assert count.input_tokens > 0
    models = client.models.list()
    assert "demo-chat" in [m.id for m in models.data]
    for path in ("/api", "/api/v1"):
        assert httpx.head(api.url + path).status_code == 200
        assert httpx.get(api.url + path).json()["name"] == "OpenCodex"


def test_messages_errors_in_anthropics_shape(api, customer, claude):
    with pytest.raises(anthropic.AuthenticationError) as exc:
        claude(secret="sk-live-nope").messages.create(
            model="demo-chat", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.body["type"] == "error"
    assert exc.value.body["error"]["type"] == "authentication_error"
    secret = customer[2]
    response = httpx.post(
        f"{api.url}/api/v1/messages?beta=true",
        headers={"x-api-key": secret, "anthropic-version": "2023-06-01"},
        json={"model": "demo-chat", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "'max_tokens' is required."},
        "request_id": response.headers["request-id"],
    }
    bad_block = {"role": "user", "content": [{"type": "hologram"}]}
    response = httpx.post(
        f"{api.url}/v1/messages",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "demo-chat", "max_tokens": 5, "messages": [bad_block]},
    )
    assert "messages[0].content[0].type" in response.json()["error"]["message"]
    orphan = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "?"}],
    }
    response = httpx.post(
        f"{api.url}/v1/messages",
        headers={"x-api-key": secret},
        json={"model": "demo-chat", "max_tokens": 5, "messages": [orphan]},
    )
    assert "tool_use_id" in response.json()["error"]["message"]
    with pytest.raises(anthropic.RateLimitError) as exc:
        claude().messages.create(
            model="fake-rate-limited", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.body["error"]["type"] == "rate_limit_error"
    assert exc.value.response.headers["retry-after"] == "1"


def test_402_is_a_billing_error(api, claude):
    user = UserFactory(verified=True)
    credits_grant(user_id=user.pk, amount=MICRO // 1000, kind="topup", reference="tiny")
    _, secret = make_key(user)
    with pytest.raises(anthropic.APIStatusError) as exc:
        claude(secret=secret).messages.create(
            model="demo-chat", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.status_code == 402
    assert exc.value.body["error"]["type"] == "billing_error"


def test_fifty_concurrent_streamed_messages_on_a_small_balance_never_overspend(api, client_for):
    user = UserFactory(verified=True)
    credits_grant(user_id=user.pk, amount=MICRO // 10, kind="topup", reference="small")
    _, secret = make_key(user)
    client = anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0)

    def call(_):
        try:
            with client.messages.stream(
                model="fake-exact-cost",
                max_tokens=100,
                messages=[{"role": "user", "content": "Hello!"}],
            ) as stream:
                return stream.get_final_message().usage.output_tokens
        except anthropic.APIStatusError as exc:
            return exc.status_code

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    assert 402 in results and 100 in results
    drain(api)
    account = Account.objects.get(user=user)
    assert account.balance >= 0 and account.held == 0
    assert ledger_problems() == []


# --- Responses ------------------------------------------------------------------------------


def test_responses_create_and_stream_with_the_openai_sdk(api, customer, client_for):
    user, _, secret = customer
    client = client_for(secret)
    response = client.responses.create(
        model="demo-chat", instructions="Be brief.", input="Hello!", store=False
    )
    assert response.output_text.startswith("[demo]") and response.status == "completed"
    assert response.usage.input_tokens > 0
    events = []
    with client.responses.stream(model="demo-chat", input="Hello again!") as stream:
        for event in stream:
            events.append(event.type)
        final = stream.get_final_response()
    assert events[:2] == ["response.created", "response.in_progress"]
    assert events[-1] == "response.completed" and "response.output_text.delta" in events
    assert final.output_text.startswith("[demo]")
    drain(api)
    records = UsageRecord.objects.filter(user=user).order_by("id")
    assert [(r.protocol, r.stream) for r in records] == [
        ("responses", False),
        ("responses", True),
    ]
    assert records[1].completion_tokens == final.usage.output_tokens


def test_responses_function_tools_round_trip(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret)
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": WEATHER["input_schema"],
            "strict": False,
        },
        {"type": "web_search"},  # hosted: dropped
    ]
    with client.responses.stream(
        model="demo-chat", input="Weather in Paris?", tools=tools, tool_choice="required"
    ) as stream:
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "demo city"}
    answer = client.responses.create(
        model="demo-chat",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"},
        ],
        tools=tools,
    )
    assert answer.output_text == "[demo] The tool returned: Sunny"


def test_responses_refuses_stored_state_naming_the_parameter(api, customer, client_for):
    _, _, secret = customer
    client = client_for(secret)
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="demo-chat", input="Hi", previous_response_id="resp_1")
    assert exc.value.body["param"] == "previous_response_id"
    assert "send the whole conversation" in exc.value.body["message"]
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(
            model="demo-chat", input=[{"type": "function_call_output", "call_id": "x"}]
        )
    assert exc.value.body["param"] == "input[0].call_id"


# --- pass-through to providers that speak the protocol natively -----------------------------

NATIVE_IN, NATIVE_OUT, NATIVE_READ, NATIVE_WRITE = 300, 1500, 30, 375  # µcr per token


def test_messages_pass_through_untranslated_and_charged_from_the_providers_usage(
    api, customer, claude
):
    user, account, _ = customer
    client = claude()
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(
        model="native",
        max_tokens=20_000,  # above the model's 8,192
        system=system,
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert message.content[0].text == "Native hello" and message.model == "native"
    sent = fake_upstream.received[-1]
    assert sent["path"] == "/v1/messages" and sent["system"] == system  # as the client sent it
    assert sent["model"] == "native-model" and sent["max_tokens"] == 8192
    headers = fake_upstream.headers_seen[-1]
    assert headers["x-api-key"] == "fake-upstream-key" and "authorization" not in headers
    assert headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    with client.messages.stream(
        model="native", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        assert stream.get_final_text() == "Native hello"
    drain(api)
    # 50 uncached + 1,000 read + 200 written input tokens, 12 output, each at its price.
    each = 50 * NATIVE_IN + 1000 * NATIVE_READ + 200 * NATIVE_WRITE + 12 * NATIVE_OUT
    records = list(UsageRecord.objects.filter(user=user))
    assert [(r.protocol, r.cost, r.cached_tokens, r.prompt_tokens) for r in records] == [
        ("messages", each, 1000, 1250)
    ] * 2
    account.refresh_from_db()
    assert account.balance == 100 * MICRO - 2 * each and account.held == 0
    assert ledger_problems() == []


def test_a_native_providers_error_passes_through_in_its_shape(api, customer, claude):
    with pytest.raises(anthropic.RateLimitError) as exc:
        claude().messages.create(
            model="native-limited", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.response.headers["retry-after"] == "7"
    assert "rate limit" in exc.value.body["error"]["message"]


def test_responses_pass_through_untranslated(api, customer, client_for):
    user, _, secret = customer
    client = client_for(secret)
    response = client.responses.create(
        model="native", input="Hi", previous_response_id=None, reasoning={"effort": "low"}
    )
    assert response.output_text == "Native hello" and response.model == "native"
    sent = fake_upstream.received[-1]
    assert sent["path"] == "/v1/responses" and sent["reasoning"] == {"effort": "low"}
    assert sent["store"] is False
    with client.responses.stream(model="native", input="Hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Native hello"
    drain(api)
    records = list(UsageRecord.objects.filter(user=user))
    each = 100 * NATIVE_IN + 800 * NATIVE_READ + 50 * NATIVE_OUT
    assert [(r.protocol, r.cost, r.reasoning_tokens) for r in records] == [
        ("responses", each, 20)
    ] * 2
    assert ledger_problems() == []


def test_messages_parse_gets_structured_output_from_a_chat_upstream(api, customer, claude):
    """client.messages.parse sends output_config.format; the translated request carries it as
    response_format, and the demo model answers JSON the SDK parses into the type."""
    import pydantic

    class City(pydantic.BaseModel):
        name: str
        population: int

    message = claude().messages.parse(
        model="demo-chat",
        max_tokens=200,
        messages=[{"role": "user", "content": "A city, as JSON."}],
        output_format=City,
    )
    assert isinstance(message.parsed_output, City)
    drain(api)
