"""Responses answers from chat completions: the response object, its usage and errors."""

import time

import orjson

from ...errors import ApiError
from .client_tools import CLIENT_TOOLS, PATCH_OPERATIONS, _is_strings
from .common import _is_int, _is_number, new_id
from .parse import EFFORTS, SUMMARIES, _table

# --- answers ---------------------------------------------------------------------------------


def _count(value) -> int:
    return max(int(value), 0) if _is_number(value) else 0


def usage_from_chat(usage) -> dict:
    """Chat completions usage → Responses usage (zeros when there is none)."""
    usage = usage if isinstance(usage, dict) else {}
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = details.get("cached_tokens")
    if not _is_number(cached):
        cached = usage.get("prompt_cache_hit_tokens")  # DeepSeek
    if not _is_number(cached):
        cached = usage.get("cached_tokens")  # Moonshot
    written = details.get("cache_write_tokens")
    if not _is_number(written):
        written = usage.get("cache_creation_input_tokens")
    output_details = usage.get("completion_tokens_details")
    output_details = output_details if isinstance(output_details, dict) else {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": min(_count(cached), prompt),
            "cache_write_tokens": _count(written),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": _count(output_details.get("reasoning_tokens"))
        },
        "total_tokens": prompt + completion,
    }


def _echo_text(text) -> dict:
    form = text.get("format") if isinstance(text, dict) else None
    echo: dict = {"format": {"type": "text"}}
    if isinstance(form, dict) and form.get("type") == "json_schema":
        echo["format"] = {
            "type": "json_schema",
            "name": form.get("name") if isinstance(form.get("name"), str) else "response",
            "schema": form.get("schema") if isinstance(form.get("schema"), dict) else {},
        }
        for key in ("description", "strict"):
            if form.get(key) is not None:
                echo["format"][key] = form[key]
    elif isinstance(form, dict) and form.get("type") == "json_object":
        echo["format"] = {"type": "json_object"}
    if isinstance(text, dict) and text.get("verbosity") in ("low", "medium", "high"):
        echo["verbosity"] = text["verbosity"]
    return echo


def _echo_tool(tool) -> dict | None:
    """A function, custom, namespace or client tool as the response lists it (None for the
    others)."""
    if not isinstance(tool, dict):
        return None
    kind = tool.get("type")
    if isinstance(kind, str) and kind in CLIENT_TOOLS:
        environment = tool.get("environment")
        if kind == "shell" and isinstance(environment, dict):
            if environment.get("type") not in (None, "local"):
                return None  # OpenAI's container: not given to the model
            return {"type": "shell", "environment": {"type": "local"}}
        return {"type": kind}
    if not isinstance(tool.get("name"), str):
        return None
    echo = {"type": kind, "name": tool["name"]}
    if isinstance(tool.get("description"), str):
        echo["description"] = tool["description"]
    if kind == "function":
        echo["parameters"] = (
            tool["parameters"] if isinstance(tool.get("parameters"), dict) else None
        )
        echo["strict"] = tool["strict"] if isinstance(tool.get("strict"), bool) else None
    elif kind == "custom":
        form = tool.get("format")
        if isinstance(form, dict) and form.get("type") == "text":
            echo["format"] = {"type": "text"}
        elif (
            isinstance(form, dict)
            and form.get("type") == "grammar"
            and isinstance(form.get("definition"), str)
            and form.get("syntax") in ("lark", "regex")
        ):
            echo["format"] = {k: form[k] for k in ("type", "syntax", "definition")}
    elif kind == "namespace":
        echo["description"] = echo.get("description", "")
        inner = tool.get("tools") if isinstance(tool.get("tools"), list) else []
        echo["tools"] = [
            member
            for member in map(_echo_tool, inner)
            if member is not None and member["type"] in ("function", "custom")
        ]
    else:
        return None
    return echo


def _echo_choice(choice):
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("shell", "apply_patch"):
        return {"type": choice["type"]}
    if (
        isinstance(choice, dict)
        and choice.get("type") in ("function", "custom")
        and isinstance(choice.get("name"), str)
    ):
        return {"type": choice["type"], "name": choice["name"]}
    return "auto"


def _echo(request: dict, model: str) -> dict:
    """The request fields a response object repeats."""
    tools = request.get("tools")
    reasoning = request.get("reasoning")
    if isinstance(reasoning, dict):
        effort, summary = reasoning.get("effort"), reasoning.get("summary")
        reasoning = {
            "effort": effort if isinstance(effort, str) and effort in EFFORTS else None,
            "summary": summary if summary in SUMMARIES else None,
        }
    else:
        reasoning = None

    def pick(name, test):
        value = request.get(name)
        return value if test(value) else None

    return {
        "object": "response",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": pick("instructions", lambda v: isinstance(v, str)),
        "max_output_tokens": pick("max_output_tokens", _is_int),
        "metadata": pick("metadata", lambda v: isinstance(v, dict)) or {},
        "model": model,
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "previous_response_id": None,
        "prompt_cache_key": pick("prompt_cache_key", lambda v: isinstance(v, str)),
        "reasoning": reasoning,
        "safety_identifier": pick("safety_identifier", lambda v: isinstance(v, str)),
        "store": False,
        "temperature": pick("temperature", _is_number),
        "text": _echo_text(request.get("text")),
        "tool_choice": _echo_choice(request.get("tool_choice")),
        "tools": [tool for tool in map(_echo_tool, tools) if tool is not None]
        if isinstance(tools, list)
        else [],
        "top_p": pick("top_p", _is_number),
        "truncation": request.get("truncation")
        if request.get("truncation") in ("auto", "disabled")
        else "disabled",
        "user": pick("user", lambda v: isinstance(v, str)),
    }


def _status(finish_reason) -> tuple[str, dict | None]:
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some upstreams answer with parts
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _reasoning_of(message: dict) -> str:
    for key in ("reasoning_content", "reasoning"):
        if isinstance(message.get(key), str) and message[key]:
            return message[key]
    return ""


def _text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _reasoning_item(item_id: str, text: str, status: str = "completed") -> dict:
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
        "status": status,
    }


def _custom_input(arguments: str) -> str:
    """The raw input of a custom tool from the function call's JSON arguments."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict):
        if isinstance(value.get("input"), str):
            return value["input"]
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(value) == 1 and strings:
            return strings[0]
    return value if isinstance(value, str) else arguments


def _integer(value) -> bool:
    return value is None or (_is_int(value) and value >= 0)


def _client_call(kind: str, arguments: str) -> dict | None:
    """A client tool's call from its function's JSON arguments: {"action": ...} or
    {"operation": ...}, None when they do not fit the tool (keys it does not have are left
    out)."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    if kind == "apply_patch":
        operation, path = value.get("type"), value.get("path")
        if operation not in PATCH_OPERATIONS or not isinstance(path, str) or not path:
            return None
        if operation == "delete_file":
            return {"operation": {"type": operation, "path": path}}
        if not isinstance(value.get("diff"), str):
            return None
        return {"operation": {"type": operation, "path": path, "diff": value["diff"]}}
    key = "command" if kind == "local_shell" else "commands"
    if not _is_strings(value.get(key)) or not value[key] or not _integer(value.get("timeout_ms")):
        return None
    action = {key: value[key]}
    if value.get("timeout_ms") is not None:
        action["timeout_ms"] = value["timeout_ms"]
    if kind == "shell":
        if not _integer(value.get("max_output_length")):
            return None
        if value.get("max_output_length") is not None:
            action["max_output_length"] = value["max_output_length"]
        return {"action": action}
    env = value.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        return None
    action = {"type": "exec", **action, "env": env}
    for name in ("working_directory", "user"):
        if value.get(name) is not None:
            if not isinstance(value[name], str):
                return None
            action[name] = value[name]
    return {"action": action}


CALL_PREFIXES = {
    "function_call": "fc",
    "custom_tool_call": "ctc",
    "local_shell_call": "lsh",
    "shell_call": "sh",
    "apply_patch_call": "apc",
}


def _kind(table: dict, chat_name: str) -> str:
    """function, custom or a client tool's type: what a call of this chat tool becomes."""
    entry = table.get(chat_name)
    return entry[2] if entry else "function"


def _call_item(
    table: dict, item_id: str | None, call_id: str, chat_name: str, arguments: str, status: str
) -> dict:
    """A chat tool call → a function_call item (or a custom_tool_call for a custom tool, the
    call item of a client tool when its arguments fit). ``item_id``: None for a new one."""
    name, namespace, kind = table.get(chat_name) or (chat_name, None, "function")
    client = _client_call(kind, arguments) if kind in CLIENT_TOOLS else None
    if client is not None:
        if kind == "apply_patch" and status != "completed":
            status = "in_progress"  # the only other status an apply_patch_call has
        item = {"type": CLIENT_TOOLS[kind], "call_id": call_id, **client, "status": status}
    elif kind == "custom":
        item = {
            "type": "custom_tool_call",
            "call_id": call_id,
            "name": name,
            "input": _custom_input(arguments),
            "status": status,
        }
    else:  # a function, or a client tool's call whose arguments do not fit it
        item = {
            "type": "function_call",
            "call_id": call_id,
            "name": name if kind in ("function", "custom") else chat_name,
            "arguments": arguments or "{}",
            "status": status,
        }
    if namespace:
        item["namespace"] = namespace
    return {"id": item_id or new_id(CALL_PREFIXES[item["type"]]), **item}


def from_chat(response: dict, *, model: str, request: dict) -> dict:
    """A chat completion → a Responses ``response`` object (``model``: the public id)."""
    request = request if isinstance(request, dict) else {}
    choices = response.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    status, incomplete = _status(choice.get("finish_reason"))
    item_status = "completed" if status == "completed" else "incomplete"
    output = []
    reasoning = _reasoning_of(message)
    if reasoning:
        output.append(_reasoning_item(new_id("rs"), reasoning))
    parts = []
    text = _text_of(message.get("content"))
    if text:
        parts.append(_text_part(text))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(
            {
                "id": new_id("msg"),
                "type": "message",
                "role": "assistant",
                "status": item_status,
                "content": parts,
            }
        )
    calls = message.get("tool_calls")
    calls = [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []
    if isinstance(message.get("function_call"), dict):  # the legacy single call
        calls.append({"function": message["function_call"]})
    table = _table(request) if calls else {}
    seen: set = set()
    for call in calls:
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id or call_id in seen:
            call_id = new_id("call")
        seen.add(call_id)
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = orjson.dumps(arguments).decode() if arguments is not None else "{}"
        name = function.get("name") if isinstance(function.get("name"), str) else ""
        output.append(_call_item(table, None, call_id, name, arguments, item_status))
    now = int(time.time())
    created = response.get("created")
    return {
        "id": new_id("resp"),
        **_echo(request, model),
        "created_at": created if _is_int(created) else now,
        "completed_at": now if status == "completed" else None,
        "status": status,
        "incomplete_details": incomplete,
        "output": output,
        "usage": usage_from_chat(response.get("usage")),
    }


def error_body(exc: ApiError) -> bytes:
    """The Responses API's errors have the chat completions shape."""
    return exc.body()
