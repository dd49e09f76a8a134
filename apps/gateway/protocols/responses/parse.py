"""Responses requests → chat completions requests (``to_chat``), and the tables the answers
use too (see the package's docstring for the choices made)."""

import re

import orjson

from ...errors import ApiError, bad_request
from .client_tools import (
    CALL_KINDS,
    CLIENT_FUNCTIONS,
    CLIENT_OUTPUTS,
    CLIENT_TOOLS,
    _client_arguments,
    _patch_output,
    _shell_output,
)
from .common import _invalid, _is_int, _is_number, _missing, _string

NAME = "responses"
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
TEXT_PARTS = ("input_text", "output_text", "text")
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
# Input items of tools the upstream cannot run: dropped, and so are their outputs.
DROPPED_CALLS = frozenset(
    {
        "computer_call",
        "web_search_call",
        "file_search_call",
        "image_generation_call",
        "code_interpreter_call",
        "mcp_call",
        "tool_search_call",
        "program",
    }
)
DROPPED_ITEMS = frozenset(
    {
        "computer_call_output",
        "tool_search_output",
        "program_output",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "additional_tools",
        "compaction",
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


def _part(part, where: str) -> dict:
    """One content part → a chat content part."""
    if not isinstance(part, dict):
        raise _invalid(where, "an object")
    kind = part.get("type")
    if kind in TEXT_PARTS:
        if not isinstance(part.get("text"), str):
            raise _invalid(f"{where}.text", "a string")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        if not isinstance(part.get("refusal"), str):
            raise _invalid(f"{where}.refusal", "a string")
        return {"type": "text", "text": part["refusal"]}
    if kind == "input_image":
        url = part.get("image_url")
        if url is None:
            url = part.get("file_id")
        if not isinstance(url, str) or not url:
            raise bad_request(
                f"'{where}.image_url' is required: a URL or a data URL (or give 'file_id').",
                param=f"{where}.image_url",
                code="missing_field",
            )
        image = {"url": url}
        detail = part.get("detail")
        if detail is not None and not isinstance(detail, str):
            raise _invalid(f"{where}.detail", "low, high or auto")
        if detail in ("low", "high", "auto"):
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        filename = part.get("filename")
        if filename is not None and not isinstance(filename, str):
            raise _invalid(f"{where}.filename", "a string")
        file = {"filename": filename or "file"}
        if isinstance(part.get("file_data"), str) and part["file_data"]:
            file["file_data"] = part["file_data"]
        elif isinstance(part.get("file_id"), str) and part["file_id"]:
            file["file_id"] = part["file_id"]
        elif part.get("file_url") is not None:
            raise bad_request(
                f"'{where}.file_url' is not supported here: send the file's content as "
                "'file_data' (a base64 data URL).",
                param=f"{where}.file_url",
                code="unsupported_value",
            )
        else:
            raise bad_request(
                f"'{where}.file_data' is required: a base64 data URL (or give 'file_id').",
                param=f"{where}.file_data",
                code="missing_field",
            )
        return {"type": "file", "file": file}
    if kind == "input_audio":
        if not isinstance(part.get("input_audio"), dict):
            raise _invalid(f"{where}.input_audio", "an object with data and format")
        return {"type": "input_audio", "input_audio": part["input_audio"]}
    if kind is None:
        raise _missing(f"{where}.type", "input_text, input_image or input_file")
    raise bad_request(
        f"'{where}.type' must be input_text, output_text, refusal, input_image or input_file, "
        f"not {kind!r}.",
        param=f"{where}.type",
    )


def _content(content, where: str, role: str):
    """A message's content → a chat string, or an array of parts when it holds more than text."""
    if isinstance(content, str):
        return content
    if content is None:
        raise _missing(where, "a string or an array of content parts")
    if not isinstance(content, list):
        raise _invalid(where, "a string or an array of content parts")
    parts = [_part(part, f"{where}[{index}]") for index, part in enumerate(content)]
    if all(part["type"] == "text" for part in parts):
        return "\n\n".join(part["text"] for part in parts)
    if role != "user":
        index = next(i for i, part in enumerate(parts) if part["type"] != "text")
        raise bad_request(
            f"'{where}[{index}]': only user messages can hold images, files or audio.",
            param=f"{where}[{index}].type",
        )
    return parts


def _tool_output(output, where: str) -> tuple[str, list]:
    """A function_call_output's output → the tool message's text, and its images and files."""
    if isinstance(output, str):
        return output, []
    if output is None:
        raise _missing(where, "a string or an array of input_text/input_image/input_file parts")
    if not isinstance(output, list):
        raise _invalid(where, "a string or an array of input_text/input_image/input_file parts")
    texts, attachments = [], []
    for index, part in enumerate(output):
        converted = _part(part, f"{where}[{index}]")
        if converted["type"] == "text":
            texts.append(converted["text"])
        else:
            attachments.append(converted)
            kind = "image" if converted["type"] == "image_url" else "file"
            texts.append(f"[{kind} {len(attachments)}: in the next user message]")
    return "\n".join(texts), attachments


class _Conversation:
    """Chat messages built from Responses input items, in order."""

    def __init__(self, renames: dict, client_names: dict):
        self.messages: list[dict] = []
        self.calls: dict[str, dict] = {}  # call_id -> {"message", "where", "answered", "output"}
        self.aliases: dict[str, str] = {}  # a local_shell_call's id -> its call_id
        self.client_names = client_names  # client tool type -> its chat function's name
        self.dropped: set = set()  # call ids of dropped items (their outputs go too)
        self.reasoning: list[str] = []  # for the next assistant message
        self.attachments: list[dict] = []  # tool outputs' images: a user message after them
        self.renames = renames  # (namespace, name) -> the chat tool's name
        # Tool results by the assistant message that made the calls (id of the message): they
        # are placed right after it when the conversation is finished, so placing one is O(1)
        # however many results and messages come between (the request stays linear).
        self.results: dict[int, list[dict]] = {}

    def _reason(self, message: dict) -> None:
        if self.reasoning:
            text = "\n\n".join(self.reasoning)
            before = message.get("reasoning_content")
            message["reasoning_content"] = f"{before}\n\n{text}" if before else text
            self.reasoning = []

    def add(self, message: dict) -> None:
        """Any message but a tool result."""
        if self.attachments:
            self.messages.append({"role": "user", "content": self.attachments})
            self.attachments = []
        if message["role"] == "assistant":
            self._reason(message)
        elif message["role"] == "user":
            self.reasoning = []
        self.messages.append(message)

    def message(self, item: dict, where: str) -> None:
        role = ROLES.get(item.get("role")) if isinstance(item.get("role"), str) else None
        if role is None:
            if item.get("role") is None:
                raise _missing(f"{where}.role", "user, assistant, system or developer")
            raise bad_request(
                f"'{where}.role' must be user, assistant, system or developer.",
                param=f"{where}.role",
            )
        self.add({"role": role, "content": _content(item.get("content"), f"{where}.content", role)})

    def call(self, item: dict, where: str, custom: bool) -> None:
        call_id = _string(item, "call_id", where)
        name = _string(item, "name", where)
        if custom:
            if not isinstance(item.get("input"), str):
                raise _invalid(f"{where}.input", "a string")
            arguments = orjson.dumps({"input": item["input"]}).decode()
        else:
            arguments = item.get("arguments")
            if arguments is None:
                raise _missing(f"{where}.arguments", "a JSON string")
            if not isinstance(arguments, str):
                raise _invalid(f"{where}.arguments", "a JSON string")
        namespace = item.get("namespace")
        if isinstance(namespace, str):
            name = self.renames.get((namespace, name), name)
        output = "custom_tool_call_output" if custom else "function_call_output"
        self._call(call_id, name, arguments, where, output)

    def client_call(self, item: dict, where: str, kind: str) -> None:
        """A local_shell_call, shell_call or apply_patch_call: a call of its function."""
        call_id = item.get("call_id")
        if call_id is None and kind == "local_shell":  # an id alone names it (Codex's rule)
            call_id = item.get("id")
        if call_id is None:
            raise _missing(f"{where}.call_id", "a string")
        if not isinstance(call_id, str) or not call_id:
            raise _invalid(f"{where}.call_id", "a non-empty string")
        arguments = orjson.dumps(_client_arguments(kind, item, where)).decode()
        self._call(
            call_id, self.client_names[kind], arguments, where, f"{CLIENT_TOOLS[kind]}_output"
        )
        if isinstance(item.get("id"), str) and item["id"] not in self.calls:
            self.aliases[item["id"]] = call_id  # local_shell_call_output names the call by id

    def _call(self, call_id: str, name: str, arguments: str, where: str, output: str) -> None:
        if call_id in self.calls:
            raise bad_request(
                f"'{where}.call_id': '{call_id}' is the call_id of an earlier call.",
                param=f"{where}.call_id",
            )
        last = self.messages[-1] if self.messages else None
        if (
            last is not None
            and last["role"] == "assistant"
            and not self.attachments
            and id(last) not in self.results  # calls after results start a new turn
        ):
            target = last
            self._reason(target)
        else:
            target = {"role": "assistant", "content": None}
            self.add(target)
        target.setdefault("tool_calls", []).append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )
        self.calls[call_id] = {
            "message": target,
            "where": where,
            "answered": False,
            "output": output,
        }

    def result(self, item: dict, where: str, kind: str = "function_call_output") -> None:
        """The output of a call: function_call_output (the answer to any call),
        custom_tool_call_output, or the output item of a client tool's call."""
        key = "call_id"
        if kind == "local_shell_call_output" and item.get("call_id") is None:
            key = "id"  # its id is the call's
        call_id = item.get(key)
        if call_id is None:
            raise _missing(f"{where}.{key}", "the call_id of the call this answers")
        if not isinstance(call_id, str):
            raise _invalid(f"{where}.{key}", "a string")
        if call_id in self.dropped:
            return
        call_id = self.aliases.get(call_id, call_id)
        call = self.calls.get(call_id)
        if call is None:
            raise bad_request(
                f"'{where}.{key}': no call with call_id '{call_id}' comes before this "
                "output. This gateway does not store responses: send the whole conversation in "
                "'input', each call before its output.",
                param=f"{where}.{key}",
            )
        if call["answered"]:
            raise bad_request(
                f"'{where}.{key}': the call '{call_id}' already has an output.",
                param=f"{where}.{key}",
            )
        attachments: list = []
        if kind == "shell_call_output":
            content = _shell_output(item.get("output"), f"{where}.output")
        elif kind == "apply_patch_call_output":
            content = _patch_output(item, where)
        elif kind == "local_shell_call_output":
            content = item.get("output")
            if not isinstance(content, str):
                raise _invalid(f"{where}.output", "a string")
        else:
            content, attachments = _tool_output(item.get("output"), f"{where}.output")
        message = {"role": "tool", "tool_call_id": call_id, "content": content}
        # After its call's earlier results, also when other messages came between.
        self.results.setdefault(id(call["message"]), []).append(message)
        if attachments:
            self.attachments.append(
                {"type": "text", "text": f"Attachments of the output of call {call_id}:"}
            )
            self.attachments.extend(attachments)
        call["answered"] = True

    def reasoning_item(self, item: dict, where: str) -> None:
        if item.get("encrypted_content"):
            return  # OpenAI's own reasoning: its summary is not this model's thinking
        texts = []
        for key, kinds in (("summary", ("summary_text",)), ("content", ("reasoning_text", "text"))):
            parts = item.get(key)
            if parts is None:
                continue
            if not isinstance(parts, list):
                raise _invalid(f"{where}.{key}", "an array")
            for part in parts:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str) and text and part.get("type") in kinds:
                    texts.append(text)
            if texts:
                break  # the summary, else the content
        self.reasoning.extend(texts)

    def drop(self, item: dict) -> None:
        for key in ("call_id", "id"):
            if isinstance(item.get(key), str):
                self.dropped.add(item[key])

    def finish(self) -> list[dict]:
        if self.attachments:
            self.messages.append({"role": "user", "content": self.attachments})
            self.attachments = []
        for call_id, call in self.calls.items():
            if not call["answered"]:
                where = call["where"]
                raise bad_request(
                    f"'{where}': the call '{call_id}' has no {call['output']}. Send each "
                    "call's output after it in 'input'.",
                    param=where,
                )
        out = []
        for message in self.messages:
            out.append(message)
            out.extend(self.results.get(id(message), ()))
        return out


def _messages(items: list, renames: dict, client_names: dict) -> list[dict]:
    conversation = _Conversation(renames, client_names)
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise _invalid(where, "an object (an input item)")
        kind = item.get("type", "message")
        if not isinstance(kind, str):
            raise _invalid(f"{where}.type", "a string")
        if kind == "message":
            conversation.message(item, where)
        elif kind == "function_call" or kind == "custom_tool_call":
            conversation.call(item, where, custom=kind == "custom_tool_call")
        elif kind == "function_call_output" or kind == "custom_tool_call_output":
            conversation.result(item, where)
        elif kind in CALL_KINDS:
            conversation.client_call(item, where, CALL_KINDS[kind])
        elif kind in CLIENT_OUTPUTS:
            conversation.result(item, where, kind)
        elif kind == "reasoning":
            conversation.reasoning_item(item, where)
        elif kind in DROPPED_CALLS or kind in DROPPED_ITEMS:
            conversation.drop(item)
        elif kind == "item_reference":
            raise bad_request(
                f"'{where}' is an item_reference, and this gateway does not store responses: "
                "send the item itself (the whole conversation) in 'input' (with store: false).",
                param=where,
                code="unsupported_parameter",
            )
        else:
            raise bad_request(
                f"'{where}.type': unknown input item type {kind!r}.", param=f"{where}.type"
            )
    return conversation.finish()


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
