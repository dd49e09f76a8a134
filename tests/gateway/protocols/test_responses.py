"""The Responses API translation (apps.gateway.protocols.responses), as pure functions: requests
to chat completions, chat completions and their chunks back to Responses objects and events,
checked against the openai SDK's own types and stream accumulator."""

import json

import httpx2
import openai
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent, ResponseUsage
from pydantic import TypeAdapter

from apps.gateway.errors import ApiError, bad_request
from apps.gateway.protocols import responses as rp

EVENT = TypeAdapter(ResponseStreamEvent)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF',
    },
}
PATCH = "*** Begin Patch\n*** Update File: README.md\n@@\n+hello\n*** End Patch\n"


def chat_body(**fields) -> dict:
    return rp.to_chat({"model": "demo", **fields})


def refused(body) -> ApiError:
    with pytest.raises(ApiError) as caught:
        rp.to_chat(body)
    assert caught.value.status == 400
    return caught.value


def call_item(call_id="call_1", name="get_weather", arguments='{"city":"Paris"}', **extra):
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        **extra,
    }


def output_item(call_id="call_1", output="Sunny"):
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def user(text="Weather in Paris?"):
    return {"role": "user", "content": text}


# --- to_chat: input ----------------------------------------------------------------------------


def test_a_string_input_is_one_user_message_after_the_instructions():
    assert chat_body(instructions="Be brief.", input="Hello!") == {
        "model": "demo",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello!"},
        ],
    }


def test_messages_of_every_role_with_string_or_text_parts():
    body = chat_body(
        input=[
            {"type": "message", "role": "developer", "content": "Rules."},
            {"role": "system", "content": [{"type": "input_text", "text": "More rules."}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "First."},
                    {"type": "input_text", "text": "Second."},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Answer.", "annotations": []}],
                "status": "completed",
                "id": "msg_1",
            },
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
            {"role": "user", "content": []},
        ]
    )
    assert body["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "system", "content": "More rules."},
        {"role": "user", "content": "First.\n\nSecond."},
        {"role": "assistant", "content": "Answer."},
        {"role": "assistant", "content": "I can't."},
        {"role": "user", "content": ""},
    ]


def test_images_and_files_become_chat_parts():
    body = chat_body(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,iVBO",
                        "detail": "high",
                    },
                    {"type": "input_image", "file_id": "file-1", "detail": "original"},
                    {
                        "type": "input_file",
                        "filename": "a.pdf",
                        "file_data": "data:application/pdf;base64,JVBE",
                    },
                    {"type": "input_file", "file_id": "file-2"},
                ],
            }
        ]
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "file-1"}},
        {
            "type": "file",
            "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
        },
        {"type": "file", "file": {"filename": "file", "file_id": "file-2"}},
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "input_image"}, "input[0].content[1].image_url"),
        ({"type": "input_image", "image_url": 5}, "input[0].content[1].image_url"),
        ({"type": "input_image", "image_url": "u", "detail": 1}, "input[0].content[1].detail"),
        ({"type": "input_file", "filename": "a.pdf"}, "input[0].content[1].file_data"),
        ({"type": "input_file", "file_url": "https://x/a.pdf"}, "input[0].content[1].file_url"),
        ({"type": "input_text"}, "input[0].content[1].text"),
        ({"type": "input_text", "text": 1}, "input[0].content[1].text"),
        ({"type": "refusal"}, "input[0].content[1].refusal"),
        ({"type": "input_video", "url": "x"}, "input[0].content[1].type"),
        ({"text": "no type"}, "input[0].content[1].type"),
        ("just a string", "input[0].content[1]"),
    ],
)
def test_bad_content_parts_are_named(part, param):
    error = refused(
        {
            "model": "demo",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}, part]}],
        }
    )
    assert error.param == param
    assert param in error.message


def test_only_user_messages_hold_images():
    image = {"type": "input_image", "image_url": "https://x/cat.png"}
    for role in ("assistant", "system", "developer"):
        error = refused(
            {
                "model": "demo",
                "input": [{"role": role, "content": [{"type": "output_text", "text": "a"}, image]}],
            }
        )
        assert error.param == "input[0].content[1].type"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ("hello", "input[0]"),
        ({"role": "moderator", "content": "x"}, "input[0].role"),
        ({"type": "message", "content": "x"}, "input[0].role"),
        ({"role": "user"}, "input[0].content"),
        ({"role": "user", "content": 5}, "input[0].content"),
        ({"type": "function_call", "name": "f", "arguments": "{}"}, "input[0].call_id"),
        ({"type": "function_call", "call_id": "c", "arguments": "{}"}, "input[0].name"),
        ({"type": "function_call", "call_id": "c", "name": "f"}, "input[0].arguments"),
        (
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": {}},
            "input[0].arguments",
        ),
        ({"type": "custom_tool_call", "call_id": "c", "name": "f"}, "input[0].input"),
        ({"type": "reasoning", "summary": "thinking"}, "input[0].summary"),
        ({"type": "hologram", "data": 1}, "input[0].type"),
        ({"type": 7}, "input[0].type"),
        ({"type": ["message"], "role": "user", "content": "x"}, "input[0].type"),
        ({"type": "item_reference", "id": "msg_1"}, "input[0]"),
    ],
)
def test_bad_items_are_named(item, param):
    error = refused({"model": "demo", "input": [item, user()]})
    assert error.param == param
    assert param in error.message


def test_item_references_ask_for_the_whole_conversation():
    error = refused({"model": "demo", "input": [{"type": "item_reference", "id": "msg_1"}]})
    assert "send the item itself" in error.message and error.code == "unsupported_parameter"


def test_function_calls_and_outputs_become_tool_calls_and_tool_messages():
    body = chat_body(
        input=[
            user(),
            call_item(id="fc_1", status="completed"),
            output_item(),
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    ]


def test_consecutive_calls_make_one_assistant_message_and_join_its_text():
    body = chat_body(
        input=[
            user("Weather in Paris and Rome?"),
            {"role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            call_item("call_1"),
            call_item("call_2", arguments='{"city":"Rome"}'),
            output_item("call_1", "Sunny"),
            output_item("call_2", "Rainy"),
            call_item("call_3", arguments='{"city":"Oslo"}'),
            output_item("call_3", "Snow"),
            {"role": "assistant", "content": "Sunny, rainy and snowy."},
        ]
    )
    messages = body["messages"]
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert messages[1]["content"] == "Checking."
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["call_1", "call_2"]
    assert messages[4]["content"] is None and [c["id"] for c in messages[4]["tool_calls"]] == [
        "call_3"
    ]
    assert [m.get("tool_call_id") for m in messages if m["role"] == "tool"] == [
        "call_1",
        "call_2",
        "call_3",
    ]


def test_an_output_after_other_messages_moves_right_after_its_call():
    body = chat_body(
        input=[
            user(),
            call_item("call_1"),
            call_item("call_2", arguments='{"city":"Rome"}'),
            output_item("call_2", "Rainy"),
            {"role": "assistant", "content": "Waiting for Paris."},
            output_item("call_1", "Sunny"),
        ]
    )
    messages = body["messages"]
    assert [(m["role"], m.get("tool_call_id")) for m in messages] == [
        ("user", None),
        ("assistant", None),
        ("tool", "call_2"),
        ("tool", "call_1"),
        ("assistant", None),
    ]


def test_an_output_without_its_call_is_refused_naming_it():
    error = refused({"model": "demo", "input": [user(), output_item("call_9")]})
    assert error.param == "input[1].call_id"
    assert "call_9" in error.message and "send the whole conversation" in error.message
    error = refused({"model": "demo", "input": [{"type": "function_call_output", "call_id": "x"}]})
    assert error.param == "input[0].call_id"
    error = refused({"model": "demo", "input": [user(), {"type": "function_call_output"}]})
    assert error.param == "input[1].call_id" and error.code == "missing_field"


def test_a_call_without_its_output_is_refused_naming_it():
    error = refused({"model": "demo", "input": [user(), call_item("call_1"), user("And?")]})
    assert error.param == "input[1]" and "call_1" in error.message


def test_repeated_call_ids_and_outputs_are_refused():
    error = refused(
        {"model": "demo", "input": [user(), call_item("c"), output_item("c"), call_item("c")]}
    )
    assert error.param == "input[3].call_id"
    error = refused(
        {"model": "demo", "input": [user(), call_item("c"), output_item("c"), output_item("c")]}
    )
    assert error.param == "input[3].call_id" and "already has an output" in error.message


def test_tool_outputs_of_parts_keep_text_and_send_images_in_a_user_message_after():
    body = chat_body(
        input=[
            user("Show me the screenshot"),
            call_item("call_1", name="view_image", arguments='{"path":"a.png"}'),
            call_item("call_2", name="view_image", arguments='{"path":"b.png"}'),
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [
                    {"type": "input_text", "text": "a.png:"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
            output_item("call_2", [{"type": "input_text", "text": "no image"}]),
            user("Thanks"),
        ]
    )
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user", "user"]
    assert messages[2]["content"] == "a.png:\n[image 1: in the next user message]"
    assert messages[3]["content"] == "no image"
    assert messages[4]["content"] == [
        {"type": "text", "text": "Attachments of the output of call call_1:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]


def test_tool_outputs_with_images_at_the_end_still_get_their_user_message():
    body = chat_body(
        input=[
            user("Look"),
            call_item("call_1", name="view_image", arguments="{}"),
            output_item("call_1", [{"type": "input_image", "image_url": "https://x/y.png"}]),
        ]
    )
    assert body["messages"][-1]["role"] == "user"
    assert body["messages"][-2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "[image 1: in the next user message]",
    }


@pytest.mark.parametrize(
    ("output", "param"),
    [
        (None, "input[2].output"),
        (5, "input[2].output"),
        ({"content": "x"}, "input[2].output"),
        ([{"type": "input_video"}], "input[2].output[0].type"),
    ],
)
def test_bad_tool_outputs_are_named(output, param):
    item = {"type": "function_call_output", "call_id": "call_1"}
    if output is not None:
        item["output"] = output
    error = refused({"model": "demo", "input": [user(), call_item(), item]})
    assert error.param == param


def test_reasoning_summaries_go_to_the_next_assistant_message():
    body = chat_body(
        input=[
            user(),
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Need the weather."}],
                "encrypted_content": None,
            },
            call_item(),
            output_item(),
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "It is sunny."}],
            },
            {"role": "assistant", "content": "Sunny in Paris."},
            {  # OpenAI's own (encrypted) reasoning: not this model's thinking
                "type": "reasoning",
                "id": "rs_3",
                "summary": [{"type": "summary_text", "text": "**Secret**"}],
                "encrypted_content": "gAAAAB...",
            },
            {"role": "assistant", "content": "More."},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Dangling"}]},
            user("Bye"),
            {"role": "assistant", "content": "Bye."},
        ]
    )
    messages = body["messages"]
    assert messages[1]["reasoning_content"] == "Need the weather."
    assert messages[3] == {
        "role": "assistant",
        "content": "Sunny in Paris.",
        "reasoning_content": "It is sunny.",
    }
    assert "reasoning_content" not in messages[4] and "reasoning_content" not in messages[6]


def test_custom_tool_calls_are_function_calls_taking_input():
    body = chat_body(
        input=[
            user("Add hello"),
            {
                "type": "custom_tool_call",
                "id": "ctc_1",
                "status": "completed",
                "call_id": "call_p",
                "name": "apply_patch",
                "input": PATCH,
            },
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done."},
        ],
        tools=[APPLY_PATCH],
    )
    call = body["messages"][1]["tool_calls"][0]
    assert call["function"]["name"] == "apply_patch"
    assert json.loads(call["function"]["arguments"]) == {"input": PATCH}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_p", "content": "Done."}


def test_items_of_hosted_tools_are_dropped_with_their_outputs():
    body = chat_body(
        input=[
            user("List files"),
            {
                "type": "computer_call",
                "id": "cu_1",
                "call_id": "call_cu",
                "status": "completed",
                "action": {"type": "screenshot"},
                "pending_safety_checks": [],
            },
            output_item("call_cu", "[screen]"),
            {
                "type": "computer_call_output",
                "call_id": "call_cu",
                "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AA"},
            },
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}},
            {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "x", "tools": []},
            {"type": "compaction", "encrypted_content": "gAAA"},
            {"role": "assistant", "content": "There is a README."},
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": "List files"},
        {"role": "assistant", "content": "There is a README."},
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi"}, "model"),
        ({"model": 5, "input": "Hi"}, "model"),
        ({"model": ""}, "model"),
        ({"model": "demo"}, "input"),
        ({"model": "demo", "input": 5}, "input"),
        ({"model": "demo", "input": []}, "input"),
        ({"model": "demo", "input": [{"type": "reasoning", "summary": []}]}, "input"),
        ({"model": "demo", "input": "Hi", "instructions": ["x"]}, "instructions"),
        ({"model": "demo", "input": "Hi", "tools": {}}, "tools"),
        ({"model": "demo", "input": "Hi", "tools": ["x"]}, "tools[0]"),
        ({"model": "demo", "input": "Hi", "tools": [{"name": "f"}]}, "tools[0].type"),
        ({"model": "demo", "input": "Hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        (
            {
                "model": "demo",
                "input": "Hi",
                "tools": [{"type": "function", "name": "f", "parameters": "x"}],
            },
            "tools[0].parameters",
        ),
        (
            {
                "model": "demo",
                "input": "Hi",
                "tools": [{"type": "function", "name": "f", "strict": "yes"}],
            },
            "tools[0].strict",
        ),
        (
            {
                "model": "demo",
                "input": "Hi",
                "tools": [{"type": "function", "name": "f", "description": 1}],
            },
            "tools[0].description",
        ),
        (
            {
                "model": "demo",
                "input": "Hi",
                "tools": [{"type": "namespace", "name": "ns", "tools": 1}],
            },
            "tools[0].tools",
        ),
        (
            {
                "model": "demo",
                "input": "Hi",
                "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}],
            },
            "tools[0].tools[0].name",
        ),
        ({"model": "demo", "input": "Hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "demo", "input": "Hi", "tool_choice": 3}, "tool_choice"),
        ({"model": "demo", "input": "Hi", "tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"model": "demo", "input": "Hi", "parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ({"model": "demo", "input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "demo", "input": "Hi", "max_output_tokens": "9"}, "max_output_tokens"),
        ({"model": "demo", "input": "Hi", "max_output_tokens": True}, "max_output_tokens"),
        ({"model": "demo", "input": "Hi", "temperature": 3}, "temperature"),
        ({"model": "demo", "input": "Hi", "temperature": "hot"}, "temperature"),
        ({"model": "demo", "input": "Hi", "top_p": 1.5}, "top_p"),
        ({"model": "demo", "input": "Hi", "reasoning": "high"}, "reasoning"),
        ({"model": "demo", "input": "Hi", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
        ({"model": "demo", "input": "Hi", "reasoning": {"effort": ["low"]}}, "reasoning.effort"),
        ({"model": "demo", "input": "Hi", "reasoning": {"summary": ["x"]}}, "reasoning.summary"),
        ({"model": "demo", "input": "Hi", "reasoning": {"summary": "long"}}, "reasoning.summary"),
        ({"model": "demo", "input": "Hi", "text": "json"}, "text"),
        ({"model": "demo", "input": "Hi", "text": {"format": "json"}}, "text.format"),
        ({"model": "demo", "input": "Hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        (
            {
                "model": "demo",
                "input": "Hi",
                "text": {"format": {"type": "json_schema", "name": "x"}},
            },
            "text.format.schema",
        ),
        (
            {
                "model": "demo",
                "input": "Hi",
                "text": {"format": {"type": "json_schema", "name": 1, "schema": {}}},
            },
            "text.format.name",
        ),
        (
            {
                "model": "demo",
                "input": "Hi",
                "text": {"format": {"type": "json_schema", "schema": {}, "strict": 1}},
            },
            "text.format.strict",
        ),
        ({"model": "demo", "input": "Hi", "stream": "yes"}, "stream"),
        ({"model": "demo", "input": "Hi", "store": "no"}, "store"),
        ({"model": "demo", "input": "Hi", "metadata": []}, "metadata"),
        ({"model": "demo", "input": "Hi", "include": "reasoning"}, "include"),
        ({"model": "demo", "input": "Hi", "include": [1]}, "include"),
        ({"model": "demo", "input": "Hi", "prompt_cache_key": 1}, "prompt_cache_key"),
        ({"model": "demo", "input": "Hi", "user": 1}, "user"),
        ({"model": "demo", "input": "Hi", "stream_options": True}, "stream_options"),
        ({"model": "demo", "input": "Hi", "background": "yes"}, "background"),
    ],
)
def test_bad_fields_are_named(body, param):
    error = refused(body)
    assert error.param == param
    assert f"'{param}'" in error.message


def test_a_body_that_is_not_an_object_is_refused():
    for body in ([], "hi", None, 3):
        error = refused(body)
        assert error.code == "invalid_body"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", "resp_1"),
        ("conversation", "conv_1"),
        ("conversation", {"id": "conv_1"}),
        ("prompt", {"id": "pmpt_1"}),
        ("background", True),
    ],
)
def test_stored_state_is_refused_naming_the_parameter(field, value):
    error = refused({"model": "demo", "input": "Hi", field: value})
    assert error.param == field and error.code == "unsupported_parameter"
    assert "does not store responses" in error.message
    assert "send the whole conversation in 'input'" in error.message
    assert "store: false" in error.message


def test_nulls_and_false_are_not_stored_state():
    body = chat_body(input="Hi", previous_response_id=None, conversation=None, background=False)
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


# --- to_chat: tools and options ----------------------------------------------------------------


def test_function_tools_map_one_to_one_and_hosted_tools_are_dropped():
    body = chat_body(
        input="Hi",
        tools=[
            WEATHER,
            {"type": "function", "name": "now", "strict": False},
            {"type": "web_search"},
            {"type": "web_search_preview", "search_context_size": "low"},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "image_generation"},
            {"type": "shell", "environment": {"type": "container_auto"}},  # OpenAI runs it
            {"type": "computer_use_preview", "display_width": 1, "display_height": 1},
            {"type": "mcp", "server_label": "x", "server_url": "https://x"},
            {"type": "some_future_hosted_tool"},
        ],
        tool_choice="required",
        parallel_tool_calls=True,
    )
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "now",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            },
        },
    ]
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is True


def test_without_tools_left_tool_choice_and_parallel_calls_are_not_sent():
    body = chat_body(
        input="Hi",
        tools=[{"type": "web_search"}],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    assert "tools" not in body and "tool_choice" not in body and "parallel_tool_calls" not in body
    assert "tool_choice" not in chat_body(input="Hi", tool_choice="auto")


def test_namespace_tools_are_flattened_under_their_own_names():
    search = {
        "type": "function",
        "name": "search",
        "description": "Search",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        "strict": False,
    }
    body = chat_body(
        input="Hi",
        tools=[
            {
                "type": "namespace",
                "name": "mcp__github__",
                "description": "GitHub",
                "tools": [search, {"type": "function", "name": "get_issue"}],
            },
            {"type": "namespace", "name": "docs", "description": "Docs", "tools": [search]},
            {"type": "function", "name": "search"},  # taken: the first one stands
        ],
        tool_choice={"type": "function", "name": "search", "namespace": "docs"},
    )
    assert [t["function"]["name"] for t in body["tools"]] == ["search", "get_issue", "docs__search"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "docs__search"}}


def test_calls_to_renamed_namespace_tools_in_input_use_the_chat_name():
    tools = [
        {
            "type": "namespace",
            "name": "a",
            "description": "",
            "tools": [{"type": "function", "name": "go"}],
        },
        {
            "type": "namespace",
            "name": "b",
            "description": "",
            "tools": [{"type": "function", "name": "go"}],
        },
    ]
    body = chat_body(
        input=[user("Go"), call_item("c1", name="go", namespace="b"), output_item("c1", "ok")],
        tools=tools,
    )
    assert body["messages"][1]["tool_calls"][0]["function"]["name"] == "b__go"


def test_custom_tools_become_functions_taking_input_with_their_grammar_described():
    body = chat_body(
        input="Hi", tools=[APPLY_PATCH], tool_choice={"type": "custom", "name": "apply_patch"}
    )
    function = body["tools"][0]["function"]
    assert function["name"] == "apply_patch"
    assert function["parameters"] == {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's raw input."}},
        "required": ["input"],
        "additionalProperties": False,
    }
    assert function["description"].startswith(APPLY_PATCH["description"])
    assert "'input'" in function["description"]
    assert APPLY_PATCH["format"]["definition"] in function["description"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    plain = chat_body(
        input="Hi", tools=[{"type": "custom", "name": "note", "format": {"type": "text"}}]
    )
    assert "grammar" not in plain["tools"][0]["function"]["description"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (
            {"type": "function", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
        ({"type": "allowed_tools", "mode": "auto", "tools": []}, "auto"),
        ({"type": "web_search_preview"}, "auto"),
        ({"type": "mcp", "server_label": "x"}, "auto"),
    ],
)
def test_tool_choice(choice, expected):
    assert chat_body(input="Hi", tools=[WEATHER], tool_choice=choice)["tool_choice"] == expected


def test_options_map_to_their_chat_names():
    body = chat_body(
        input="Hi",
        max_output_tokens=500,
        temperature=0.2,
        top_p=0.9,
        reasoning={"effort": "high", "summary": "auto"},
        text={
            "format": {
                "type": "json_schema",
                "name": "city",
                "schema": {"type": "object"},
                "strict": True,
                "description": "A city",
            },
            "verbosity": "low",
        },
        prompt_cache_key="thread-1",
        safety_identifier="user-hash",
        store=False,
        include=["reasoning.encrypted_content"],
        metadata={"a": "b"},
        client_metadata={"x": 1},
        service_tier="auto",
        truncation="auto",
        stream_options={"include_obfuscation": False},
        top_logprobs=2,
        max_tool_calls=3,
    )
    assert body == {
        "model": "demo",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 500,
        "temperature": 0.2,
        "top_p": 0.9,
        "reasoning_effort": "high",
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "city",
                "schema": {"type": "object"},
                "description": "A city",
                "strict": True,
            },
        },
        "prompt_cache_key": "thread-1",
        "user": "user-hash",
    }


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("none", None), ("minimal", "low"), ("low", "low"), ("medium", "medium"), ("xhigh", "high")],
)
def test_reasoning_effort(effort, expected):
    assert chat_body(input="Hi", reasoning={"effort": effort}).get("reasoning_effort") == expected


def test_text_formats():
    assert chat_body(input="Hi", text={"format": {"type": "json_object"}})["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in chat_body(input="Hi", text={"format": {"type": "text"}})
    assert "response_format" not in chat_body(input="Hi", text={"verbosity": "high"})
    unnamed = chat_body(input="Hi", text={"format": {"type": "json_schema", "schema": {}}})
    assert unnamed["response_format"]["json_schema"]["name"] == "response"


def test_streaming_asks_for_usage():
    body = chat_body(input="Hi", stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream" not in chat_body(input="Hi", stream=False)


def test_user_wins_over_safety_identifier():
    assert chat_body(input="Hi", user="u1", safety_identifier="s1")["user"] == "u1"


# --- Codex CLI ---------------------------------------------------------------------------------

CODEX_TOOLS = [
    {
        "type": "function",
        "name": "shell_command",
        "description": "Runs a shell command and returns its output.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The shell script to execute"},
                "workdir": {"type": "string"},
                "timeout_ms": {"type": "number"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "update_plan",
        "description": "Updates the task plan.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"plan": {"type": "array", "items": {"type": "object"}}},
            "required": ["plan"],
            "additionalProperties": False,
        },
    },
    APPLY_PATCH,
    {"type": "web_search"},
    {
        "type": "namespace",
        "name": "mcp__github__",
        "description": "Tools of the github MCP server",
        "tools": [
            {
                "type": "function",
                "name": "search_issues",
                "description": "Search issues",
                "strict": False,
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
    },
]
CODEX_REQUEST = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex, based on GPT-5, a coding agent in the Codex CLI.",
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [
                {
                    "type": "input_text",
                    "text": "<permissions instructions>sandbox</permissions instructions>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "# AGENTS.md instructions\n\n<INSTRUCTIONS>Be nice.</INSTRUCTIONS>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "<environment_context>\n  <cwd>/repo</cwd>\n</environment_context>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "List the files"}],
        },
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "**Listing files**"}],
            "content": None,
            "encrypted_content": None,
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "name": "shell_command",
            "arguments": '{"command":"ls","workdir":"/repo"}',
            "call_id": "call_1",
        },
        {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": "Exit code: 0\nWall time: 0 seconds\nOutput:\nREADME.md\n",
        },
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "content": [{"type": "output_text", "text": "There is README.md."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Add hello to it"}],
        },
        {
            "type": "custom_tool_call",
            "id": "ctc_1",
            "status": "completed",
            "call_id": "call_2",
            "name": "apply_patch",
            "input": PATCH,
        },
        {
            "type": "custom_tool_call_output",
            "call_id": "call_2",
            "output": "Success. Updated the following files:\nM README.md\n",
        },
    ],
    "tools": CODEX_TOOLS,
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0199a213-81c0-7800-8aa1-bbab2a035a53",
    "text": {"verbosity": "medium"},
}


def test_what_codex_cli_sends():
    body = rp.to_chat(CODEX_REQUEST)
    messages = body["messages"]
    assert [m["role"] for m in messages] == [
        "system",
        "system",
        "user",
        "user",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]
    assert messages[0]["content"].startswith("You are Codex")
    assert messages[1]["content"].startswith("<permissions instructions>")
    assert messages[5]["reasoning_content"] == "**Listing files**"
    assert messages[5]["tool_calls"][0]["function"] == {
        "name": "shell_command",
        "arguments": '{"command":"ls","workdir":"/repo"}',
    }
    assert messages[6]["content"].endswith("README.md\n")
    assert json.loads(messages[9]["tool_calls"][0]["function"]["arguments"]) == {"input": PATCH}
    assert [t["function"]["name"] for t in body["tools"]] == [
        "shell_command",
        "update_plan",
        "apply_patch",
        "search_issues",
    ]
    assert all(
        t["function"].get("strict") is False
        for t in body["tools"]
        if t["function"]["name"] != "apply_patch"
    )
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert body["reasoning_effort"] == "medium"
    assert body["prompt_cache_key"] == CODEX_REQUEST["prompt_cache_key"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    for dropped in ("store", "include", "text", "reasoning", "instructions", "input"):
        assert dropped not in body


def test_codex_answer_stream_round_trips_through_the_sdk_and_back_into_input():
    """Reasoning, a note, an apply_patch (custom) call and an MCP (namespace) call, streamed;
    the items Codex keeps then go back in the next request."""
    chunks = [
        chunk({"role": "assistant", "reasoning_content": "**Patching**"}),
        chunk({"reasoning_content": " the file"}),
        chunk({"content": "Adding the line."}),
        chunk({"tool_calls": [tool_delta(0, "call_p", "apply_patch", '{"input": "*** Begin')]}),
        chunk({"tool_calls": [tool_delta(0, args=' Patch\\n*** End Patch\\n"}')]}),
        chunk({"tool_calls": [tool_delta(1, "call_m", "search_issues", '{"q":')]}),
        chunk({"tool_calls": [tool_delta(1, args='"bug"}')]}),
        chunk({}, finish="tool_calls"),
        chunk(
            None,
            usage={"prompt_tokens": 900, "completion_tokens": 40, "prompt_cache_hit_tokens": 800},
        ),
    ]
    events, final = through_sdk(chunks, request=CODEX_REQUEST)
    kinds = [e.type for e in events]
    assert "response.custom_tool_call_input.done" in kinds
    items = {item.type: item for item in final.output}
    assert items["reasoning"].summary[0].text == "**Patching** the file"
    assert final.output_text == "Adding the line."
    patch = items["custom_tool_call"]
    assert (patch.name, patch.call_id, patch.input) == (
        "apply_patch",
        "call_p",
        "*** Begin Patch\n*** End Patch\n",
    )
    mcp = items["function_call"]
    assert (mcp.name, mcp.namespace, mcp.arguments) == (
        "search_issues",
        "mcp__github__",
        '{"q":"bug"}',
    )
    assert final.usage.input_tokens_details.cached_tokens == 800
    # Codex sends the done items back, with the outputs
    history = [item.model_dump(exclude_none=True) for item in final.output]
    follow_up = {
        **CODEX_REQUEST,
        "input": [
            *CODEX_REQUEST["input"],
            *history,
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done"},
            {"type": "function_call_output", "call_id": "call_m", "output": "[]"},
        ],
    }
    messages = rp.to_chat(follow_up)["messages"]
    assistant = messages[-3]
    assert assistant["content"] == "Adding the line."
    assert assistant["reasoning_content"] == "**Patching** the file"
    assert [(c["id"], c["function"]["name"]) for c in assistant["tool_calls"]] == [
        ("call_p", "apply_patch"),
        ("call_m", "search_issues"),
    ]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "input": "*** Begin Patch\n*** End Patch\n"
    }
    assert [m["tool_call_id"] for m in messages[-2:]] == ["call_p", "call_m"]


# --- from_chat ---------------------------------------------------------------------------------


def completion(message: dict, finish="stop", usage=None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": "upstream-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def test_a_text_answer_is_a_valid_response():
    request = {"model": "demo", "input": "Hi", "instructions": "Be brief.", "temperature": 0.5}
    data = rp.from_chat(completion({"content": "Hello!"}), model="demo", request=request)
    response = Response.model_validate(data)
    assert data["id"].startswith("resp_") and data["object"] == "response"
    assert response.status == "completed" and response.error is None
    assert response.output_text == "Hello!"
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert message.role == "assistant" and message.status == "completed"
    assert data["output"][0]["content"] == [
        {"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}
    ]
    assert response.model == "demo" and response.created_at == 1_760_000_000
    assert response.instructions == "Be brief." and response.temperature == 0.5
    assert response.store is False and response.tools == [] and response.tool_choice == "auto"
    assert response.parallel_tool_calls is True
    assert response.usage.input_tokens == 10 and response.usage.output_tokens == 5
    assert response.usage.total_tokens == 15


def test_reasoning_text_and_tool_calls_become_items_in_order():
    request = {
        "model": "demo",
        "input": "Hi",
        "tools": [
            WEATHER,
            APPLY_PATCH,
            {
                "type": "namespace",
                "name": "gh",
                "description": "GitHub",
                "tools": [{"type": "function", "name": "search", "parameters": {"type": "object"}}],
            },
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": True,
        "max_output_tokens": 300,
        "reasoning": {"effort": "low", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        "metadata": {"k": "v"},
    }
    message = {
        "reasoning_content": "Let me think.",
        "content": "Calling tools.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
            },
            {"id": "call_3", "type": "function", "function": {"name": "search", "arguments": ""}},
        ],
    }
    data = rp.from_chat(completion(message, finish="tool_calls"), model="demo", request=request)
    response = Response.model_validate(data)
    assert [item.type for item in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
        "function_call",
    ]
    reasoning, _, weather, patch, search = response.output
    assert reasoning.summary[0].text == "Let me think." and reasoning.id.startswith("rs_")
    assert weather.id.startswith("fc_") and weather.call_id == "call_1"
    assert (weather.name, weather.arguments, weather.status) == (
        "get_weather",
        '{"city":"Paris"}',
        "completed",
    )
    assert (patch.name, patch.call_id, patch.input) == ("apply_patch", "call_2", PATCH)
    assert (search.name, search.namespace, search.arguments) == ("search", "gh", "{}")
    assert response.tools[0].name == "get_weather" and len(response.tools) == 3
    assert data["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert response.max_output_tokens == 300 and response.metadata == {"k": "v"}
    assert response.reasoning.effort == "low" and response.reasoning.summary == "auto"
    assert response.text.format.type == "json_schema"


def test_reasoning_under_the_reasoning_key_and_content_parts():
    data = rp.from_chat(
        completion(
            {
                "reasoning": "Hmm.",
                "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
            }
        ),
        model="demo",
        request={},
    )
    assert data["output"][0]["summary"][0]["text"] == "Hmm."
    assert Response.model_validate(data).output_text == "AB"


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_cut_answers_are_incomplete(finish, reason):
    data = rp.from_chat(
        completion({"content": "Half an ans"}, finish=finish), model="demo", request={}
    )
    response = Response.model_validate(data)
    assert response.status == "incomplete" and response.incomplete_details.reason == reason
    assert response.output[0].status == "incomplete" and data["completed_at"] is None


def test_a_refusal_is_a_refusal_part():
    data = rp.from_chat(
        completion({"content": None, "refusal": "I can't help."}), model="demo", request={}
    )
    response = Response.model_validate(data)
    assert response.output[0].content[0].type == "refusal"
    assert response.output[0].content[0].refusal == "I can't help."


def test_tool_calls_without_or_with_repeated_ids_get_their_own():
    message = {
        "content": None,
        "tool_calls": [
            {"type": "function", "function": {"name": "a", "arguments": "{}"}},
            {"id": "same", "type": "function", "function": {"name": "b", "arguments": {"x": 1}}},
            {"id": "same", "type": "function", "function": {"name": "c", "arguments": "{}"}},
        ],
    }
    data = rp.from_chat(completion(message, finish="tool_calls"), model="demo", request={})
    ids = [item["call_id"] for item in data["output"]]
    assert len(set(ids)) == 3 and ids[1] == "same" and ids[0].startswith("call_")
    assert data["output"][1]["arguments"] == '{"x":1}'
    Response.model_validate(data)


def test_custom_tool_input_when_the_model_did_not_use_the_input_field():
    request = {"tools": [APPLY_PATCH]}
    for arguments, expected in (
        (json.dumps({"patch": PATCH}), PATCH),
        (PATCH, PATCH),
        (json.dumps(PATCH), PATCH),
        ('{"a": 1, "b": 2}', '{"a": 1, "b": 2}'),
    ):
        message = {
            "tool_calls": [
                {
                    "id": "c",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": arguments},
                }
            ]
        }
        data = rp.from_chat(completion(message, finish="tool_calls"), model="demo", request=request)
        assert data["output"][0]["input"] == expected


def test_an_empty_completion_is_a_completed_response_without_output():
    data = rp.from_chat({"choices": [], "usage": None}, model="demo", request=None)
    response = Response.model_validate(data)
    assert response.output == [] and response.status == "completed"
    assert response.usage.total_tokens == 0


def test_create_through_the_sdk():
    data = rp.from_chat(completion({"content": "Hello!"}), model="demo", request={})

    def handler(request):
        return httpx2.Response(200, json=data)

    client = sdk_client(handler)
    response = client.responses.create(model="demo", input="Hi")
    assert response.output_text == "Hello!" and response.usage.input_tokens == 10


# --- usage -------------------------------------------------------------------------------------


def test_usage_from_openai_style_details():
    usage = rp.usage_from_chat(
        {
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert usage == {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 0},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 30},
        "total_tokens": 150,
    }
    ResponseUsage.model_validate(usage)


def test_usage_from_deepseek_and_moonshot_cache_fields():
    deepseek = rp.usage_from_chat(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "prompt_cache_hit_tokens": 90,
            "prompt_cache_miss_tokens": 10,
        }
    )
    assert deepseek["input_tokens_details"]["cached_tokens"] == 90
    moonshot = rp.usage_from_chat(
        {"prompt_tokens": 100, "completion_tokens": 5, "cached_tokens": 40}
    )
    assert moonshot["input_tokens_details"]["cached_tokens"] == 40
    written = rp.usage_from_chat(
        {
            "prompt_tokens": 10,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 99, "cache_write_tokens": 7},
        }
    )
    assert written["input_tokens_details"] == {"cached_tokens": 10, "cache_write_tokens": 7}


def test_usage_when_there_is_none_or_it_is_odd():
    empty = {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }
    assert rp.usage_from_chat(None) == empty
    assert (
        rp.usage_from_chat(
            {"prompt_tokens": "9", "completion_tokens": -3, "prompt_tokens_details": None}
        )
        == empty
    )
    assert rp.usage_from_chat({"prompt_tokens": 7.0, "completion_tokens": 2})["total_tokens"] == 9


def test_error_body_is_the_openai_error_shape():
    error = bad_request("'input' is required.", param="input", code="missing_field")
    assert json.loads(rp.error_body(error)) == {
        "error": {
            "message": "'input' is required.",
            "type": "invalid_request_error",
            "code": "missing_field",
            "param": "input",
        }
    }


# --- streams -----------------------------------------------------------------------------------


def chunk(delta=None, finish=None, usage=None) -> dict:
    data = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "upstream-model",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        data["usage"] = usage
    return data


def tool_delta(index, call_id=None, name=None, args=None) -> dict:
    call: dict = {"index": index}
    function = {}
    if call_id:
        call["id"], call["type"] = call_id, "function"
    if name:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    call["function"] = function
    return call


def parse(data: bytes) -> list[dict]:
    """SSE bytes → event dicts, each checked: its event name, its place, the SDK's type."""
    events = []
    assert data.endswith(b"\n\n")
    for block in data[:-2].split(b"\n\n"):
        name, payload = block.split(b"\n")
        assert name.startswith(b"event: ") and payload.startswith(b"data: ")
        event = json.loads(payload[6:])
        assert event["type"] == name[7:].decode()
        assert event["sequence_number"] == len(events)
        EVENT.validate_python(event)
        events.append(event)
    return events


def run(chunks, *, request=None, usage=None, end="finish"):
    """Feed ``chunks`` to a stream; returns (events, stream)."""
    stream = rp.ResponsesStream(
        model="demo", request=request if request is not None else {"model": "demo", "input": "Hi"}
    )
    data = stream.start() + b"".join(stream.feed(c) for c in chunks)
    if end == "finish":
        data += stream.finish(usage)
    elif end:
        data += stream.failed(*end)
    return parse(data), stream


def accumulate(events, request=None):
    """The SDK's own accumulator over the events; returns it (and checks each event)."""
    tools = (request or {}).get("tools", omit)
    state = ResponseStreamState(input_tools=tools, text_format=omit)
    for event in events:
        state.handle_event(EVENT.validate_python(event))
    return state


def sdk_client(handler) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(handler)),
    )


def through_sdk(chunks, *, request=None, usage=None):
    """The stream's bytes read by the openai SDK (client.responses.stream)."""
    request = request or {"model": "demo", "input": "Hi"}
    stream = rp.ResponsesStream(model="demo", request=request)
    data = stream.start() + b"".join(stream.feed(c) for c in chunks) + stream.finish(usage)
    parse(data)

    def handler(_request):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    client = sdk_client(handler)
    kwargs = {k: v for k, v in request.items() if k in ("tools", "model", "input", "instructions")}
    with client.responses.stream(**kwargs) as events:
        seen = list(events)
        final = events.get_final_response()
    return seen, final


def test_a_text_stream():
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, finish="stop"),
        chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
    ]
    events, stream = run(chunks)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created, in_progress = events[0]["response"], events[1]["response"]
    assert created["status"] == in_progress["status"] == "in_progress"
    assert created["output"] == [] and created["id"].startswith("resp_")
    delta = events[4]
    assert delta["item_id"] == events[2]["item"]["id"] and delta["output_index"] == 0
    assert delta["content_index"] == 0 and delta["delta"] == "Hel" and delta["logprobs"] == []
    assert events[6]["text"] == "Hello"
    done = events[-1]["response"]
    response = Response.model_validate(done)
    assert response.id == created["id"] and response.status == "completed"
    assert response.output_text == "Hello" and response.usage.total_tokens == 7
    assert done["completed_at"] is not None
    final = accumulate(events)._completed_response
    assert final.output_text == "Hello"
    assert "".join(stream.delivered_text) == "Hello" and stream.delivered_chars == 5


def test_reasoning_then_text_then_function_calls_split_across_many_chunks():
    arguments = '{"city": "Paris", "units": "metric", "days": 3}'
    pieces = [arguments[i : i + 3] for i in range(0, len(arguments), 3)]
    chunks = [
        chunk({"role": "assistant", "reasoning_content": "The user "}),
        chunk({"reasoning_content": "wants weather."}),
        chunk({"content": "Let me check."}),
        chunk({"tool_calls": [tool_delta(0, "call_1", "get_weather", "")]}),
        *[chunk({"tool_calls": [tool_delta(0, args=piece)]}) for piece in pieces],
        chunk({"tool_calls": [tool_delta(1, "call_2", "get_weather", '{"city": "Rome"}')]}),
        chunk({}, finish="tool_calls"),
    ]
    events, stream = run(
        chunks,
        request={"model": "demo", "input": "Hi", "tools": [WEATHER]},
        usage={
            "prompt_tokens": 20,
            "completion_tokens": 30,
            "completion_tokens_details": {"reasoning_tokens": 12},
        },
    )
    kinds = [e["type"] for e in events]
    assert kinds[:6] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
    ]
    assert kinds[6:9] == [
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert kinds.count("response.function_call_arguments.delta") == len(pieces) + 1
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [
        (0, "reasoning"),
        (1, "message"),
        (2, "function_call"),
        (3, "function_call"),
    ]
    first = added[2]["item"]
    assert (first["call_id"], first["name"], first["arguments"], first["status"]) == (
        "call_1",
        "get_weather",
        "",
        "in_progress",
    )
    # the message closes when the first call opens; the calls close at the end, in order
    message_done = kinds.index("response.output_item.done", 9)
    assert events[message_done]["item"]["type"] == "message"
    assert message_done < kinds.index("response.function_call_arguments.delta")
    argument_dones = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [e["arguments"] for e in argument_dones] == [arguments, '{"city": "Rome"}']
    response = Response.model_validate(events[-1]["response"])
    assert [item.type for item in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert response.output[0].summary[0].text == "The user wants weather."
    assert response.usage.output_tokens_details.reasoning_tokens == 12
    final = accumulate(events, {"tools": [WEATHER]})._completed_response
    calls = [item for item in final.output if item.type == "function_call"]
    assert [c.arguments for c in calls] == [arguments, '{"city": "Rome"}']
    assert calls[0].parsed_arguments == json.loads(arguments)  # strict tool: the SDK parses
    assert final.output_text == "Let me check."
    delivered = "".join(stream.delivered_text)
    assert "The user wants weather." in delivered and arguments in delivered
    assert "".join(stream.delivered_reasoning) == "The user wants weather."


def test_two_parallel_tool_calls_interleaved():
    chunks = [
        chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [tool_delta(0, "call_a", "get_weather", '{"ci')],
            }
        ),
        chunk({"tool_calls": [tool_delta(1, "call_b", "get_weather", '{"city"')]}),
        chunk({"tool_calls": [tool_delta(0, args='ty": "Pa')]}),
        chunk({"tool_calls": [tool_delta(1, args=': "Ro')]}),
        chunk({"tool_calls": [tool_delta(0, args='ris"}'), tool_delta(1, args='me"}')]}),
        chunk({}, finish="tool_calls"),
    ]
    events, _ = run(chunks)
    deltas = [
        (e["output_index"], e["delta"])
        for e in events
        if e["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == [
        (0, '{"ci'),
        (1, '{"city"'),
        (0, 'ty": "Pa'),
        (1, ': "Ro'),
        (0, 'ris"}'),
        (1, 'me"}'),
    ]
    dones = [e for e in events if e["type"] == "response.output_item.done"]
    assert [(e["output_index"], e["item"]["call_id"], e["item"]["arguments"]) for e in dones] == [
        (0, "call_a", '{"city": "Paris"}'),
        (1, "call_b", '{"city": "Rome"}'),
    ]
    assert all(e["item"]["status"] == "completed" for e in dones)
    final = accumulate(events)._completed_response
    assert [(c.call_id, json.loads(c.arguments)) for c in final.output] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Rome"}),
    ]


def test_tool_call_quirks_of_some_upstreams():
    chunks = [
        # every call under index 0, each whole in one chunk, told apart by its id
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "now", "arguments": ""},
                    }
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ]
            }
        ),
        # no index at all, and the name after the id
        chunk({"tool_calls": [{"id": "c1", "type": "function", "function": {}}]}),
        chunk({}, finish="tool_calls"),
    ]
    events, _ = run(chunks)
    response = Response.model_validate(events[-1]["response"])
    assert [(c.call_id, c.name, c.arguments) for c in response.output] == [
        ("c1", "now", "{}"),  # no arguments: "{}", so that they parse
        ("c2", "get_weather", '{"city":"Oslo"}'),
        (response.output[2].call_id, "", "{}"),  # a repeated id gets a fresh one
    ]
    assert response.output[2].call_id not in ("c1", "c2")
    accumulate(events)


def test_the_name_of_a_call_may_come_after_its_first_chunk():
    chunks = [
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "type": "function", "function": {"arguments": ""}}
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "function": {"name": "get_weather", "arguments": '{"city"'}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ':"Oslo"}'}}]}),
        chunk({}, finish="tool_calls"),
    ]
    events, _ = run(chunks)
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert added["item"]["name"] == "get_weather" and added["item"]["call_id"] == "c1"
    final = accumulate(events)._completed_response
    assert final.output[0].arguments == '{"city":"Oslo"}'


def test_custom_and_namespace_calls_in_a_stream():
    request = {
        "model": "demo",
        "input": "Hi",
        "tools": [
            APPLY_PATCH,
            {
                "type": "namespace",
                "name": "gh",
                "description": "GitHub",
                "tools": [{"type": "function", "name": "search", "parameters": {"type": "object"}}],
            },
        ],
    }
    encoded = json.dumps({"input": PATCH})
    chunks = [
        chunk({"tool_calls": [tool_delta(0, "call_p", "apply_patch", encoded[:10])]}),
        chunk({"tool_calls": [tool_delta(0, args=encoded[10:])]}),
        chunk({"tool_calls": [tool_delta(1, "call_s", "search", '{"q":"x"}')]}),
        chunk({}, finish="tool_calls"),
    ]
    events, _ = run(chunks, request=request)
    kinds = [e["type"] for e in events]
    # a custom call's input is only known whole: one delta, then done
    assert kinds.count("response.custom_tool_call_input.delta") == 1
    done = next(e for e in events if e["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == PATCH
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert added[0]["type"] == "custom_tool_call" and added[0]["input"] == ""
    assert added[1]["namespace"] == "gh"
    response = Response.model_validate(events[-1]["response"])
    patch, search = response.output
    assert (patch.type, patch.name, patch.input) == ("custom_tool_call", "apply_patch", PATCH)
    assert (search.name, search.namespace) == ("search", "gh")
    final = accumulate(events, request)._completed_response
    assert final.output[0].input == PATCH


def test_a_stream_cut_by_the_output_limit_is_incomplete():
    chunks = [chunk({"content": "Once upon"}), chunk({"content": " a time"}, finish="length")]
    events, _ = run(chunks, usage={"prompt_tokens": 3, "completion_tokens": 16})
    assert events[-1]["type"] == "response.incomplete"
    response = Response.model_validate(events[-1]["response"])
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.output_text == "Once upon a time" and response.usage.output_tokens == 16
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["status"] == "incomplete"
    state = accumulate(events)
    assert state._completed_response is None  # the SDK completes on response.completed only


def test_content_filter_is_incomplete_too():
    events, _ = run([chunk({"content": "x"}, finish="content_filter")])
    assert events[-1]["response"]["incomplete_details"] == {"reason": "content_filter"}


def test_usage_from_the_last_chunk_or_given_to_finish():
    chunks = [
        chunk({"content": "Hi"}, finish="stop"),
        chunk(None, usage={"prompt_tokens": 4, "completion_tokens": 1}),
    ]
    events, _ = run(chunks)
    assert events[-1]["response"]["usage"]["input_tokens"] == 4
    events, _ = run(chunks, usage={"prompt_tokens": 8, "completion_tokens": 2})
    assert events[-1]["response"]["usage"]["input_tokens"] == 8
    events, _ = run([chunk({"content": "Hi"}, finish="stop")])
    assert events[-1]["response"]["usage"]["total_tokens"] == 0


def test_a_failure_mid_stream_closes_what_is_open():
    chunks = [
        chunk({"content": "Partial"}),
        chunk({"tool_calls": [tool_delta(0, "call_1", "get_weather", '{"ci')]}),
    ]
    events, stream = run(chunks, end=(502, "The upstream went away."))
    assert events[-1]["type"] == "response.failed"
    response = Response.model_validate(events[-1]["response"])
    assert response.status == "failed"
    assert (
        response.error.code == "server_error"
        and response.error.message == "The upstream went away."
    )
    assert [item.status for item in response.output] == ["completed", "incomplete"]
    assert stream.finish() == b"" and stream.feed(chunk({"content": "late"})) == b""
    assert stream.failed(500, "again") == b""


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, None, "rate_limit_exceeded"),
        (400, None, "invalid_prompt"),
        (500, None, "server_error"),
        (503, "server_error", "server_error"),
        (400, "context_length_exceeded", "context_length_exceeded"),
    ],
)
def test_failure_codes(status, code, expected):
    stream = rp.ResponsesStream(model="demo", request={})
    data = stream.start() + stream.failed(status, "No.", code)
    event = json.loads(data.split(b"\n\n")[-2].split(b"data: ")[1])
    assert event["response"]["error"] == {"code": expected, "message": "No."}
    assert event["response"]["output"] == []


def test_failed_before_start_and_error_alias():
    stream = rp.ResponsesStream(model="demo", request={})
    events = parse(stream.error(429, "Slow down."))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]


def test_feed_before_start_starts_and_chunks_without_choices_make_nothing():
    stream = rp.ResponsesStream(model="demo", request={})
    data = stream.feed(chunk({"content": "Hi"}))
    assert [e["type"] for e in parse(data)][:2] == ["response.created", "response.in_progress"]
    assert stream.start() == b""
    assert stream.feed(chunk(None, usage={"prompt_tokens": 1})) == b""
    assert stream.feed({"choices": [{"index": 1, "delta": {"content": "other"}}]}) == b""
    assert stream.feed({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}) == b""
    assert stream.ping().startswith(b":")


def test_reasoning_after_text_opens_a_new_reasoning_item():
    chunks = [
        chunk({"reasoning_content": "First"}),
        chunk({"content": "Text"}),
        chunk({"reasoning": "Second"}),
        chunk({"content": "More"}, finish="stop"),
    ]
    events, _ = run(chunks)
    response = Response.model_validate(events[-1]["response"])
    assert [item.type for item in response.output] == [
        "reasoning",
        "message",
        "reasoning",
        "message",
    ]
    assert response.output_text == "TextMore"
    accumulate(events)


def test_a_refusal_in_a_stream():
    events, _ = run([chunk({"content": "Well"}), chunk({"refusal": "I can't."}, finish="stop")])
    kinds = [e["type"] for e in events]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    response = Response.model_validate(events[-1]["response"])
    assert [part.type for part in response.output[0].content] == ["output_text", "refusal"]
    parts = [e for e in events if e["type"] == "response.content_part.added"]
    assert [p["content_index"] for p in parts] == [0, 1]


def test_the_legacy_function_call_delta():
    chunks = [
        chunk({"function_call": {"name": "get_weather", "arguments": '{"city":'}}),
        chunk({"function_call": {"arguments": '"Paris"}'}}, finish="function_call"),
    ]
    events, _ = run(chunks)
    response = Response.model_validate(events[-1]["response"])
    assert response.output[0].arguments == '{"city":"Paris"}'


def test_an_empty_stream_completes_without_output():
    events, _ = run([chunk({"role": "assistant"}, finish="stop")])
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert events[-1]["response"]["output"] == []


def test_the_echo_in_stream_events_follows_the_request():
    request = {
        "model": "demo",
        "input": "Hi",
        "instructions": "Be brief.",
        "tools": [WEATHER],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "temperature": 0.1,
        "top_p": 0.5,
        "max_output_tokens": 64,
        "reasoning": {"effort": "minimal"},
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "prompt_cache_key": "k",
        "truncation": "auto",
        "user": "u",
    }
    events, _ = run([chunk({"content": "{}"}, finish="stop")], request=request)
    response = Response.model_validate(events[-1]["response"])
    assert response.instructions == "Be brief." and response.tool_choice == "required"
    assert response.parallel_tool_calls is False and response.temperature == 0.1
    assert response.top_p == 0.5 and response.max_output_tokens == 64
    assert response.reasoning.effort == "minimal" and response.text.format.type == "json_object"
    assert response.text.verbosity == "low" and response.prompt_cache_key == "k"
    assert response.truncation == "auto" and response.user == "u" and response.store is False
    assert response.model == "demo" and response.tools[0].name == "get_weather"


def test_a_stream_through_the_sdk():
    chunks = [
        chunk({"reasoning_content": "Think."}),
        chunk({"content": "Hello "}),
        chunk({"content": "there."}),
        chunk({"tool_calls": [tool_delta(0, "call_1", "get_weather", '{"city":')]}),
        chunk({"tool_calls": [tool_delta(0, args='"Paris"}')]}),
        chunk({}, finish="tool_calls"),
        chunk(None, usage={"prompt_tokens": 9, "completion_tokens": 9}),
    ]
    events, final = through_sdk(
        chunks, request={"model": "demo", "input": "Hi", "tools": [WEATHER]}
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    snapshots = [e.snapshot for e in events if e.type == "response.output_text.delta"]
    assert snapshots == ["Hello ", "Hello there."]
    assert final.output_text == "Hello there."
    call = final.output[-1]
    assert call.name == "get_weather" and call.parsed_arguments == {"city": "Paris"}
    assert final.usage.total_tokens == 18


def test_text_after_tool_calls_leaves_them_open_and_everything_closes_in_output_order():
    chunks = [
        chunk({"tool_calls": [tool_delta(0, "call_1", "get_weather", '{"city":"Oslo"}')]}),
        chunk({"content": "Checking Oslo."}),
        chunk({"tool_calls": [tool_delta(0, args="")]}),
        chunk({}, finish="tool_calls"),
    ]
    events, _ = run(chunks)
    dones = [e for e in events if e["type"] == "response.output_item.done"]
    assert [(e["output_index"], e["item"]["type"]) for e in dones] == [
        (0, "function_call"),
        (1, "message"),
    ]
    final = accumulate(events)._completed_response
    assert final.output_text == "Checking Oslo." and final.output[0].arguments == '{"city":"Oslo"}'


# --- anything a client or an upstream may send -------------------------------------------------

KEY_NAMES = (
    "model input type role content text call_id name arguments output tools tool_choice "
    "parameters reasoning effort summary format schema namespace image_url file_data "
    "file_id detail encrypted_content stream instructions strict description refusal "
    "max_output_tokens temperature top_p metadata include id"
)
KEYS = st.sampled_from(KEY_NAMES.split())
WORD_LIST = (
    "message function_call function_call_output custom_tool_call custom_tool_call_output "
    "reasoning local_shell_call item_reference user assistant developer system input_text "
    "output_text input_image input_file refusal summary_text function namespace custom "
    "web_search json_schema json_object auto required high minimal call_1"
)
WORDS = st.sampled_from(WORD_LIST.split())
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | WORDS
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=3), inner, max_size=6)
    ),
    max_leaves=25,
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*prefix, index))


def replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def translated_or_refused(body):
    try:
        chat = rp.to_chat(body)
    except ApiError as error:
        assert error.status == 400 and error.message
        assert error.param is None or isinstance(error.param, str)
        return None
    assert isinstance(chat["model"], str) and chat["messages"]
    json.dumps(chat)
    return chat


@settings(max_examples=300, deadline=None, database=None)
@given(JSON)
def test_any_json_body_is_translated_or_refused_with_a_400(body):
    translated_or_refused(body)
    if isinstance(body, dict):
        translated_or_refused({"model": "demo", "input": "Hi", **body})


CODEX_PATHS = list(paths(CODEX_REQUEST))


@settings(max_examples=400, deadline=None, database=None)
@given(st.sampled_from(CODEX_PATHS), JSON)
def test_a_codex_request_with_any_part_replaced_is_translated_or_refused(path, value):
    body = replaced(CODEX_REQUEST, path, value)
    chat = translated_or_refused(body)
    if chat is not None:  # what was accepted also answers
        completion_ = completion({"content": "ok"})
        rp.from_chat(completion_, model="demo", request=body)
        stream = rp.ResponsesStream(model="demo", request=body)
        parse(stream.start() + stream.finish())


DELTAS = st.fixed_dictionaries(
    {},
    optional={
        "content": st.none() | st.text(max_size=5) | st.integers(),
        "reasoning_content": st.none() | st.text(max_size=5),
        "reasoning": st.none() | st.text(max_size=5) | st.booleans(),
        "refusal": st.none() | st.text(max_size=3),
        "tool_calls": st.none()
        | st.integers()
        | st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "index": st.none() | st.integers(0, 2) | st.text(max_size=1),
                    "id": st.none() | st.sampled_from(["c1", "c2", "c3", ""]),
                    "function": st.none()
                    | st.fixed_dictionaries(
                        {},
                        optional={
                            "name": st.none()
                            | st.sampled_from(
                                [
                                    "get_weather",
                                    "apply_patch",
                                    "search",
                                    "",
                                    "shell",
                                    "local_shell",
                                    "builtin_apply_patch",
                                ]
                            ),
                            "arguments": st.none()
                            | st.text(max_size=4)
                            | st.integers()
                            | st.sampled_from(
                                [
                                    '{"commands": ["ls"]}',
                                    '{"command": ["ls"]}',
                                    '{"type": "delete_file", "path": "a"}',
                                ]
                            ),
                        },
                    ),
                },
            )
            | JSON,
            max_size=3,
        ),
    },
)
CHUNKS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "choices": st.none()
            | st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "index": st.sampled_from([0, 0, 0, 1]),
                        "delta": DELTAS | JSON,
                        "finish_reason": st.none()
                        | st.sampled_from(["stop", "length", "tool_calls", "content_filter"]),
                    },
                ),
                max_size=2,
            ),
            "usage": st.none() | JSON,
        },
    ),
    max_size=12,
)
STREAM_REQUEST = {
    "tools": [
        WEATHER,
        APPLY_PATCH,
        {
            "type": "namespace",
            "name": "gh",
            "description": "",
            "tools": [{"type": "function", "name": "search"}],
        },
        {"type": "shell"},
        {"type": "local_shell"},
        {"type": "apply_patch"},  # builtin_apply_patch: Codex's apply_patch has the name
    ]
}


@settings(max_examples=300, deadline=None, database=None)
@given(CHUNKS, st.booleans())
@example(  # found by a run: a strict tool's arguments that are not JSON
    [
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": None, "function": {"name": "get_weather", "arguments": ":"}}
                        ]
                    }
                }
            ]
        }
    ],
    False,
)
def test_any_chunks_make_valid_events(chunks, fail):
    stream = rp.ResponsesStream(model="demo", request=STREAM_REQUEST)
    data = stream.start() + b"".join(stream.feed(c) for c in chunks)
    data += stream.failed(502, "Gone.") if fail else stream.finish()
    events = parse(data)
    assert events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")
    if not fail:
        # The SDK parses a strict tool's arguments as JSON (a promise of OpenAI's models); the
        # chunks here may carry any text for them (":"), which the stream passes on as sent.
        lenient = [
            {**t, "strict": False} if t.get("strict") else t for t in STREAM_REQUEST["tools"]
        ]
        accumulate(events, {**STREAM_REQUEST, "tools": lenient})
    ids = [item["id"] for item in events[-1]["response"]["output"]]
    assert len(ids) == len(set(ids))


# --- client tools: local_shell, shell, apply_patch ----------------------------------------------

CLIENT_TOOLS = [
    {"type": "local_shell"},
    {"type": "shell", "environment": {"type": "local"}},
    {"type": "apply_patch"},
]
LOCAL_SHELL_CALL = {
    "type": "local_shell_call",
    "id": "lsh_1",
    "call_id": "call_l",
    "status": "completed",
    "action": {
        "type": "exec",
        "command": ["ls", "-a"],
        "env": {"LANG": "C"},
        "timeout_ms": 5000,
        "working_directory": "/repo",
        "user": None,
    },
}
SHELL_CALL = {
    "type": "shell_call",
    "id": "sh_1",
    "call_id": "call_s",
    "status": "completed",
    "action": {"commands": ["make", "make test"], "timeout_ms": None, "max_output_length": 4096},
}
PATCH_CALL = {
    "type": "apply_patch_call",
    "id": "apc_1",
    "call_id": "call_p",
    "status": "completed",
    "operation": {"type": "create_file", "path": "hello.txt", "diff": "+hello\n"},
}
SHELL_OUTPUT = {
    "type": "shell_call_output",
    "call_id": "call_s",
    "max_output_length": 4096,
    "output": [
        {
            "stdout": "built\n",
            "stderr": "warning: x\n",
            "outcome": {"type": "exit", "exit_code": 0},
        },
        {"stdout": "", "stderr": "", "outcome": {"type": "timeout"}},
    ],
}


def test_client_tools_become_function_tools_taking_the_calls_action():
    body = chat_body(input="Hi", tools=CLIENT_TOOLS)
    functions = [t["function"] for t in body["tools"]]
    assert [f["name"] for f in functions] == ["local_shell", "shell", "apply_patch"]
    assert {t["type"] for t in body["tools"]} == {"function"}
    local, shell, patch = (f["parameters"] for f in functions)
    assert set(local["properties"]) == {"command", "working_directory", "timeout_ms", "env", "user"}
    assert set(shell["properties"]) == {"commands", "timeout_ms", "max_output_length"}
    assert patch["properties"]["type"]["enum"] == ["create_file", "update_file", "delete_file"]
    assert all(f["description"] and "strict" not in f for f in functions)
    # The shell of OpenAI's containers is not run by the client: left out like hosted tools.
    container = chat_body(
        input="Hi", tools=[{"type": "shell", "environment": {"type": "container_auto"}}]
    )
    assert "tools" not in container


def test_client_tools_never_take_a_name_of_the_clients_own_tools():
    own = [
        {"type": "function", "name": "shell"},
        {"type": "custom", "name": "apply_patch"},
        {"type": "function", "name": "builtin_apply_patch"},
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "local_shell"}]},
    ]
    body = chat_body(input="Hi", tools=[*CLIENT_TOOLS, *CLIENT_TOOLS, *own])  # declared twice too
    assert [t["function"]["name"] for t in body["tools"]] == [
        "shell",
        "apply_patch",
        "builtin_apply_patch",
        "local_shell",
        "builtin_local_shell",
        "builtin_shell",
        "builtin_apply_patch_2",
    ]
    assert body["tools"][1]["function"]["parameters"]["required"] == ["input"]  # Codex's own


@pytest.mark.parametrize(
    ("choice", "expected", "echo"),
    [
        ({"type": "shell"}, {"type": "function", "function": {"name": "builtin_shell"}}, "shell"),
        (
            {"type": "apply_patch"},
            {"type": "function", "function": {"name": "apply_patch"}},
            "apply_patch",
        ),
        ({"type": "local_shell"}, "auto", "auto"),  # not declared
    ],
)
def test_tool_choice_naming_a_client_tool_names_its_function(choice, expected, echo):
    tools = [{"type": "function", "name": "shell"}, {"type": "shell"}, {"type": "apply_patch"}]
    request = {"model": "demo", "input": "Hi", "tools": tools, "tool_choice": choice}
    assert rp.to_chat(request)["tool_choice"] == expected
    data = rp.from_chat(completion({"content": "x"}), model="m", request=request)
    response = Response.model_validate(data)
    assert data["tool_choice"] == (echo if echo == "auto" else {"type": echo})
    assert [t.type for t in response.tools] == ["function", "shell", "apply_patch"]


def test_client_tool_calls_and_outputs_in_the_history_become_tool_calls_and_tool_messages():
    body = chat_body(
        tools=CLIENT_TOOLS,
        input=[
            user("Make hello.txt"),
            LOCAL_SHELL_CALL,
            {**LOCAL_SHELL_CALL, "id": "lsh_2", "call_id": None, "action": {"command": ["pwd"]}},
            SHELL_CALL,
            PATCH_CALL,
            {"type": "function_call_output", "call_id": "call_l", "output": "a.txt\n"},  # Codex
            {"type": "local_shell_call_output", "id": "lsh_2", "output": '{"stdout": "/repo"}'},
            SHELL_OUTPUT,
            {
                "type": "apply_patch_call_output",
                "call_id": "call_p",
                "status": "failed",
                "output": "hello.txt exists",
            },
            {"role": "assistant", "content": "It exists already."},
        ],
    )
    _, assistant, *tools, last = body["messages"]
    assert [(c["id"], c["function"]["name"]) for c in assistant["tool_calls"]] == [
        ("call_l", "local_shell"),
        ("lsh_2", "local_shell"),
        ("call_s", "shell"),
        ("call_p", "apply_patch"),
    ]
    assert [json.loads(c["function"]["arguments"]) for c in assistant["tool_calls"]] == [
        {
            "command": ["ls", "-a"],
            "working_directory": "/repo",
            "timeout_ms": 5000,
            "env": {"LANG": "C"},
        },
        {"command": ["pwd"]},
        {"commands": ["make", "make test"], "max_output_length": 4096},
        {"type": "create_file", "path": "hello.txt", "diff": "+hello\n"},
    ]
    assert tools == [
        {"role": "tool", "tool_call_id": "call_l", "content": "a.txt\n"},
        {"role": "tool", "tool_call_id": "lsh_2", "content": '{"stdout": "/repo"}'},
        {
            "role": "tool",
            "tool_call_id": "call_s",
            "content": "command 1: exit code: 0\nstdout:\nbuilt\n\nstderr:\nwarning: x\n\n\n"
            "command 2: timed out\n(no output)",
        },
        {
            "role": "tool",
            "tool_call_id": "call_p",
            "content": "The patch failed:\nhello.txt exists",
        },
    ]
    assert last == {"role": "assistant", "content": "It exists already."}


@pytest.mark.parametrize(
    ("output", "text"),
    [
        (
            [{"stdout": "ok", "stderr": "", "outcome": {"type": "exit", "exit_code": 3}}],
            "exit code: 3\nstdout:\nok",
        ),
        ([], "(no output)"),
        ([{"stdout": "", "stderr": "", "outcome": {"type": "timeout"}}], "timed out\n(no output)"),
    ],
)
def test_shell_outputs_are_told_as_text(output, text):
    body = chat_body(input=[SHELL_CALL, {**SHELL_OUTPUT, "output": output}])
    assert body["messages"][1]["content"] == text


@pytest.mark.parametrize(
    ("status", "output", "text"),
    [
        ("completed", None, "The patch was applied."),
        ("completed", "Done", "Done"),
        ("failed", None, "The patch failed."),
    ],
)
def test_apply_patch_outputs_are_told_as_text(status, output, text):
    result = {"type": "apply_patch_call_output", "call_id": "call_p", "status": status}
    body = chat_body(input=[PATCH_CALL, {**result, "output": output}])
    assert body["messages"][1]["content"] == text


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([{**SHELL_CALL, "action": None}], "input[0].action"),
        ([{**SHELL_CALL, "action": {"commands": "ls"}}], "input[0].action.commands"),
        ([{**LOCAL_SHELL_CALL, "action": {"command": [1]}}], "input[0].action.command"),
        ([{**LOCAL_SHELL_CALL, "call_id": None, "id": None}], "input[0].call_id"),
        ([{**PATCH_CALL, "call_id": 5}], "input[0].call_id"),
        ([{**PATCH_CALL, "operation": {"type": "rename", "path": "a"}}], "input[0].operation.type"),
        ([{**PATCH_CALL, "operation": {"type": "delete_file"}}], "input[0].operation.path"),
        (
            [{**PATCH_CALL, "operation": {"type": "update_file", "path": "a"}}],
            "input[0].operation.diff",
        ),
        ([SHELL_CALL, {**SHELL_OUTPUT, "output": "ok"}], "input[1].output"),
        ([SHELL_CALL, {**SHELL_OUTPUT, "output": [{"stdout": 1}]}], "input[1].output[0].stdout"),
        (
            [PATCH_CALL, {"type": "apply_patch_call_output", "call_id": "call_p", "output": 1}],
            "input[1].output",
        ),
        ([LOCAL_SHELL_CALL, {"type": "local_shell_call_output", "id": "lsh_1"}], "input[1].output"),
        ([{**SHELL_OUTPUT, "call_id": "nope"}], "input[0].call_id"),
        ([SHELL_CALL, SHELL_OUTPUT, SHELL_OUTPUT], "input[2].call_id"),
        ([SHELL_CALL, {**SHELL_CALL, "id": "sh_2"}], "input[1].call_id"),
    ],
)
def test_bad_client_tool_items_are_named(items, param):
    error = refused(
        {"model": "demo", "input": [user(), *items]} if False else {"model": "demo", "input": items}
    )
    assert error.param == param and f"'{param}'" in error.message


def test_a_client_tool_call_without_its_output_is_refused_naming_the_output():
    error = refused({"model": "demo", "input": [user(), SHELL_CALL]})
    assert error.param == "input[1]" and "no shell_call_output" in error.message


def function_call(call_id: str, name: str, arguments) -> dict:
    """A chat completion's tool call."""
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": call_id, "type": "function", "function": function}


def test_client_tool_calls_from_the_upstream_become_their_items():
    calls = [
        function_call(
            "c1", "local_shell", {"command": ["ls"], "env": {"A": "1"}, "user": "me", "x": 1}
        ),
        function_call("c2", "shell", {"commands": ["ls", "pwd"], "max_output_length": 100}),
        function_call("c3", "apply_patch", {"type": "delete_file", "path": "old", "diff": "x"}),
    ]
    request = {"model": "demo", "input": "Hi", "tools": CLIENT_TOOLS}
    data = rp.from_chat(completion({"tool_calls": calls}, "tool_calls"), model="m", request=request)
    local, shell, patch = Response.model_validate(data).output
    assert local.type == "local_shell_call" and local.id.startswith("lsh_")
    assert local.action.model_dump(exclude_none=True) == {
        "type": "exec",
        "command": ["ls"],
        "env": {"A": "1"},
        "user": "me",
    }
    assert shell.type == "shell_call" and shell.id.startswith("sh_") and shell.call_id == "c2"
    assert shell.action.model_dump(exclude_none=True) == {
        "commands": ["ls", "pwd"],
        "max_output_length": 100,
    }
    assert patch.type == "apply_patch_call" and patch.id.startswith("apc_")
    assert patch.operation.model_dump() == {"type": "delete_file", "path": "old"}
    assert {local.status, shell.status, patch.status} == {"completed"}
    # cut by the output limit: incomplete (an apply_patch_call is in_progress: it has no other)
    cut = rp.from_chat(completion({"tool_calls": calls}, "length"), model="m", request=request)
    assert [item["status"] for item in cut["output"]] == ["incomplete", "incomplete", "in_progress"]
    Response.model_validate(cut)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("local_shell", '{"command": "ls"}'),
        ("local_shell", '{"command": []}'),
        ("local_shell", '{"command": ["ls"], "env": {"A": 1}}'),
        ("local_shell", '{"command": ["ls"], "working_directory": 5}'),
        ("shell", '{"commands": ["ls"], "timeout_ms": "soon"}'),
        ("shell", '{"commands": ["ls"], "max_output_length": -1}'),
        ("shell", '["ls"]'),
        ("shell", '{"commands": ["ls"'),
        ("apply_patch", '{"type": "create_file", "path": "a"}'),
        ("apply_patch", '{"type": "move_file", "path": "a", "diff": ""}'),
        ("apply_patch", '{"type": "update_file", "path": "", "diff": ""}'),
        ("apply_patch", ""),
    ],
)
def test_arguments_that_do_not_fit_a_client_tool_come_back_as_a_function_call(name, arguments):
    call = {**function_call("c1", name, None), "function": {"name": name, "arguments": arguments}}
    request = {"model": "demo", "input": "Hi", "tools": CLIENT_TOOLS}
    data = rp.from_chat(
        completion({"tool_calls": [call]}, "tool_calls"), model="m", request=request
    )
    item = Response.model_validate(data).output[0]
    assert (item.type, item.name, item.call_id) == ("function_call", name, "c1")
    assert item.arguments == (arguments or "{}") and item.id.startswith("fc_")
    events, _ = run(
        [chunk({"tool_calls": [tool_delta(0, "c1", name, arguments)]})], request=request
    )
    accumulate(events, request)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(i["type"], i["arguments"]) for i in done] == [("function_call", arguments or "{}")]


def test_client_tool_calls_stream_as_their_items_and_go_back_into_input():
    request = {"model": "demo", "input": "Hi", "tools": [*CLIENT_TOOLS, WEATHER]}
    shell_args = json.dumps({"commands": ["ls", "cat README.md"]})
    patch_args = json.dumps({"type": "create_file", "path": "a.txt", "diff": "+a\n"})
    chunks = [
        chunk({"tool_calls": [tool_delta(0, "call_s", "shell", shell_args[:10])]}),
        chunk({"tool_calls": [tool_delta(1, "call_w", "get_weather", '{"city":')]}),
        chunk({"tool_calls": [tool_delta(0, args=shell_args[10:])]}),
        chunk({"tool_calls": [tool_delta(2, "call_p", "apply_patch", patch_args)]}),
        chunk({"tool_calls": [tool_delta(1, args='"Oslo"}')]}),
        chunk({}, finish="tool_calls"),
    ]
    events, _ = run(chunks, request=request)
    accumulate(events, request)
    kinds = [(e["type"], e.get("output_index")) for e in events]
    # The weather call streams; the shell call is told whole when it ends (its item type depends
    # on its arguments), in its place in the output, its commands one by one.
    assert kinds[2:] == [
        ("response.output_item.added", 1),
        ("response.function_call_arguments.delta", 1),
        ("response.function_call_arguments.delta", 1),
        ("response.output_item.added", 0),
        *[(f"response.shell_call_command.{step}", 0) for step in ("added", "delta", "done")] * 2,
        ("response.output_item.done", 0),
        ("response.function_call_arguments.done", 1),
        ("response.output_item.done", 1),
        ("response.output_item.added", 2),
        ("response.output_item.done", 2),
        ("response.completed", None),
    ]
    added = events[5]["item"]
    assert added["type"] == "shell_call" and added["status"] == "in_progress"
    assert added["action"]["commands"] == []
    commands = [e for e in events if e["type"] == "response.shell_call_command.done"]
    assert [(e["command_index"], e["command"]) for e in commands] == [
        (0, "ls"),
        (1, "cat README.md"),
    ]
    final = Response.model_validate(events[-1]["response"])
    assert [item.type for item in final.output] == [
        "shell_call",
        "function_call",
        "apply_patch_call",
    ]
    # what Codex sends back: the items, then their outputs
    history = [item.model_dump(exclude_none=True) for item in final.output]
    outputs = [
        {**SHELL_OUTPUT, "output": SHELL_OUTPUT["output"][:1]},
        output_item("call_w"),
        {"type": "apply_patch_call_output", "call_id": "call_p", "status": "completed"},
    ]
    messages = chat_body(input=[user(), *history, *outputs], tools=request["tools"])["messages"]
    assert [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in messages[1]["tool_calls"]
    ] == [
        ("call_s", "shell", json.loads(shell_args)),
        ("call_w", "get_weather", {"city": "Oslo"}),
        ("call_p", "apply_patch", json.loads(patch_args)),
    ]
    assert [m["role"] for m in messages[2:]] == ["tool"] * 3


def test_a_failure_mid_stream_closes_a_client_tool_call_as_incomplete():
    request = {"model": "demo", "input": "Hi", "tools": CLIENT_TOOLS}
    chunks = [
        chunk({"tool_calls": [tool_delta(0, "c1", "apply_patch", '{"type":"delete_file",')]}),
        chunk({"tool_calls": [tool_delta(0, args='"path":"a"}')]}),
        chunk({"tool_calls": [tool_delta(1, "c2", "local_shell", '{"command":["ls"]}')]}),
    ]
    events, _ = run(chunks, request=request, end=(502, "Gone."))
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(i["type"], i["status"]) for i in done] == [
        ("apply_patch_call", "in_progress"),
        ("local_shell_call", "incomplete"),
    ]
    assert events[-1]["type"] == "response.failed"


CLIENT_TOOLS_REQUEST = {
    "model": "gpt-5-codex",
    "input": [
        user("Make hello.txt"),
        LOCAL_SHELL_CALL,
        {"type": "function_call_output", "call_id": "call_l", "output": "a.txt"},
        SHELL_CALL,
        SHELL_OUTPUT,
        PATCH_CALL,
        {"type": "apply_patch_call_output", "call_id": "call_p", "status": "completed"},
    ],
    "tools": [*CLIENT_TOOLS, {"type": "function", "name": "shell"}],
    "tool_choice": {"type": "apply_patch"},
    "stream": True,
}


@settings(max_examples=200, deadline=None, database=None)
@given(st.sampled_from(list(paths(CLIENT_TOOLS_REQUEST))), JSON)
def test_a_client_tools_request_with_any_part_replaced_is_translated_or_refused(path, value):
    body = replaced(CLIENT_TOOLS_REQUEST, path, value)
    if translated_or_refused(body) is not None:
        Response.model_validate(
            rp.from_chat(completion({"content": "ok"}), model="m", request=body)
        )
        stream = rp.ResponsesStream(model="demo", request=body)
        parse(stream.start() + stream.finish())
