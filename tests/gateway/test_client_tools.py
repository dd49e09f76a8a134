"""OpenAI's tools that the client runs (local_shell, shell, apply_patch: Codex declares them for
OpenAI's models) on a chat completions upstream, through the openai SDK: the upstream gets them
as function tools, its calls come back as the tools' own items, and the calls and their outputs
in the next request's input reach it as tool calls and tool messages. Every streamed event is
checked against the SDK's types."""

import json

import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import (
    ResponseApplyPatchToolCall,
    ResponseFunctionShellToolCall,
    ResponseStreamEvent,
)
from openai.types.responses.response_output_item import LocalShellCall
from pydantic import TypeAdapter

from apps.catalog.pricing import usage_cost, usage_from_provider
from apps.catalog.selectors import catalog_routes
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageRecord

from . import fake_upstream
from .conftest import drain

EVENT = TypeAdapter(ResponseStreamEvent)
CLIENT_TOOLS = [
    {"type": "local_shell"},
    {"type": "shell", "environment": {"type": "local"}},
    {"type": "apply_patch"},
]
PATCH = "@@ # Title\n-old line\n+new line\n"


def tool_call(call_id: str, name: str, arguments) -> dict:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


SCRIPTED_CALLS = [
    tool_call("call_ls", "local_shell", {"command": ["ls", "-a"], "working_directory": "/repo"}),
    tool_call("call_sh", "shell", {"commands": ["pytest -q", "git status"], "timeout_ms": 60000}),
    tool_call(
        "call_ap", "apply_patch", {"type": "update_file", "path": "README.md", "diff": PATCH}
    ),
]


def respond(client, stream: bool, **kwargs):
    """The response, and (streamed) the type of every event: each event as it came is
    validated by the SDK's types and goes through the SDK's own accumulator."""
    if not stream:
        return client.responses.create(**kwargs), []
    state = ResponseStreamState(input_tools=kwargs.get("tools", omit), text_format=omit)
    kinds = []
    with client.responses.create(stream=True, **kwargs) as events:
        for event in events:
            EVENT.validate_python(event.to_dict())
            state.handle_event(event)
            kinds.append(event.type)
    assert event.type == "response.completed"
    return event.response, kinds


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_client_tools_round_trip_through_a_chat_upstream(api, customer, client_for, stream):
    user, _, secret = customer
    client = client_for(secret)
    fake_upstream.scripted.append({"content": "Looking.", "tool_calls": SCRIPTED_CALLS})
    response, kinds = respond(
        client,
        stream,
        model="fake-scripted",
        input="Fix the README's title",
        tools=CLIENT_TOOLS,
        store=False,
    )
    # The upstream got three function tools, one per client tool, taking the call's action.
    sent = fake_upstream.received[-1]
    functions = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert list(functions) == ["local_shell", "shell", "apply_patch"]
    assert functions["local_shell"]["parameters"]["required"] == ["command"]
    assert functions["shell"]["parameters"]["required"] == ["commands"]
    assert functions["apply_patch"]["parameters"]["required"] == ["type", "path"]
    assert {t["type"] for t in sent["tools"]} == {"function"}
    # Its calls came back as the tools' own items, in the SDK's types.
    assert response.output_text == "Looking."
    local, shell, patch = response.output[1:]
    assert isinstance(local, LocalShellCall) and local.call_id == "call_ls"
    assert local.action.command == ["ls", "-a"] and local.action.working_directory == "/repo"
    assert local.action.type == "exec" and local.action.env == {}
    assert isinstance(shell, ResponseFunctionShellToolCall) and shell.call_id == "call_sh"
    assert shell.action.commands == ["pytest -q", "git status"]
    assert shell.action.timeout_ms == 60000
    assert isinstance(patch, ResponseApplyPatchToolCall) and patch.call_id == "call_ap"
    assert (patch.operation.type, patch.operation.path, patch.operation.diff) == (
        "update_file",
        "README.md",
        PATCH,
    )
    assert {item.status for item in response.output} == {"completed"}
    assert [tool.type for tool in response.tools] == ["local_shell", "shell", "apply_patch"]
    if stream:
        assert kinds.count("response.output_item.done") == 4
        assert kinds.count("response.shell_call_command.done") == 2
        assert "response.function_call_arguments.delta" not in kinds

    # The next turn: the calls with their outputs, as Codex sends them (a local shell call is
    # answered with a function_call_output).
    history = [item.model_dump(exclude_none=True) for item in response.output]
    outputs = [
        {"type": "function_call_output", "call_id": "call_ls", "output": ".\n..\nREADME.md\n"},
        {
            "type": "shell_call_output",
            "call_id": "call_sh",
            "output": [
                {"stdout": "1 passed\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}},
                {
                    "stdout": "",
                    "stderr": "fatal: not a git repository\n",
                    "outcome": {"type": "exit", "exit_code": 128},
                },
            ],
        },
        {
            "type": "apply_patch_call_output",
            "call_id": "call_ap",
            "status": "completed",
            "output": "Updated README.md",
        },
    ]
    answer, _ = respond(
        client,
        stream,
        model="fake-scripted",
        input=[{"role": "user", "content": "Fix the README's title"}, *history, *outputs],
        tools=CLIENT_TOOLS,
    )
    assert answer.output_text == "OK."
    messages = fake_upstream.received[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "tool"]
    assert messages[1]["content"] == "Looking."
    calls = [(c["id"], c["function"]["name"]) for c in messages[1]["tool_calls"]]
    assert calls == [("call_ls", "local_shell"), ("call_sh", "shell"), ("call_ap", "apply_patch")]
    assert [json.loads(c["function"]["arguments"]) for c in messages[1]["tool_calls"]] == [
        json.loads(call["function"]["arguments"]) for call in SCRIPTED_CALLS
    ]
    assert [m["tool_call_id"] for m in messages[2:]] == ["call_ls", "call_sh", "call_ap"]
    assert messages[2]["content"] == ".\n..\nREADME.md\n"
    assert messages[3]["content"] == (
        "command 1: exit code: 0\nstdout:\n1 passed\n\n\n"
        "command 2: exit code: 128\nstderr:\nfatal: not a git repository\n"
    )
    assert messages[4]["content"] == "Updated README.md"

    # Priced as tokens: each turn is charged the usage the upstream reported.
    drain(api)
    each = usage_cost(
        catalog_routes()["fake-scripted"], usage_from_provider(fake_upstream.SCRIPTED_USAGE)
    )
    records = list(UsageRecord.objects.filter(user=user))
    assert [(r.protocol, r.cost) for r in records] == [("responses", each)] * 2
    assert ledger_problems() == []


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_client_tools_keep_clear_of_the_clients_own_names_and_bad_arguments_stay_calls(
    api, customer, client_for, stream
):
    """Codex's own function tool named shell keeps its name (the shell tool's function becomes
    builtin_shell); a call whose arguments do not fit its tool comes back as a function_call."""
    client = client_for(customer[2])
    own_shell = {
        "type": "function",
        "name": "shell",
        "description": "Runs a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "array"}}},
        "strict": False,
    }
    fake_upstream.scripted.append(
        {
            "tool_calls": [
                tool_call("call_1", "shell", {"command": ["ls"]}),
                tool_call("call_2", "builtin_shell", {"commands": ["ls"]}),
                tool_call("call_3", "apply_patch", {"patch": "*** Begin Patch"}),
            ]
        }
    )
    response, _ = respond(
        client,
        stream,
        model="fake-scripted",
        input="List the files",
        tools=[own_shell, {"type": "shell"}, {"type": "apply_patch"}],
        tool_choice={"type": "apply_patch"},
    )
    sent = fake_upstream.received[-1]
    assert [t["function"]["name"] for t in sent["tools"]] == [
        "shell",
        "builtin_shell",
        "apply_patch",
    ]
    assert sent["tools"][0]["function"]["description"] == "Runs a command"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    assert response.tool_choice.type == "apply_patch"
    own, builtin, bad = response.output
    assert (own.type, own.name, json.loads(own.arguments)) == (
        "function_call",
        "shell",
        {"command": ["ls"]},
    )
    assert builtin.type == "shell_call" and builtin.action.commands == ["ls"]
    assert (bad.type, bad.name, bad.call_id) == ("function_call", "apply_patch", "call_3")
    assert json.loads(bad.arguments) == {"patch": "*** Begin Patch"}
