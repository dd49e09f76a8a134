"""The OpenAI Responses API (what Codex CLI speaks), translated to and from chat completions.

Pure functions on plain dicts, nothing stored:

- ``to_chat(body)``: a Responses request → a chat completions request (400s name the field).
- ``from_chat(response, model=, request=)``: a chat completion → a ``response`` object.
- ``usage_from_chat(usage)``: chat usage → Responses usage.
- ``ResponsesStream``: chat completion chunks → the Responses SSE events, each with its
  ``sequence_number``.
- ``error_body(exc)``: the error shape (the same as chat completions').

Choices worth knowing:

- Stateless: ``previous_response_id``, ``conversation``, ``prompt``, ``item_reference`` items and
  ``background`` are refused with a 400 that says to send the whole conversation in ``input``
  (with ``store: false``, as Codex does). ``store: true`` is accepted and ignored; answers say
  ``store: false``.
- Roles: ``developer`` becomes ``system`` (what every upstream accepts). Text-only content
  becomes a string (parts joined by a blank line).
- Tool calls: consecutive ``function_call`` items become one assistant message (the preceding
  assistant message when it is the last one); every call needs its ``function_call_output`` and
  every output its call (else a 400 naming the item). An output that arrives after other
  messages is moved right after its call, as chat completions requires. Images and files in a
  tool output go to a user message after the tool results (chat tool messages hold text only).
- Reasoning items: their summary text becomes the ``reasoning_content`` of the next assistant
  message (thinking models such as DeepSeek's want it back within a tool loop). Items with
  ``encrypted_content`` came from OpenAI's own models and are left out.
- Items of tools the upstream cannot run (``local_shell_call``, ``web_search_call``, ``mcp_call``,
  ``computer_call``...) are dropped, with their outputs (a ``function_call_output`` that answers a
  dropped call included).
- Tools: ``function`` tools map one to one (``strict`` kept). ``namespace`` tools (Codex groups
  MCP tools this way) are flattened to their function tools under their own names (a name taken
  by an earlier tool becomes ``<namespace>__<name>``), and calls to them come back with their
  ``namespace``. ``custom`` (freeform) tools such as Codex's ``apply_patch`` become function tools
  taking ``{"input": string}`` (their grammar goes in the description); a call to one comes back as
  a ``custom_tool_call`` item with that ``input``. Hosted tools (``web_search``, ``file_search``,
  ``code_interpreter``, ``image_generation``, ``local_shell``, ``mcp``, ``computer_use_preview``...)
  and tool types this module does not know are dropped. Responses list the function, custom and
  namespace tools the model had, in the SDK's shapes.
- ``reasoning.effort``: ``none`` is left out, ``minimal`` becomes ``low``, ``xhigh``/``max``
  become ``high``.
"""

import re
import time
import uuid

import orjson

from ..errors import ApiError, bad_request

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
        "local_shell",
        "shell",
        "apply_patch",
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
        "local_shell_call",
        "shell_call",
        "apply_patch_call",
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
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
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


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _invalid(where: str, what: str):
    return bad_request(f"'{where}' must be {what}.", param=where, code="invalid_type")


def _missing(where: str, what: str):
    return bad_request(f"'{where}' is required: {what}.", param=where, code="missing_field")


def _string(item: dict, key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        raise _missing(f"{where}.{key}", "a string")
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where}.{key}", "a non-empty string")
    return value


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

    def __init__(self, renames: dict):
        self.messages: list[dict] = []
        self.calls: dict[str, dict] = {}  # call_id -> {"message", "where", "answered"}
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
        if call_id in self.calls:
            raise bad_request(
                f"'{where}.call_id': '{call_id}' is the call_id of an earlier call.",
                param=f"{where}.call_id",
            )
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
        self.calls[call_id] = {"message": target, "where": where, "answered": False}

    def result(self, item: dict, where: str) -> None:
        call_id = item.get("call_id")
        if call_id is None:
            raise _missing(f"{where}.call_id", "the call_id of the call this answers")
        if not isinstance(call_id, str):
            raise _invalid(f"{where}.call_id", "a string")
        if call_id in self.dropped:
            return
        call = self.calls.get(call_id)
        if call is None:
            raise bad_request(
                f"'{where}.call_id': no function_call with call_id '{call_id}' comes before this "
                "output. This gateway does not store responses: send the whole conversation in "
                "'input', each call before its output.",
                param=f"{where}.call_id",
            )
        if call["answered"]:
            raise bad_request(
                f"'{where}.call_id': the call '{call_id}' already has an output.",
                param=f"{where}.call_id",
            )
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
                    f"'{where}': the call '{call_id}' has no function_call_output. Send each "
                    "call's output after it in 'input'.",
                    param=where,
                )
        out = []
        for message in self.messages:
            out.append(message)
            out.extend(self.results.get(id(message), ()))
        return out


def _messages(items: list, renames: dict) -> list[dict]:
    conversation = _Conversation(renames)
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
    table[chat_name] = (name, namespace, kind == "custom")
    out.append({"type": "function", "function": function})


def _tools(tools) -> tuple[list[dict], dict]:
    """Responses tools → chat tools, and {chat name: (name, namespace, custom)}."""
    if not isinstance(tools, list):
        raise _invalid("tools", "an array of tools")
    out: list[dict] = []
    table: dict = {}
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
        elif not isinstance(kind, str):
            raise _missing(f"{where}.type", "function, custom or namespace")
        # Hosted tools (HOSTED_TOOLS) and types unknown here: the upstream cannot run them.
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
        messages.extend(_messages(items, renames))
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
    """A function, custom or namespace tool as the response lists it (None for the others)."""
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        return None
    kind = tool.get("type")
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


def _call_item(
    table: dict, item_id: str, call_id: str, chat_name: str, arguments: str, status: str
) -> dict:
    """A chat tool call → a function_call item (or a custom_tool_call for a custom tool)."""
    name, namespace, custom = table.get(chat_name) or (chat_name, None, False)
    if custom:
        item = {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": call_id,
            "name": name,
            "input": _custom_input(arguments),
            "status": status,
        }
    else:
        item = {
            "id": item_id,
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": arguments or "{}",
            "status": status,
        }
    if namespace:
        item["namespace"] = namespace
    return item


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
        item = _call_item(table, new_id("fc"), call_id, name, arguments, item_status)
        if item["type"] == "custom_tool_call":
            item["id"] = new_id("ctc")
        output.append(item)
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


# --- streams ---------------------------------------------------------------------------------


def _empty_part(kind: str) -> dict:
    return _text_part("") if kind == "output_text" else {"type": "refusal", "refusal": ""}


def _full_part(kind: str, text: str) -> dict:
    return _text_part(text) if kind == "output_text" else {"type": "refusal", "refusal": text}


class ResponsesStream:
    """Chat completion chunks in, Responses SSE events out.

    ``start()`` first, then ``feed(chunk)`` per chunk and ``finish(usage)`` at the end, or
    ``failed(status, message)`` instead (also mid-stream). Reasoning deltas become a
    ``reasoning`` item, content a ``message`` item, each tool call (by its chat ``index``) a
    ``function_call`` item; switching from reasoning or text to the next item closes it, and tool
    calls stay open until the end (parallel calls interleave). ``delivered_text`` holds every
    piece of output sent (text, reasoning, tool names and arguments), for counting when no usage
    arrives; ``delivered_reasoning`` the reasoning alone.
    """

    def __init__(self, *, model: str, request: dict):
        request = request if isinstance(request, dict) else {}
        self.model = model
        self.table = _table(request)
        self.echo = _echo(request, model)
        self.response_id = new_id("resp")
        self.created_at = int(time.time())
        self.sequence = 0
        self.output: list = []  # finished items by output_index (None while open)
        self.reasoning: dict | None = None  # the open reasoning item
        self.message: dict | None = None  # the open message item
        self.calls: dict = {}  # chat tool-call index -> its open call
        self.open_calls: list[dict] = []
        self.call_ids: set = set()
        self.finish_reason = None
        self.usage = None
        self.started = False
        self.ended = False
        self.delivered_text: list[str] = []
        self.delivered_reasoning: list[str] = []

    # events
    def _event(self, kind: str, data: dict) -> bytes:
        data = {"type": kind, **data, "sequence_number": self.sequence}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def _response(self, status: str, **extra) -> dict:
        return {
            "id": self.response_id,
            **self.echo,
            "created_at": self.created_at,
            "status": status,
            "output": [item for item in self.output if item is not None],
            "usage": None,
            **extra,
        }

    def _slot(self) -> int:
        self.output.append(None)
        return len(self.output) - 1

    def start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        response = self._response("in_progress")
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def ping(self) -> bytes:
        return b": keep-alive\n\n"

    # reasoning
    def _open_reasoning(self) -> bytes:
        out = self._close_message()
        index = self._slot()
        item_id = new_id("rs")
        self.reasoning = {"id": item_id, "index": index, "chunks": []}
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        return (
            out
            + self._event(
                "response.output_item.added",
                {"output_index": index, "item": _reasoning_item(item_id, "", "in_progress")},
            )
            + self._event(
                "response.reasoning_summary_part.added",
                {**where, "part": {"type": "summary_text", "text": ""}},
            )
        )

    def _close_reasoning(self, status: str = "completed") -> bytes:
        state, self.reasoning = self.reasoning, None
        if state is None:
            return b""
        text = "".join(state["chunks"])
        index = state["index"]
        where = {"item_id": state["id"], "output_index": index, "summary_index": 0}
        item = _reasoning_item(state["id"], text, status)
        item["summary"] = [{"type": "summary_text", "text": text}]
        self.output[index] = item
        return (
            self._event("response.reasoning_summary_text.done", {**where, "text": text})
            + self._event(
                "response.reasoning_summary_part.done",
                {**where, "part": {"type": "summary_text", "text": text}},
            )
            + self._event("response.output_item.done", {"output_index": index, "item": item})
        )

    # message
    def _open_message(self) -> bytes:
        out = self._close_reasoning()
        index = self._slot()
        item_id = new_id("msg")
        self.message = {"id": item_id, "index": index, "parts": []}
        item = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        return out + self._event(
            "response.output_item.added", {"output_index": index, "item": item}
        )

    def _close_part(self) -> bytes:
        state = self.message
        part = state["parts"][-1]
        if part["done"]:
            return b""
        part["done"] = True
        text = "".join(part["chunks"])
        where = {
            "item_id": state["id"],
            "output_index": state["index"],
            "content_index": len(state["parts"]) - 1,
        }
        if part["type"] == "output_text":
            out = self._event("response.output_text.done", {**where, "text": text, "logprobs": []})
        else:
            out = self._event("response.refusal.done", {**where, "refusal": text})
        return out + self._event(
            "response.content_part.done", {**where, "part": _full_part(part["type"], text)}
        )

    def _close_message(self, status: str = "completed") -> bytes:
        state = self.message
        if state is None:
            return b""
        out = self._close_part() if state["parts"] else b""
        self.message = None
        item = {
            "id": state["id"],
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": [
                _full_part(part["type"], "".join(part["chunks"])) for part in state["parts"]
            ],
        }
        self.output[state["index"]] = item
        return out + self._event(
            "response.output_item.done", {"output_index": state["index"], "item": item}
        )

    def _text(self, kind: str, piece: str) -> bytes:
        out = b"" if self.message is not None else self._open_message()
        state = self.message
        parts = state["parts"]
        if not parts or parts[-1]["type"] != kind:
            if parts:
                out += self._close_part()
            parts.append({"type": kind, "chunks": [], "done": False})
            out += self._event(
                "response.content_part.added",
                {
                    "item_id": state["id"],
                    "output_index": state["index"],
                    "content_index": len(parts) - 1,
                    "part": _empty_part(kind),
                },
            )
        parts[-1]["chunks"].append(piece)
        where = {
            "item_id": state["id"],
            "output_index": state["index"],
            "content_index": len(parts) - 1,
            "delta": piece,
        }
        if kind == "output_text":
            return out + self._event("response.output_text.delta", {**where, "logprobs": []})
        return out + self._event("response.refusal.delta", where)

    # tool calls
    def _add_call(self, state: dict) -> bytes:
        """The call's output_item.added, once its name is known (and what it held back)."""
        state["added"] = True
        state["index"] = self._slot()
        call_id = state["call_id"]
        if not call_id or call_id in self.call_ids:
            call_id = state["call_id"] = new_id("call")
        self.call_ids.add(call_id)
        item = _call_item(self.table, state["id"], call_id, state["name"], "", "in_progress")
        state["custom"] = item["type"] == "custom_tool_call"
        if state["custom"]:
            item["id"] = state["id"] = new_id("ctc")
        else:
            item["arguments"] = ""
        out = self._event(
            "response.output_item.added", {"output_index": state["index"], "item": item}
        )
        if state["chunks"] and not state["custom"]:
            out += self._arguments(state, "".join(state["chunks"]))
        return out

    def _arguments(self, state: dict, piece: str) -> bytes:
        return self._event(
            "response.function_call_arguments.delta",
            {"item_id": state["id"], "output_index": state["index"], "delta": piece},
        )

    def _close_call(self, state: dict, status: str) -> bytes:
        out = b"" if state["added"] else self._add_call(state)
        arguments = "".join(state["chunks"])
        index = state["index"]
        where = {"item_id": state["id"], "output_index": index}
        item = _call_item(
            self.table, state["id"], state["call_id"], state["name"], arguments, status
        )
        if state["custom"]:
            out += self._event(
                "response.custom_tool_call_input.delta", {**where, "delta": item["input"]}
            ) + self._event(
                "response.custom_tool_call_input.done", {**where, "input": item["input"]}
            )
        else:
            if not arguments:  # a call without arguments: "{}", so that it parses
                out += self._arguments(state, item["arguments"])
            out += self._event(
                "response.function_call_arguments.done", {**where, "arguments": item["arguments"]}
            )
        self.output[index] = item
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _tool_call(self, call: dict, position: int) -> bytes:
        out = b""
        key = call.get("index")
        key = key if _is_int(key) else position
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        call_id = call.get("id") if isinstance(call.get("id"), str) and call["id"] else None
        state = self.calls.get(key)
        if (
            state is not None
            and call_id
            and state["upstream_id"]
            and call_id != state["upstream_id"]
        ):
            state = None  # a new call under an index in use (some upstreams send every one as 0)
        if state is None:
            out += self._close_reasoning() + self._close_message()
            state = {
                "id": new_id("fc"),
                "upstream_id": call_id,
                "call_id": call_id,
                "name": "",
                "chunks": [],
                "added": False,
                "custom": False,
            }
            self.calls[key] = state
            self.open_calls.append(state)
        elif call_id and not state["upstream_id"]:
            state["upstream_id"] = call_id
            if not state["added"]:
                state["call_id"] = call_id
        name = function.get("name")
        if isinstance(name, str) and name and not state["name"]:
            state["name"] = name
            self.delivered_text.append(name)
        piece = function.get("arguments")
        if isinstance(piece, str) and piece:
            state["chunks"].append(piece)
            self.delivered_text.append(piece)
            if state["added"] and not state["custom"]:
                out += self._arguments(state, piece)
        if not state["added"] and state["name"]:
            out += self._add_call(state)
        return out

    def _close_all(self, status: str) -> bytes:
        """Close every open item, in output order (calls not yet added last)."""
        last = len(self.output)
        closers = [(call.get("index", last), call) for call in self.open_calls]
        if self.reasoning is not None:
            closers.append((self.reasoning["index"], None))
        if self.message is not None:
            closers.append((self.message["index"], None))
        out = b""
        for index, call in sorted(closers, key=lambda pair: pair[0]):
            if call is not None:
                out += self._close_call(call, status)
            elif self.reasoning is not None and self.reasoning["index"] == index:
                out += self._close_reasoning(status)
            else:
                out += self._close_message(status)
        self.open_calls = []
        self.calls = {}
        return out

    def feed(self, chunk: dict) -> bytes:
        """One chat.completion.chunk → the events it makes (often b"")."""
        if self.ended or not isinstance(chunk, dict):
            return b""
        out = b"" if self.started else self.start()
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return out
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # Responses has one answer
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                if self.reasoning is None:
                    out += self._open_reasoning()
                state = self.reasoning
                state["chunks"].append(reasoning)
                out += self._event(
                    "response.reasoning_summary_text.delta",
                    {
                        "item_id": state["id"],
                        "output_index": state["index"],
                        "summary_index": 0,
                        "delta": reasoning,
                    },
                )
                self.delivered_text.append(reasoning)
                self.delivered_reasoning.append(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                out += self._text("output_text", content)
                self.delivered_text.append(content)
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                out += self._text("refusal", refusal)
                self.delivered_text.append(refusal)
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for position, call in enumerate(calls):
                    if isinstance(call, dict):
                        out += self._tool_call(call, position)
            if isinstance(delta.get("function_call"), dict):  # the legacy single call
                out += self._tool_call({"index": -1, "function": delta["function_call"]}, 0)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    @property
    def delivered_chars(self) -> int:
        return sum(len(piece) for piece in self.delivered_text)

    def finish(self, usage: dict | None = None) -> bytes:
        """Close what is open, then response.completed (or response.incomplete)."""
        if self.ended:
            return b""
        out = self.start()
        status, incomplete = _status(self.finish_reason)
        out += self._close_all("completed" if status == "completed" else "incomplete")
        self.ended = True
        response = self._response(
            status,
            usage=usage_from_chat(usage if usage is not None else self.usage),
            incomplete_details=incomplete,
            completed_at=int(time.time()) if status == "completed" else None,
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": response})

    def failed(self, status: int, message: str, code: str | None = None) -> bytes:
        """response.failed (after closing what is open as incomplete). ``code`` goes to the
        client as is (Codex reads context_length_exceeded, insufficient_quota...); without one
        it follows the HTTP status."""
        if self.ended:
            return b""
        out = self.start() + self._close_all("incomplete")
        self.ended = True
        error = {"code": code or FAILURE_CODES.get(status, "server_error"), "message": message}
        response = self._response(
            "failed",
            error=error,
            usage=usage_from_chat(self.usage) if self.usage is not None else None,
        )
        return out + self._event("response.failed", {"response": response})

    error = failed  # the name the other protocol streams use
