"""Translation unit tests for the OpenAI Responses protocol: every item and part type, errors
naming the field, and streams parsed by the openai SDK's own types and accumulator."""

import json

import openai
import pytest
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from apps.gateway.errors import ApiError
from apps.gateway.protocols import responses as r

EVENT = TypeAdapter(ResponseStreamEvent)
FUNCTION = {
    "type": "function",
    "name": "shell",
    "description": "Runs a command",
    "parameters": {"type": "object", "properties": {"command": {"type": "array"}}},
    "strict": False,
}

# What Codex CLI 0.17x sends, in short.
CODEX = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex.",
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "Sandbox: none"}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Make hello.txt"}],
        },
    ],
    "tools": [
        FUNCTION,
        {
            "type": "namespace",
            "name": "mcp__files",
            "tools": [{**FUNCTION, "name": "mcp__files__read"}],
        },
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Patch files",
            "format": {"type": "grammar"},
        },
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "session-1",
    "client_metadata": {"x": "y"},
}


def test_what_codex_sends():
    chat = r.to_chat(CODEX)
    assert [m["role"] for m in chat["messages"]] == ["system", "system", "user"]
    assert chat["messages"][0]["content"] == "You are Codex."
    assert chat["messages"][2]["content"] == "Make hello.txt"
    names = [t["function"]["name"] for t in chat["tools"]]
    assert names == [
        "shell",
        "mcp__files__read",
        "apply_patch",
    ]  # namespace flattened, hosted dropped
    assert chat["tools"][0]["function"]["strict"] is False
    assert chat["tools"][2]["function"]["parameters"]["required"] == ["input"]
    assert (chat["tool_choice"], chat["parallel_tool_calls"], chat["reasoning_effort"]) == (
        "auto",
        False,
        "medium",
    )
    assert chat["prompt_cache_key"] == "session-1"
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}


def test_every_item_and_part_type():
    chat = r.to_chat(
        {
            "model": "m",
            "max_output_tokens": 500,
            "temperature": 0.2,
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "out",
                    "schema": {"type": "object"},
                    "strict": True,
                }
            },
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "See "},
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,AAAA",
                            "detail": "high",
                        },
                        {
                            "type": "input_file",
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBE",
                        },
                    ],
                },
                {
                    "type": "reasoning",
                    # Not OpenAI's own (no encrypted_content): its summary goes back as reasoning.
                    "summary": [{"type": "summary_text", "text": "I should look."}],
                },
                {"role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "shell",
                    "arguments": '{"command": ["ls"]}',
                },
                {
                    "type": "function_call",
                    "call_id": "c2",
                    "name": "shell",
                    "arguments": '{"command": ["pwd"]}',
                },
                {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "/w"}],
                },
                {
                    "type": "custom_tool_call",
                    "call_id": "c3",
                    "name": "apply_patch",
                    "input": "*** Begin Patch",
                },
                {"type": "custom_tool_call_output", "call_id": "c3", "output": "Done"},
            ],
        }
    )
    messages = chat["messages"]
    assert messages[0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"},
    }
    assert messages[0]["content"][2]["file"]["filename"] == "a.pdf"
    assistant = messages[1]
    assert assistant["content"] == "Looking." and assistant["reasoning_content"] == "I should look."
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]  # merged into one turn
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}
    assert messages[3] == {"role": "tool", "tool_call_id": "c2", "content": "/w"}
    assert json.loads(messages[4]["tool_calls"][0]["function"]["arguments"]) == {
        "input": "*** Begin Patch"
    }
    assert messages[5]["content"] == "Done"
    assert chat["max_tokens"] == 500 and chat["temperature"] == 0.2
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"model": None}, "model"),
        ({"input": []}, "input"),
        ({"input": [{"type": "hologram"}]}, "input[0].type"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        (
            {"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]},
            "input[0].call_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_video"}]}]},
            "input[0].content[0].type",
        ),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 9}, "temperature"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(fields, param):
    with pytest.raises(ApiError) as exc:
        r.to_chat({"model": "m", "input": "hi", **fields})
    assert exc.value.status == 400 and exc.value.param == param


def test_from_chat_is_a_response_the_sdk_parses():
    chat = {
        "created": 1700000000,
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "content": "Running it.",
                    "reasoning_content": "Need a shell.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "shell", "arguments": '{"command":["ls"]}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {
                                "name": "apply_patch",
                                "arguments": '{"input":"*** Begin Patch"}',
                            },
                        },
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
    }
    response = Response.model_validate(r.from_chat(chat, model="m", request=CODEX))
    assert [i.type for i in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
    ]
    assert response.output_text == "Running it." and response.output[3].input == "*** Begin Patch"
    assert response.usage.input_tokens_details.cached_tokens == 60
    assert response.usage.output_tokens_details.reasoning_tokens == 5
    cut = r.from_chat(
        {"choices": [{"finish_reason": "length", "message": {"content": "x"}}]},
        model="m",
        request={},
    )
    assert cut["status"] == "incomplete" and cut["incomplete_details"] == {
        "reason": "max_output_tokens"
    }
    Response.model_validate(cut)


def chunk(delta=None, finish=None):
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}


def run_stream(chunks, request=None, finish_usage=None):
    stream = r.ResponsesStream(model="m", request=request or {"input": "x"})
    raw = stream.start() + b"".join(stream.feed(c) for c in chunks) + stream.finish(finish_usage)
    events = []
    for block in raw.decode().strip().split("\n\n"):
        kind, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}"
        events.append(EVENT.validate_python(payload))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    state = ResponseStreamState(input_tools=openai.omit, text_format=openai.omit)
    for event in events:
        state.handle_event(event)
    return events, events[-1].response


@pytest.mark.parametrize("interleaved", [False, True])
def test_stream_reasoning_text_and_parallel_calls_split_across_chunks(interleaved):
    a, b = json.dumps({"command": ["ls", "-la"]}), json.dumps({"command": ["cat", "README.md"]})
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": w}) for w in ("Look ", "first.")]
    chunks += [chunk({"content": w}) for w in ("Listing ", "files.")]
    heads = [
        chunk(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "shell", "arguments": ""},
                    }
                ]
            }
        )
        for i in (0, 1)
    ]
    pieces = {
        i: [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": s[j : j + 5]}}]})
            for j in range(0, len(s), 5)
        ]
        for i, s in ((0, a), (1, b))
    }
    if interleaved:
        chunks += heads + [p for pair in zip(pieces[0], pieces[1], strict=False) for p in pair]
        chunks += pieces[0][len(pieces[1]) :] + pieces[1][len(pieces[0]) :]
    else:
        chunks += [heads[0], *pieces[0], heads[1], *pieces[1]]
    chunks.append(chunk(finish="tool_calls"))
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    events, response = run_stream(chunks, finish_usage=usage)
    kinds = [e.type for e in events]
    assert (
        kinds[:2] == ["response.created", "response.in_progress"]
        and kinds[-1] == "response.completed"
    )
    assert (
        "response.reasoning_summary_text.delta" in kinds and "response.output_text.delta" in kinds
    )
    assert kinds.count("response.function_call_arguments.done") == 2
    output = response.output
    assert [i.type for i in output] == ["reasoning", "message", "function_call", "function_call"]
    assert response.output_text == "Listing files."
    assert [json.loads(i.arguments) for i in output[2:]] == [json.loads(a), json.loads(b)]
    assert [i.call_id for i in output[2:]] == ["call_0", "call_1"]
    assert response.usage.input_tokens_details.cached_tokens == 4


def test_a_custom_tool_call_streams_as_a_custom_tool_call_item():
    request = {"tools": [{"type": "custom", "name": "apply_patch"}]}
    arguments = json.dumps({"input": "*** Begin Patch\n*** End Patch"})
    chunks = [
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_p",
                        "function": {"name": "apply_patch", "arguments": arguments},
                    }
                ]
            }
        ),
        chunk(finish="tool_calls"),
    ]
    _, response = run_stream(chunks, request=request)
    assert response.output[0].type == "custom_tool_call"
    assert response.output[0].input == "*** Begin Patch\n*** End Patch"


def test_incomplete_and_failed():
    events, response = run_stream([chunk({"content": "cut"}), chunk(finish="length")])
    assert events[-1].type == "response.incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    stream = r.ResponsesStream(model="m", request={})
    stream.start()
    stream.feed(chunk({"content": "partial"}))
    raw = stream.failed(502, "The provider stopped")
    last = json.loads(raw.decode().strip().split("\n\n")[-1].split("\n")[1][6:])
    failed = EVENT.validate_python(last)
    assert (
        failed.type == "response.failed" and failed.response.error.message == "The provider stopped"
    )
