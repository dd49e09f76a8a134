"""The demo model behaves like a real one for what SDK users try (through the official SDK)."""

import enum
import json
from typing import Literal

import pytest
from openai import OpenAI
from pydantic import BaseModel
from starlette.testclient import TestClient

from apps.gateway import demo


@pytest.fixture
def client():
    return OpenAI(
        api_key="x",
        base_url="http://demo/v1",
        http_client=TestClient(demo.app, base_url="http://demo"),
        max_retries=0,
    )


HELLO = [{"role": "user", "content": "Hello!"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Step(BaseModel):
    explanation: str
    output: float


class Answer(BaseModel):
    steps: list[Step]
    final: str
    colour: Colour
    confidence: int | None
    kind: Literal["maths", "chat"]
    when: str


def test_n_choices_plain_and_streamed(client):
    answer = client.chat.completions.create(model="m", messages=HELLO, n=3)
    texts = [c.message.content for c in answer.choices]
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert len(set(texts)) == 3 and all(t.startswith("[demo]") for t in texts)
    assert answer.usage.completion_tokens == sum(len(demo.WORD.findall(t)) for t in texts)
    streamed = {0: "", 1: "", 2: ""}
    for chunk in client.chat.completions.create(model="m", messages=HELLO, n=3, stream=True):
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
    assert list(streamed.values()) == texts


def test_parse_with_a_nested_pydantic_model(client):
    parsed = client.chat.completions.parse(model="m", messages=HELLO, response_format=Answer)
    answer = parsed.choices[0].message.parsed
    assert isinstance(answer, Answer) and answer.steps and answer.colour is Colour.RED
    assert answer.kind == "maths"


def test_json_mode_is_valid_json(client):
    answer = client.chat.completions.create(
        model="m", messages=HELLO, response_format={"type": "json_object"}
    )
    data = json.loads(answer.choices[0].message.content)
    assert data["demo"] is True and data["you_said"] == "Hello!"


@pytest.mark.parametrize(
    ("tool_choice", "called"),
    [
        ("required", "get_weather"),
        ({"type": "function", "function": {"name": "get_time"}}, "get_time"),
        ("auto", "get_weather"),
        (None, "get_weather"),
        ("none", None),
    ],
)
def test_tool_calls(client, tool_choice, called):
    kwargs = {"tool_choice": tool_choice} if tool_choice else {}
    answer = client.chat.completions.create(
        model="m", messages=HELLO, tools=[WEATHER, TIME], **kwargs
    )
    choice = answer.choices[0]
    if called is None:
        assert choice.finish_reason == "stop" and choice.message.content.startswith("[demo]")
        return
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == called
    arguments = json.loads(call.function.arguments)
    if called == "get_weather":
        assert arguments["unit"] in ("celsius", "fahrenheit") and 1 <= arguments["days"] <= 7
        assert set(arguments) == {"city", "unit", "days"}


def test_streamed_tool_call_arguments_come_in_pieces(client):
    chunks = list(
        client.chat.completions.create(
            model="m", messages=HELLO, tools=[WEATHER], tool_choice="required", stream=True
        )
    )
    pieces = [
        c.choices[0].delta.tool_calls[0]
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    ]
    assert pieces[0].id and pieces[0].function.name == "get_weather"
    assert len(pieces) > 3
    arguments = "".join(p.function.arguments or "" for p in pieces)
    assert json.loads(arguments)["unit"] == "celsius"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_tool_result_turn_is_answered_in_text(client):
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Sunny, 21 °C"},
    ]
    answer = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
    assert answer.choices[0].message.content == "[demo] The tool returned: Sunny, 21 °C"


def test_reasoning_stop_and_limits(client):
    answer = client.chat.completions.create(model="m", messages=HELLO, reasoning_effort="low")
    message = answer.choices[0].message
    assert message.model_extra["reasoning_content"] == demo.THINKING
    reasoning = answer.usage.completion_tokens_details.reasoning_tokens
    assert reasoning == len(demo.WORD.findall(demo.THINKING))
    assert answer.usage.completion_tokens == reasoning + len(demo.WORD.findall(message.content))
    stopped = client.chat.completions.create(model="m", messages=HELLO, stop=["demo model"])
    assert stopped.choices[0].message.content.endswith("OpenCodex's built-in ")
    assert stopped.choices[0].finish_reason == "stop"
    short = client.chat.completions.create(model="m", messages=HELLO, max_completion_tokens=3)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3
    usage = short.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_bad_input_is_a_400_in_openais_shape(client):
    http = TestClient(demo.app)
    response = http.post("/v1/chat/completions", content=b"{")
    assert response.status_code == 400 and "error" in response.json()
    response = http.post("/v1/chat/completions", json={"model": "m", "messages": HELLO, "n": 0})
    assert response.json()["error"]["param"] == "n"
