"""Responses ``input`` items → chat messages, in order.

Its rules: messages keep their order (``developer`` becomes ``system``; text-only content a
string); consecutive calls join one assistant message (the preceding assistant message when it
is the last one and no result came after it), and every call needs its output and every output
its call (else a 400 naming the item); results are placed right after their call's message,
also when other messages came between; images and files of tool outputs go to a user message
after them; reasoning summaries become the next assistant message's ``reasoning_content``;
items of tools the upstream cannot run are dropped, with their outputs. ``_Turns`` keeps the
messages and their order, ``_Calls`` the calls and their outputs.
"""

import orjson

from ...errors import bad_request
from .client_tools import (
    CALL_KINDS,
    CLIENT_OUTPUTS,
    CLIENT_TOOLS,
    _client_arguments,
    _patch_output,
    _shell_output,
)
from .common import _invalid, _missing, _string

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
TEXT_PARTS = ("input_text", "output_text", "text")
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


class _Turns:
    """The chat messages built so far, and what waits for the next one (reasoning for the next
    assistant message, tool outputs' attachments for a user message after the results)."""

    def __init__(self):
        self.messages: list[dict] = []
        self.reasoning: list[str] = []  # for the next assistant message
        self.attachments: list[dict] = []  # tool outputs' images: a user message after them
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

    def caller(self) -> dict:
        """The assistant message a call joins: the last message when it is the assistant's (and
        no results or attachments came after it), else a new one."""
        last = self.messages[-1] if self.messages else None
        if (
            last is not None
            and last["role"] == "assistant"
            and not self.attachments
            and id(last) not in self.results  # calls after results start a new turn
        ):
            self._reason(last)
            return last
        target = {"role": "assistant", "content": None}
        self.add(target)
        return target

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

    def finish(self) -> list[dict]:
        """The messages, each call's results right after its message."""
        if self.attachments:
            self.messages.append({"role": "user", "content": self.attachments})
            self.attachments = []
        out = []
        for message in self.messages:
            out.append(message)
            out.extend(self.results.get(id(message), ()))
        return out


class _Calls:
    """The calls of the conversation (by call_id) and their outputs: each call once, each
    output after its call and once; outputs of dropped items go with them."""

    def __init__(self, turns: _Turns, renames: dict, client_names: dict):
        self.turns = turns
        self.calls: dict[str, dict] = {}  # call_id -> {"message", "where", "answered", "output"}
        self.aliases: dict[str, str] = {}  # a local_shell_call's id -> its call_id
        self.client_names = client_names  # client tool type -> its chat function's name
        self.dropped: set = set()  # call ids of dropped items (their outputs go too)
        self.renames = renames  # (namespace, name) -> the chat tool's name

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
        target = self.turns.caller()
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
        self.turns.results.setdefault(id(call["message"]), []).append(message)
        if attachments:
            self.turns.attachments.append(
                {"type": "text", "text": f"Attachments of the output of call {call_id}:"}
            )
            self.turns.attachments.extend(attachments)
        call["answered"] = True

    def drop(self, item: dict) -> None:
        for key in ("call_id", "id"):
            if isinstance(item.get(key), str):
                self.dropped.add(item[key])

    def check_answered(self) -> None:
        for call_id, call in self.calls.items():
            if not call["answered"]:
                where = call["where"]
                raise bad_request(
                    f"'{where}': the call '{call_id}' has no {call['output']}. Send each "
                    "call's output after it in 'input'.",
                    param=where,
                )


def _messages(items: list, renames: dict, client_names: dict) -> list[dict]:
    turns = _Turns()
    calls = _Calls(turns, renames, client_names)
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise _invalid(where, "an object (an input item)")
        kind = item.get("type", "message")
        if not isinstance(kind, str):
            raise _invalid(f"{where}.type", "a string")
        if kind == "message":
            turns.message(item, where)
        elif kind == "function_call" or kind == "custom_tool_call":
            calls.call(item, where, custom=kind == "custom_tool_call")
        elif kind == "function_call_output" or kind == "custom_tool_call_output":
            calls.result(item, where)
        elif kind in CALL_KINDS:
            calls.client_call(item, where, CALL_KINDS[kind])
        elif kind in CLIENT_OUTPUTS:
            calls.result(item, where, kind)
        elif kind == "reasoning":
            turns.reasoning_item(item, where)
        elif kind in DROPPED_CALLS or kind in DROPPED_ITEMS:
            calls.drop(item)
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
    calls.check_answered()
    return turns.finish()
