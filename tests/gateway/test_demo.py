"""The built-in demo model, driven directly (no gateway) by the official openai SDK: n choices,
structured outputs, tools, reasoning, stop, limits and usage, plain and streamed."""

import datetime
import enum
import json
from typing import Literal

import httpx2
import pytest
from openai import (
    BadRequestError,
    DefaultHttpxClient,
    LengthFinishReasonError,
    OpenAI,
    pydantic_function_tool,
)
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from apps.demo import upstream as demo

MODEL = "demo-chat"
HELLO = [{"role": "user", "content": "Hello there!"}]


@pytest.fixture(scope="module")
def http():
    with TestClient(demo.app, base_url="http://demo") as client:
        yield client


@pytest.fixture(scope="module")
def client(http):
    # The SDK gets its own HTTP client type; its transport hands each request to the app.
    def forward(request: httpx2.Request) -> httpx2.Response:
        answer = http.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx2.Response(
            answer.status_code, headers=answer.headers.raw, content=answer.content
        )

    transport = httpx2.MockTransport(forward)
    return OpenAI(
        api_key="x",
        base_url="http://demo/v1",
        http_client=DefaultHttpxClient(transport=transport),
        max_retries=0,
    )


def words(text: str) -> int:
    return len(demo.WORD.findall(text))


def by_choice(chunks) -> dict[int, str]:
    texts: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    return texts


# --- models the structured outputs and tools are checked against ------------------------------


class Color(enum.StrEnum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


class Item(BaseModel):
    name: str = Field(min_length=6)
    quantity: int = Field(ge=5, le=9)
    price: float = Field(gt=10.5)
    color: Color
    size: Size


class Address(BaseModel):
    street: str
    city: str | None


class Order(BaseModel):
    kind: Literal["order"]
    items: list[Item] = Field(min_length=2)
    shipping: Address
    note: str | None
    placed_on: datetime.date
    placed_at: datetime.datetime
    tags: list[str]
    urgent: bool
    parent: "Order | None"
    extras: dict[str, int] | None


class GetWeather(BaseModel):
    """Current weather in a city."""

    city: str
    unit: Literal["celsius", "fahrenheit"]
    days: int = Field(ge=1, le=7)


class Lookup(BaseModel):
    query: str
    limit: int | None


WEATHER = pydantic_function_tool(GetWeather, name="get_weather")
LOOKUP = pydantic_function_tool(Lookup, name="lookup")
PLAIN_TOOL = {  # not strict: optional fields, no additionalProperties, a $defs reference
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an email.",
        "parameters": {
            "type": "object",
            "properties": {
                "to": {"type": "string", "format": "email"},
                "subject": {"type": "string", "minLength": 10},
                "priority": {"$ref": "#/definitions/Priority"},
                "cc": {"type": ["array", "null"], "items": {"type": "string"}},
            },
            "required": ["to", "subject"],
            "definitions": {"Priority": {"type": "string", "enum": ["low", "high"]}},
        },
    },
}


class Email(BaseModel):
    model_config = {"extra": "forbid"}

    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]+$")
    subject: str = Field(min_length=10)
    priority: Literal["low", "high"] | None = None
    cc: list[str] | None = None


# --- plain text, n choices, usage ---------------------------------------------------------------


def test_plain_reply_is_deterministic_and_usage_is_like_openai(client):
    one = client.chat.completions.create(model=MODEL, messages=HELLO)
    two = client.chat.completions.create(model=MODEL, messages=HELLO)
    text = one.choices[0].message.content
    assert text.startswith("[demo] Hello from demo-chat") and "You said: Hello there!" in text
    assert text == two.choices[0].message.content
    assert one.choices[0].finish_reason == "stop" and one.choices[0].message.tool_calls is None
    usage = one.usage
    assert usage.completion_tokens == words(text)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens == demo.prompt_tokens(HELLO) == 3 + 3 + 3  # 12 bytes: 3 tokens
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_prompt_tokens_count_messages_tools_and_the_response_schema(client):
    base = client.chat.completions.create(model=MODEL, messages=HELLO).usage.prompt_tokens
    longer = [{"role": "system", "content": "Be brief."}, *HELLO]
    assert client.chat.completions.create(model=MODEL, messages=longer).usage.prompt_tokens == (
        base + 3 + 3
    )
    tools = client.chat.completions.create(
        model=MODEL, messages=HELLO, tools=[WEATHER], tool_choice="none"
    ).usage.prompt_tokens
    assert tools == base + -(-len(json.dumps([WEATHER], ensure_ascii=False).encode()) // 4)
    schema = client.chat.completions.parse(
        model=MODEL, messages=HELLO, response_format=GetWeather
    ).usage.prompt_tokens
    assert schema > base + 20


def test_n_choices_are_numbered_distinct_and_all_counted(client):
    response = client.chat.completions.create(model=MODEL, messages=HELLO, n=3)
    assert [c.index for c in response.choices] == [0, 1, 2]
    texts = [c.message.content for c in response.choices]
    assert (
        texts[0]
        == client.chat.completions.create(model=MODEL, messages=HELLO).choices[0].message.content
    )
    assert texts[1].startswith("[demo] (choice 2) Hello") and texts[2].startswith(
        "[demo] (choice 3)"
    )
    assert len(set(texts)) == 3
    assert all(c.finish_reason == "stop" for c in response.choices)
    assert response.usage.completion_tokens == sum(words(t) for t in texts)


def test_n_choices_stream_interleaved_with_usage_last(client):
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, n=3)
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            n=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert by_choice(chunks) == {i: c.message.content for i, c in enumerate(plain.choices)}
    assert [c.choices[0].index for c in chunks[:3]] == [0, 1, 2]  # the choices take turns
    finishes = {c.choices[0].index: c.choices[0].finish_reason for c in chunks if c.choices}
    assert finishes == {0: "stop", 1: "stop", 2: "stop"}
    assert chunks[-1].choices == [] and all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens


def test_stream_without_include_usage_sends_no_usage_chunk(http):
    response = http.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": HELLO, "stream": True}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(c["choices"] and "usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}


# --- stop, limits, reasoning --------------------------------------------------------------------


def test_stop_cuts_before_the_first_stop_string(client):
    full = client.chat.completions.create(model=MODEL, messages=HELLO).choices[0].message.content
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, stop=["locally", "You said"]
    )
    text = response.choices[0].message.content
    assert text == full[: full.index("You said")]
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == words(text)
    streamed = client.chat.completions.create(model=MODEL, messages=HELLO, stop="demo", stream=True)
    assert by_choice(streamed) == {0: "["}


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_output_limits_cut_the_reply_and_say_length(client, limit):
    response = client.chat.completions.create(model=MODEL, messages=HELLO, n=2, **{limit: 5})
    for choice in response.choices:
        assert choice.finish_reason == "length" and words(choice.message.content) == 5
    assert response.usage.completion_tokens == 10
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=HELLO, stream=True, **{limit: 4})
    )
    assert words(by_choice(chunks)[0]) == 4 and chunks[-1].choices[0].finish_reason == "length"


def test_the_smaller_of_both_limits_applies(client):
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=7, max_completion_tokens=3
    )
    assert response.usage.completion_tokens == 3


def test_reasoning_effort_thinks_first_and_counts_it(client):
    plain = client.chat.completions.create(model=MODEL, messages=HELLO)
    response = client.chat.completions.create(model=MODEL, messages=HELLO, reasoning_effort="low")
    message = response.choices[0].message
    reasoning = message.model_extra["reasoning_content"]
    assert (
        reasoning.startswith("Thinking with low effort")
        and message.content == plain.choices[0].message.content
    )
    usage = response.usage
    assert usage.completion_tokens_details.reasoning_tokens == words(reasoning) > 5
    assert usage.completion_tokens == words(reasoning) + words(message.content)

    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            reasoning_effort="low",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    thought = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert thought == reasoning
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    last_thought = max(
        i for i, d in enumerate(deltas) if (d.model_extra or {}).get("reasoning_content")
    )
    assert last_thought < first_content
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == words(reasoning)

    none = client.chat.completions.create(model=MODEL, messages=HELLO, reasoning_effort="none")
    assert "reasoning_content" not in (none.choices[0].message.model_extra or {})


def test_reasoning_counts_against_the_output_limit(client):
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, reasoning_effort="high", max_completion_tokens=3
    )
    choice = response.choices[0]
    assert choice.finish_reason == "length" and choice.message.content == ""
    assert words(choice.message.model_extra["reasoning_content"]) == 3
    assert (
        response.usage.completion_tokens
        == response.usage.completion_tokens_details.reasoning_tokens
        == 3
    )


# --- structured outputs -------------------------------------------------------------------------


def check_order(order: Order) -> None:
    assert order.kind == "order" and len(order.items) >= 2
    item = order.items[0]
    assert len(item.name) >= 6 and 5 <= item.quantity <= 9 and item.price > 10.5
    assert item.color is Color.RED and item.size is Size.SMALL
    assert order.parent is None or order.parent.parent is None  # recursion stops


@pytest.mark.parametrize("beta", [False, True])
def test_parse_with_a_nested_pydantic_model(client, beta):
    completions = client.beta.chat.completions if beta else client.chat.completions
    response = completions.parse(model=MODEL, messages=HELLO, response_format=Order, n=2)
    orders = [c.message.parsed for c in response.choices]
    for order in orders:
        assert isinstance(order, Order)
        check_order(order)
    assert orders[0].shipping.street == "demo street"
    assert orders[1].shipping.street == "demo street 2"
    assert response.usage.completion_tokens == sum(
        words(c.message.content) for c in response.choices
    )


def test_parse_streamed_with_the_sdk_helper(client):
    with client.chat.completions.stream(
        model=MODEL, messages=HELLO, response_format=Order, reasoning_effort="medium"
    ) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    check_order(final.choices[0].message.parsed)
    assert any(e.type == "content.done" for e in events)


def test_parse_refuses_a_cut_off_answer_like_openai(client):
    with pytest.raises(LengthFinishReasonError):
        client.chat.completions.parse(
            model=MODEL, messages=HELLO, response_format=Order, max_tokens=5
        )


def test_json_mode_answers_a_json_object(client):
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, response_format={"type": "json_object"}, n=2
    )
    first, second = (json.loads(c.message.content) for c in response.choices)
    assert first == {"demo": True, "model": MODEL, "you_said": "Hello there!"}
    assert second == {**first, "choice": 2}


def test_a_json_schema_without_pydantic(client):
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "exclusiveMinimum": 100, "multipleOf": 7},
            "ratio": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "site": {"type": "string", "format": "uri"},
            "status": {"const": "ok"},
            "anything": {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
            "nothing": {"type": "null"},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            "node": {"$ref": "#/$defs/Node"},
        },
        "required": ["id"],
        "additionalProperties": False,
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"allOf": [{"$ref": "#/$defs/Value"}, {"minimum": 3}]},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["value", "children"],
            },
            "Value": {"type": "integer"},
        },
    }
    response = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "thing", "schema": schema, "strict": True},
        },
    )
    assert json.loads(response.choices[0].message.content) == {
        "id": 105,
        "ratio": 0.5,
        "when": "2025-01-01T12:00:00Z",
        "site": "https://example.com/demo",
        "status": "ok",
        "anything": True,
        "nothing": None,
        "pair": [1, "demo pair"],
        "node": {"value": 3, "children": []},
    }


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "enum": ["b", "a"]}, "b"),
        ({"type": "string", "minLength": 12, "maxLength": 13}, "demo valueoo"),
        ({"type": "string", "maxLength": 6}, "demo v"),
        ({"type": "string", "format": "date"}, "2025-01-01"),
        ({"type": "string", "format": "email"}, "demo@example.com"),
        ({"type": "integer", "minimum": -10, "maximum": -3}, -3),
        ({"type": "integer", "exclusiveMaximum": 0}, -1),
        ({"type": "number", "exclusiveMinimum": 2.5}, 3.5),
        ({"type": "number", "minimum": 1, "maximum": 1.2}, 1.1),
        ({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.5),
        ({"type": "boolean"}, True),
        ({"type": ["null", "integer"]}, 1),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 3}, [True, True, True]),
        ({"type": "array", "maxItems": 0}, []),
        ({"anyOf": [{"$ref": "#"}, {"type": "null"}]}, None),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, {"demo": 1}),
        ({"type": "object", "required": ["x"]}, {"x": "demo x"}),
        ({}, "demo value"),
    ],
)
def test_schema_instances(schema, expected):
    assert demo.schema_instance(schema) == expected


# --- tools --------------------------------------------------------------------------------------


def test_required_tool_choice_calls_the_first_tool_with_valid_arguments(client):
    response = client.chat.completions.parse(
        model=MODEL, messages=HELLO, tools=[WEATHER, LOOKUP], tool_choice="required"
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_demo") and call.type == "function"
    assert call.function.name == "get_weather"
    weather = GetWeather.model_validate_json(call.function.arguments)
    assert call.function.parsed_arguments == weather
    assert weather == GetWeather(city="demo city", unit="celsius", days=1)
    usage = response.usage
    pieces = -(-len(call.function.arguments) // demo.ARGUMENT_PIECE)
    assert usage.completion_tokens == 1 + pieces


def test_a_named_function_is_called_even_after_a_tool_result(client):
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
    ]
    response = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[WEATHER, PLAIN_TOOL],
        tool_choice={"type": "function", "function": {"name": "send_email"}},
        n=2,
    )
    calls = [c.message.tool_calls[0] for c in response.choices]
    assert {c.function.name for c in calls} == {"send_email"}
    assert calls[0].id != calls[1].id
    email = Email.model_validate_json(calls[0].function.arguments)
    assert email.to == "demo@example.com" and email.priority == "low" and email.cc == ["demo cc"]
    assert json.loads(calls[1].function.arguments)["subject"] == "demo subject 2"


def test_auto_calls_a_tool_the_user_names_and_answers_its_result(client):
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, tools=[LOOKUP, WEATHER])
    assert plain.choices[0].finish_reason == "stop"  # no tool named: no tool run
    assert plain.choices[0].message.tool_calls is None
    ask = [{"role": "user", "content": "Please use lookup for the docs."}]
    first = client.chat.completions.create(model=MODEL, messages=ask, tools=[LOOKUP, WEATHER])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    call = message.tool_calls[0]
    assert call.function.name == "lookup"
    assert Lookup.model_validate_json(call.function.arguments) == Lookup(
        query="demo query", limit=1
    )

    follow_up = [
        *ask,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"results": ["a", "b"]}'},
    ]
    second = client.chat.completions.create(
        model=MODEL, messages=follow_up, tools=[LOOKUP, WEATHER], tool_choice="auto"
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == '[demo] The tool returned: {"results": ["a", "b"]}'
    assert second.choices[0].message.tool_calls is None
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


def test_allowed_tools_restrict_the_choice_and_custom_tools_are_never_called(client):
    custom = {"type": "custom", "custom": {"name": "shell"}}
    response = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        tools=[custom, LOOKUP, WEATHER],
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required",
                "tools": [{"type": "function", "function": {"name": "get_weather"}}],
            },
        },
    )
    assert response.choices[0].message.tool_calls[0].function.name == "get_weather"
    ask = [{"role": "user", "content": "Run lookup, or shell."}]
    auto = client.chat.completions.create(model=MODEL, messages=ask, tools=[custom, LOOKUP])
    assert auto.choices[0].message.tool_calls[0].function.name == "lookup"


def test_tool_choice_none_answers_in_text(client):
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, tools=[WEATHER], tool_choice="none"
    )
    assert response.choices[0].message.content.startswith("[demo] Hello")
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].finish_reason == "stop"


def test_streamed_tool_call_arrives_like_openai(client):
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            tools=[WEATHER],
            tool_choice="required",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    head = deltas[0].tool_calls[0]
    assert deltas[0].role == "assistant" and deltas[0].content is None
    assert (head.index, head.type, head.function.name, head.function.arguments) == (
        0,
        "function",
        "get_weather",
        "",
    )
    assert head.id.startswith("call_demo")
    pieces = [d.tool_calls[0].function.arguments for d in deltas[1:] if d.tool_calls]
    assert len(pieces) > 3 and all(0 < len(p) <= 8 for p in pieces)
    assert all(d.tool_calls[0].id is None for d in deltas[1:] if d.tool_calls)
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    weather = GetWeather.model_validate_json("".join(pieces))
    assert weather.city == "demo city"
    assert chunks[-1].usage.completion_tokens == 1 + len(pieces)


def test_streamed_tool_call_through_the_sdk_stream_helper(client):
    with client.chat.completions.stream(
        model=MODEL,
        messages=HELLO,
        tools=[LOOKUP, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        reasoning_effort="low",
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and final.choices[0].finish_reason == "tool_calls"
    assert isinstance(call.function.parsed_arguments, GetWeather)
    assert done and done[0].parsed_arguments == call.function.parsed_arguments
    reasoning = final.choices[0].message.model_extra["reasoning_content"]
    assert "calls get_weather" in reasoning


def test_a_tool_call_cut_by_the_limit_says_length(client):
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, tools=[WEATHER], tool_choice="required", max_tokens=3
    )
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert len(choice.message.tool_calls[0].function.arguments) == 2 * demo.ARGUMENT_PIECE
    assert response.usage.completion_tokens == 3


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": MODEL}, None),
        ({"model": MODEL, "messages": HELLO, "n": 0}, "n"),
        ({"model": MODEL, "messages": HELLO, "n": "2"}, "n"),
        ({"model": MODEL, "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        (
            {"model": MODEL, "messages": HELLO, "max_completion_tokens": 1.5},
            "max_completion_tokens",
        ),
        ({"model": MODEL, "messages": HELLO, "stop": [1]}, "stop"),
        ({"model": MODEL, "messages": HELLO, "reasoning_effort": "huge"}, "reasoning_effort"),
        (
            {"model": MODEL, "messages": HELLO, "response_format": {"type": "xml"}},
            "response_format",
        ),
        (
            {
                "model": MODEL,
                "messages": HELLO,
                "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
            },
            "response_format.json_schema",
        ),
        (
            {
                "model": MODEL,
                "messages": HELLO,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"$ref": "#/$defs/Missing"}},
                },
            },
            "response_format",
        ),
        ({"model": MODEL, "messages": HELLO, "tools": [{"type": "function"}]}, "tools[0]"),
        ({"model": MODEL, "messages": HELLO, "tool_choice": "required"}, "tool_choice"),
        (
            {
                "model": MODEL,
                "messages": HELLO,
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
            "tool_choice",
        ),
    ],
)
def test_bad_input_is_a_400_in_openais_shape(http, body, param):
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param


def test_the_sdk_raises_bad_request(client, http):
    with pytest.raises(BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, n=500)
    assert caught.value.param == "n"
    response = http.post("/v1/chat/completions", content=b"{nope")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
