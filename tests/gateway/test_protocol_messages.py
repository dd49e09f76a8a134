"""Translation unit tests for the Anthropic Messages protocol: every block type, errors naming
the field, and streams parsed and accumulated by the anthropic SDK's own types."""

import json

import anthropic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from pydantic import TypeAdapter

from apps.gateway.errors import ApiError
from apps.gateway.protocols import messages as m

EVENT = TypeAdapter(anthropic.types.RawMessageStreamEvent)
PNG = "iVBORw0KGgo="


def body(**fields):
    return {
        "model": "claude",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def test_system_as_text_or_blocks_and_system_messages_in_place():
    chat = m.to_chat(
        body(
            system=[
                {"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "B"},
            ]
        )
    )
    assert chat["messages"][0] == {"role": "system", "content": "A\n\nB"}
    chat = m.to_chat(
        body(
            system="S",
            messages=[{"role": "system", "content": "inner"}, {"role": "user", "content": "hi"}],
        )
    )
    assert [x["role"] for x in chat["messages"]] == ["system", "system", "user"]
    assert chat["max_tokens"] == 100 and "stream" not in chat


def test_every_content_block_type():
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look: "},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": "JVBERg==",
                    },
                    "title": "report",
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xxx"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "read", "input": {"path": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "is_error": True,
                    "content": [
                        {"type": "text", "text": "no such file"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                    ],
                },
                {"type": "text", "text": "Go on."},
            ],
        },
    ]
    chat = m.to_chat(body(messages=messages))["messages"]
    user = chat[0]["content"]
    assert user[0] == {"type": "text", "text": "Look: "}
    assert user[1]["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert user[2]["image_url"]["url"] == "https://x/cat.png"
    assert user[3] == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERg=="},
    }
    assert user[4] == {"type": "text", "text": "plain doc"}
    assistant = chat[1]
    assert assistant["content"] == "Checking." and assistant["reasoning_content"] == "Let me see."
    assert [c["id"] for c in assistant["tool_calls"]] == ["toolu_1", "toolu_2"]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"path": "a"}
    # Tool results first (right after the calls), then the user's own content with the images.
    assert chat[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "A"}
    assert chat[3] == {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no such file"}
    assert chat[4]["role"] == "user"
    assert chat[4]["content"][0] == {"type": "text", "text": "Go on."}
    assert chat[4]["content"][1]["type"] == "image_url"


def test_tools_choice_and_parameters():
    chat = m.to_chat(
        body(
            tools=[
                {
                    "name": "f",
                    "description": "d",
                    "input_schema": {"type": "object"},
                    "cache_control": {"type": "ephemeral"},
                },
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                {"type": "bash_20250124", "name": "bash"},
            ],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
            stop_sequences=["END"],
            temperature=0.5,
            top_p=0.9,
            top_k=40,
            metadata={"user_id": "u1"},
            thinking={"type": "enabled", "budget_tokens": 10000},
            context_management={"edits": []},
            output_config={"format": None},
            stream=True,
        )
    )
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "description": "d"},
        }
    ]
    assert chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False
    assert (chat["stop"], chat["temperature"], chat["top_p"], chat["top_k"]) == (
        ["END"],
        0.5,
        0.9,
        40,
    )
    assert chat["user"] == "u1" and chat["reasoning_effort"] == "medium"
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    for choice, expected in [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ]:
        assert m.to_chat(body(tools=tools, tool_choice=choice))["tool_choice"] == expected


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "hologram"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope"}]}
                ]
            },
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            },
            "messages[0].content[0].source.type",
        ),
        ({"temperature": 3}, "temperature"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        (
            {"tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "maybe"}},
            "tool_choice",
        ),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"system": [{"type": "image"}]}, "system[0]"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(fields, param):
    request = body(**fields)
    if fields.get("max_tokens", 1) is None:
        del request["max_tokens"]
    with pytest.raises(ApiError) as exc:
        m.to_chat(request)
    assert exc.value.status == 400 and exc.value.param == param
    assert param in exc.value.message


def test_from_chat_is_a_message_the_sdk_parses():
    chat = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "reasoning_content": "Thinking.",
                    "content": "Calling.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "g", "arguments": "not json"},
                        },
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 80},
        },
    }
    message = anthropic.types.Message.model_validate(m.from_chat(chat, model="claude"))
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[2].input == {"a": 1} and message.content[3].input == {"_raw": "not json"}
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (20, 80, 20)


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_stop_reasons(finish, reason):
    chat = {"choices": [{"message": {"content": "x"}, "finish_reason": finish}]}
    assert m.from_chat(chat, model="c")["stop_reason"] == reason


def chunk(delta=None, finish=None, usage=None):
    event = {
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
        if delta is not None or finish
        else []
    }
    if usage:
        event["usage"] = usage
    return event


def run_stream(chunks, **kwargs):
    """Feed chunks; return the parsed events and the message the SDK accumulates from them."""
    stream = m.MessagesStream(model="claude", input_tokens=12, **kwargs)
    raw = (
        stream.start() + stream.ping() + b"".join(stream.feed(c) for c in chunks) + stream.finish()
    )
    events = []
    for block in raw.decode().strip().split("\n\n"):
        kind, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}"
        events.append(
            payload["type"] if payload["type"] == "ping" else EVENT.validate_python(payload)
        )
    assert_block_discipline(events)
    snapshot, buffers = None, {}
    for event in events:
        if event != "ping":
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    return events, snapshot, stream


def assert_block_discipline(events):
    """Anthropic's streaming format: one block at a time, start, its deltas, its stop; indexes
    0, 1, 2… in order; nothing for a block after its stop."""
    open_index, next_index = None, 0
    for event in events:
        kind = getattr(event, "type", event)
        if kind == "content_block_start":
            assert open_index is None, f"block {event.index} starts while {open_index} is open"
            assert event.index == next_index
            open_index, next_index = event.index, next_index + 1
        elif kind == "content_block_delta":
            assert event.index == open_index, f"a delta for {event.index}, open: {open_index}"
        elif kind == "content_block_stop":
            assert event.index == open_index
            open_index = None
        elif kind in ("message_delta", "message_stop", "error"):
            assert open_index is None, f"{kind} while block {open_index} is open"


def test_stream_thinking_text_and_a_tool_call_split_across_many_chunks():
    arguments = json.dumps({"path": "notes/a.txt", "content": "hello world " * 5})
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": w}) for w in ("Let ", "me ", "think.")]
    chunks += [chunk({"content": w}) for w in ("I'll ", "write ", "it.")]
    chunks.append(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "Write", "arguments": ""},
                    }
                ]
            }
        )
    )
    chunks += [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 3]}}]})
        for i in range(0, len(arguments), 3)
    ]
    chunks.append(chunk(finish="tool_calls"))
    chunks.append(
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 50,
                "completion_tokens": 40,
                "prompt_tokens_details": {"cached_tokens": 30},
            },
        }
    )
    events, message, stream = run_stream(chunks)
    kinds = [e if e == "ping" else e.type for e in events]
    assert (
        kinds[0] == "message_start"
        and kinds[1] == "ping"
        and kinds[-2:] == ["message_delta", "message_stop"]
    )
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert (
        message.content[0].thinking == "Let me think."
        and message.content[1].text == "I'll write it."
    )
    assert message.content[2].id == "call_9" and message.content[2].input == json.loads(arguments)
    assert message.stop_reason == "tool_use"
    assert (
        message.usage.input_tokens,
        message.usage.cache_read_input_tokens,
        message.usage.output_tokens,
    ) == (20, 30, 40)
    starts = [e.index for e in events[2:] if e.type == "content_block_start"]
    stops = [e.index for e in events[2:] if e.type == "content_block_stop"]
    assert starts == stops == [0, 1, 2]
    assert "".join(stream.delivered_text).endswith(arguments)


@pytest.mark.parametrize("interleaved", [False, True])
def test_parallel_tool_calls(interleaved):
    a, b = json.dumps({"city": "Paris"}), json.dumps({"tz": "Europe/Paris"})
    heads = [
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c0",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "time", "arguments": ""},
                    }
                ]
            }
        ),
    ]
    pieces = {
        i: [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": s[j : j + 4]}}]})
            for j in range(0, len(s), 4)
        ]
        for i, s in ((0, a), (1, b))
    }
    if interleaved:
        chunks = heads + [p for pair in zip(pieces[0], pieces[1], strict=False) for p in pair]
        chunks += pieces[0][len(pieces[1]) :] + pieces[1][len(pieces[0]) :]
    else:
        chunks = [heads[0], *pieces[0], heads[1], *pieces[1]]
    _, message, _ = run_stream([*chunks, chunk(finish="tool_calls")])
    assert [(c.name, c.input) for c in message.content] == [
        ("weather", json.loads(a)),
        ("time", json.loads(b)),
    ]


def test_two_calls_numbered_with_the_same_index_stay_two_tool_use_blocks():
    def call(index, call_id, name, arguments):
        function = {"arguments": arguments, **({"name": name} if name else {})}
        head = {"index": index, "function": function}
        if call_id:
            head.update(id=call_id, type="function")
        return chunk({"tool_calls": [head]})

    chunks = [
        call(0, "a", "read", '{"path": '),
        call(0, None, None, '"x"}'),
        call(0, "b", "write", '{"path": "y"'),  # the same index, a new id: a second call
        call(0, None, None, "}"),
        chunk(finish="tool_calls"),
    ]
    _, message, _ = run_stream(chunks)
    assert [(c.id, c.name, c.input) for c in message.content] == [
        ("a", "read", {"path": "x"}),
        ("b", "write", {"path": "y"}),
    ]


def test_text_after_a_tool_call_and_interleaved_calls_keep_one_block_at_a_time():
    def head(index, call_id, name):
        function = {"name": name, "arguments": ""}
        return chunk({"tool_calls": [{"index": index, "id": call_id, "function": function}]})

    def piece(index, text):
        return chunk({"tool_calls": [{"index": index, "function": {"arguments": text}}]})

    chunks = [
        chunk({"content": "Two calls:"}),
        head(0, "c0", "one"),
        head(1, "c1", "two"),
        piece(1, '{"b"'),
        piece(0, '{"a"'),
        chunk({"content": " (and a note)"}),
        piece(1, ": 2}"),
        piece(0, ": 1}"),
        chunk(finish="tool_calls"),
    ]
    _, message, stream = run_stream(chunks)
    assert [c.type for c in message.content] == ["text", "tool_use", "tool_use", "text"]
    assert message.content[1].input == {"a": 1} and message.content[2].input == {"b": 2}
    assert message.content[3].text == " (and a note)"
    assert "".join(stream.delivered_text).count("(and a note)") == 1


def test_stream_error_event():
    stream = m.MessagesStream(model="claude")
    stream.start()
    stream.feed(chunk({"content": "partial"}))
    raw = stream.error(529, "Overloaded")
    blocks = raw.decode().strip().split("\n\n")
    assert blocks[-1].startswith("event: error")
    error = json.loads(blocks[-1].split("\n")[1][6:])
    assert error == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_errors_and_models_in_anthropics_shape():
    assert json.loads(m.error_body(ApiError(402, "Top up"))) == {
        "type": "error",
        "error": {"type": "billing_error", "message": "Top up"},
    }
    assert [m.error_type(s) for s in (400, 401, 403, 404, 429, 500, 503)] == [
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
    ]
    listed = m.models_list(
        [{"id": "a", "created": 0}, {"id": "b", "display_name": "B", "created": 1700000000}]
    )
    page = listed
    assert page["first_id"] == "a" and page["last_id"] == "b" and page["has_more"] is False
    for model in page["data"]:
        anthropic.types.ModelInfo.model_validate(model)


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "high"), ("max", "high")],
)
def test_every_effort_level_reaches_a_chat_upstream(effort, expected):
    payload = m.to_chat(body(output_config={"effort": effort}))
    assert payload["reasoning_effort"] == expected


def test_structured_outputs_become_the_chat_upstreams_response_format():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    for fields in (
        {"output_config": {"format": {"type": "json_schema", "schema": schema}}},
        {"output_format": {"type": "json_schema", "schema": schema}},  # the beta's spelling
    ):
        payload = m.to_chat(body(**fields))
        assert payload["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }
    with pytest.raises(ApiError) as exc:
        m.to_chat(body(output_config={"format": {"type": "xml"}}))
    assert exc.value.param == "output_config.format.type"
