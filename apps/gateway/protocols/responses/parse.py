"""Responses requests → chat completions requests (``to_chat``), and the tables the answers
use too (see the package's docstring for the choices made)."""

import re

from ...errors import ApiError, bad_request
from .client_tools import (
    CLIENT_FUNCTIONS,
    CLIENT_TOOLS,
)
from .common import _invalid, _is_int, _is_number, _missing, _string
from .input_items import _messages

NAME = "responses"
HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_2025_08_26",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "computer",
        "computer_use_preview",
        "mcp",
        "tool_search",
        "programmatic_tool_calling",
    }
)
EFFORTS = {
    "none": None,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}
SUMMARIES = ("auto", "concise", "detailed")
CUSTOM_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's raw input."}},
    "required": ["input"],
    "additionalProperties": False,
}
STATELESS = (
    "This gateway does not store responses, so '{name}' cannot be used: send the whole "
    "conversation in 'input' (with store: false) instead."
)
# The error codes response.failed carries that the SDK knows, by HTTP status.
FAILURE_CODES = {429: "rate_limit_exceeded", 400: "invalid_prompt", 413: "invalid_prompt"}
NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")


# --- requests --------------------------------------------------------------------------------


def _qualified(namespace: str, name: str) -> str:
    joined = f"{namespace}{name}" if namespace.endswith("_") else f"{namespace}__{name}"
    return NOT_NAME.sub("_", joined)[:64]


def _custom_description(tool: dict) -> str:
    texts = [tool["description"]] if tool.get("description") else []
    texts.append(
        "This tool takes free text: put its whole input, as is, in the string field 'input'."
    )
    form = tool.get("format")
    if isinstance(form, dict) and isinstance(form.get("definition"), str):
        syntax = form.get("syntax") if isinstance(form.get("syntax"), str) else ""
        texts.append(f"The input must follow this {syntax} grammar:\n{form['definition']}")
    return "\n\n".join(texts)


def _tool(tool: dict, where: str, namespace: str | None, out: list, table: dict) -> None:
    kind = tool["type"]
    name = _string(tool, "name", where)
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise _invalid(f"{where}.description", "a string")
    if kind == "function":
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _invalid(f"{where}.parameters", "a JSON schema object")
        strict = tool.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _invalid(f"{where}.strict", "true or false")
        function = {"name": name}
        if description:
            function["description"] = description
        function["parameters"] = (
            parameters if parameters is not None else {"type": "object", "properties": {}}
        )
        if strict is not None:
            function["strict"] = strict
    else:  # custom
        if tool.get("format") is not None and not isinstance(tool["format"], dict):
            raise _invalid(f"{where}.format", "an object")
        function = {
            "name": name,
            "description": _custom_description(tool),
            "parameters": {**CUSTOM_PARAMETERS, "properties": {**CUSTOM_PARAMETERS["properties"]}},
        }
    chat_name = name
    if chat_name in table and namespace:
        chat_name = _qualified(namespace, name)
    if chat_name in table:
        return  # the same name twice: the first one stands
    function["name"] = chat_name
    table[chat_name] = (name, namespace, kind)
    out.append({"type": "function", "function": function})


def _client_name(kind: str, table: dict) -> str:
    """The chat function of a client tool: its own name, unless one of the client's tools has
    it (then builtin_<name>, then builtin_<name>_2...)."""
    for candidate in (kind, f"builtin_{kind}"):
        if candidate not in table:
            return candidate
    number = 2
    while f"builtin_{kind}_{number}" in table:
        number += 1
    return f"builtin_{kind}_{number}"


def _client_names(table: dict) -> dict:
    """Client tool type → the chat function that stands for it (whether the request declares
    the tool or only has its calls in the history)."""
    names = {entry[2]: chat for chat, entry in table.items() if entry[2] in CLIENT_TOOLS}
    taken = dict(table)
    for kind in CLIENT_TOOLS:
        if kind not in names:
            names[kind] = _client_name(kind, taken)
            taken[names[kind]] = None
    return names


def _runs_on_client(tool: dict) -> bool:
    """local_shell and apply_patch always; shell unless its environment is OpenAI's container."""
    environment = tool.get("environment")
    return (
        tool["type"] != "shell"
        or not isinstance(environment, dict)
        or environment.get("type") in (None, "local")
    )


def _tools(tools) -> tuple[list[dict], dict]:
    """Responses tools → chat tools, and {chat name: (name, namespace, kind)} where kind is
    function, custom, or the type of a client tool (local_shell, shell, apply_patch)."""
    if not isinstance(tools, list):
        raise _invalid("tools", "an array of tools")
    out: list[dict] = []
    table: dict = {}
    client: list[str] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _invalid(where, "an object")
        kind = tool.get("type")
        if kind in ("function", "custom"):
            _tool(tool, where, None, out, table)
        elif kind == "namespace":
            namespace = _string(tool, "name", where)
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise _invalid(f"{where}.tools", "an array of function tools")
            for position, member in enumerate(inner):
                at = f"{where}.tools[{position}]"
                if not isinstance(member, dict):
                    raise _invalid(at, "an object")
                if member.get("type") in ("function", "custom"):
                    _tool(member, at, namespace, out, table)
                elif not isinstance(member.get("type"), str):
                    raise _missing(f"{at}.type", "function or custom")
        elif isinstance(kind, str) and kind in CLIENT_TOOLS:
            if kind not in client and _runs_on_client(tool):
                client.append(kind)
        elif not isinstance(kind, str):
            raise _missing(f"{where}.type", "function, custom or namespace")
        # Hosted tools (HOSTED_TOOLS) and types unknown here: the upstream cannot run them.
    # Named after the client's own tools, so that those keep their names.
    for kind in client:
        name = _client_name(kind, table)
        table[name] = (kind, None, kind)
        out.append({"type": "function", "function": {"name": name, **CLIENT_FUNCTIONS[kind]}})
    return out, table


def _table(request: dict) -> dict:
    """The tool table of a request that passed ``to_chat`` (empty when it has none)."""
    tools = request.get("tools")
    if not isinstance(tools, list):
        return {}
    try:
        return _tools(tools)[1]
    except ApiError:
        return {}


def _tool_choice(choice, table: dict):
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise bad_request(
                "'tool_choice' must be auto, none, required or an object naming a tool.",
                param="tool_choice",
            )
        return choice
    if not isinstance(choice, dict):
        raise _invalid("tool_choice", "a string or an object")
    if isinstance(choice.get("type"), str) and choice["type"] in CLIENT_TOOLS:
        for chat_name, (_, _, kind) in table.items():
            if kind == choice["type"]:
                return {"type": "function", "function": {"name": chat_name}}
        return "auto"  # a tool the request does not declare (or OpenAI's container shell)
    if choice.get("type") in ("function", "custom"):
        name = _string(choice, "name", "tool_choice")
        namespace = choice.get("namespace")
        for chat_name, (original, space, _) in table.items():
            if original == name and (not isinstance(namespace, str) or namespace == space):
                name = chat_name
                break
        return {"type": "function", "function": {"name": name}}
    return "auto"  # allowed_tools, hosted tools, mcp: the upstream chooses


def _check(body: dict, name: str, kinds, what: str):
    value = body.get(name)
    if value is not None and not isinstance(value, kinds):
        raise _invalid(name, what)
    return value


def _refuse_state(body: dict) -> None:
    for name in ("previous_response_id", "conversation", "prompt"):
        if body.get(name) is not None:
            raise bad_request(STATELESS.format(name=name), param=name, code="unsupported_parameter")
    background = body.get("background")
    if background is not None and not isinstance(background, bool):
        raise _invalid("background", "true or false")
    if background:
        raise bad_request(
            "This gateway does not store responses, so 'background' cannot be used: stream the "
            "response instead, and send the whole conversation in 'input' (with store: false).",
            param="background",
            code="unsupported_parameter",
        )


def _response_format(text) -> dict | None:
    if not isinstance(text, dict):
        raise _invalid("text", "an object")
    form = text.get("format")
    if form is None:
        return None
    if not isinstance(form, dict):
        raise _invalid("text.format", "an object")
    kind = form.get("type")
    if kind == "json_schema":
        schema = form.get("schema")
        if not isinstance(schema, dict):
            raise _invalid("text.format.schema", "a JSON schema object")
        name = form.get("name", "response")
        if not isinstance(name, str) or not name:
            raise _invalid("text.format.name", "a non-empty string")
        json_schema = {"name": name, "schema": schema}
        if isinstance(form.get("description"), str):
            json_schema["description"] = form["description"]
        strict = form.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _invalid("text.format.strict", "true or false")
        if strict is not None:
            json_schema["strict"] = strict
        return {"type": "json_schema", "json_schema": json_schema}
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "text":
        return None
    raise bad_request(
        "'text.format.type' must be text, json_schema or json_object.", param="text.format.type"
    )


def to_chat(body) -> dict:
    """A Responses request → a chat completions request (the model id as the client sent it)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_body")
    _refuse_state(body)
    model = body.get("model")
    if model is None:
        raise _missing("model", "a model id string")
    if not isinstance(model, str) or not model:
        raise _invalid("model", "a model id string")

    tools, table = _tools(body["tools"]) if body.get("tools") is not None else ([], {})
    renames = {(space, name): chat for chat, (name, space, _) in table.items() if space}
    messages: list[dict] = []
    instructions = _check(body, "instructions", str, "a string")
    if instructions:
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        if not items:
            raise bad_request("'input' must not be empty.", param="input")
        messages.extend(_messages(items, renames, _client_names(table)))
    elif items is None:
        raise _missing("input", "a string or an array of input items")
    else:
        raise _invalid("input", "a string or an array of input items")
    if not messages:
        raise bad_request("'input' holds no message the model can read.", param="input")

    payload: dict = {"model": model, "messages": messages}
    if tools:
        payload["tools"] = tools
    if body.get("tool_choice") is not None:
        choice = _tool_choice(body["tool_choice"], table)
        if tools:
            payload["tool_choice"] = choice
    parallel = _check(body, "parallel_tool_calls", bool, "true or false")
    if parallel is not None and tools:
        payload["parallel_tool_calls"] = parallel
    limit = body.get("max_output_tokens")
    if limit is not None:
        if not _is_int(limit) or limit < 1:
            raise bad_request(
                "'max_output_tokens' must be a positive integer.", param="max_output_tokens"
            )
        payload["max_tokens"] = limit
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(name)
        if value is not None:
            if not _is_number(value) or not 0 <= value <= high:
                raise bad_request(f"'{name}' must be a number from 0 to {high}.", param=name)
            payload[name] = value
    reasoning = _check(body, "reasoning", dict, "an object")
    if reasoning:
        effort = reasoning.get("effort")
        if effort is not None:
            if not isinstance(effort, str) or effort not in EFFORTS:
                raise bad_request(
                    "'reasoning.effort' must be none, minimal, low, medium, high or xhigh.",
                    param="reasoning.effort",
                )
            if EFFORTS[effort]:
                payload["reasoning_effort"] = EFFORTS[effort]
        summary = reasoning.get("summary")
        if summary is not None and summary not in SUMMARIES:
            raise bad_request(
                "'reasoning.summary' must be auto, concise or detailed.", param="reasoning.summary"
            )
    if body.get("text") is not None:
        response_format = _response_format(body["text"])
        if response_format:
            payload["response_format"] = response_format
    prompt_cache_key = _check(body, "prompt_cache_key", str, "a string")
    if prompt_cache_key:
        payload["prompt_cache_key"] = prompt_cache_key
    user = _check(body, "user", str, "a string")
    safety = _check(body, "safety_identifier", str, "a string")
    if user or safety:
        payload["user"] = user or safety
    # Accepted and not forwarded: nothing is stored, and these are OpenAI's own knobs.
    _check(body, "store", bool, "true or false")
    _check(body, "metadata", dict, "an object of strings")
    _check(body, "client_metadata", dict, "an object")
    _check(body, "stream_options", dict, "an object")
    _check(body, "service_tier", str, "a string")
    _check(body, "truncation", str, "auto or disabled")
    include = _check(body, "include", list, "an array of strings")
    if include is not None and not all(isinstance(entry, str) for entry in include):
        raise _invalid("include", "an array of strings")
    stream = _check(body, "stream", bool, "true or false")
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload
