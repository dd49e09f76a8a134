"""The Anthropic Messages API (what Claude Code speaks), translated to and from chat completions.

Pure functions: ``to_chat`` turns a Messages request into a chat completions body (400s name the
field), ``from_chat`` turns a chat completion into a ``message``, and ``MessagesStream`` turns
chat completion chunks into the Messages SSE events (``message_start``, ``content_block_*``,
``message_delta``, ``message_stop``, ``ping``, ``error``).
"""

import time
import uuid

import orjson

from ..errors import ApiError, bad_request
from .message_blocks import Blocks, _Block, _event

NAME = "messages"
ROLES = ("user", "assistant", "system")
SERVER_TOOL_PREFIXES = ("web_search", "web_fetch", "bash_", "text_editor", "computer_", "code_exec")
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_of_blocks(blocks, where: str) -> str:
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise bad_request(f"'{where}' must be a string or an array of text blocks.", param=where)
    texts = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise bad_request(
                f"'{where}[{index}]' must be a text block.", param=f"{where}[{index}]"
            )
        if not isinstance(block.get("text"), str):
            raise bad_request(
                f"'{where}[{index}].text' must be a string.", param=f"{where}[{index}].text"
            )
        texts.append(block["text"])
    return "\n\n".join(texts)


def _source_url(source: dict, where: str, *, kinds=("base64", "url")) -> str:
    kind = source.get("type")
    if kind == "base64" and "base64" in kinds:
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise bad_request(
                f"'{where}.source' needs media_type and data strings.", param=f"{where}.source"
            )
        return f"data:{media};base64,{data}"
    if kind == "url" and "url" in kinds and isinstance(source.get("url"), str):
        return source["url"]
    raise bad_request(
        f"'{where}.source.type' must be one of {', '.join(kinds)}.", param=f"{where}.source.type"
    )


def _image_part(block: dict, where: str) -> dict:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad_request(f"'{where}.source' must be an object.", param=f"{where}.source")
    return {"type": "image_url", "image_url": {"url": _source_url(source, where)}}


def _document_part(block: dict, where: str) -> dict:
    """A document: a base64 PDF becomes a chat ``file`` part; plain text a text part; a URL a
    text part naming it (chat completions cannot fetch documents by URL)."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad_request(f"'{where}.source' must be an object.", param=f"{where}.source")
    title = block.get("title") if isinstance(block.get("title"), str) else "document"
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if kind == "content":
        return {"type": "text", "text": _text_of_blocks(source.get("content"), f"{where}.source")}
    if kind == "url" and isinstance(source.get("url"), str):
        return {"type": "text", "text": f"[{title}: {source['url']}]"}
    url = _source_url(source, where, kinds=("base64",))
    filename = title if title.endswith(".pdf") else f"{title}.pdf"
    return {"type": "file", "file": {"filename": filename, "file_data": url}}


def _tool_result(block: dict, where: str, known: set) -> tuple[dict, list]:
    """A chat ``tool`` message, and the image parts the result carried (sent after it as a user
    message: chat tool messages hold text only)."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or call_id not in known:
        raise bad_request(
            f"'{where}.tool_use_id' does not match any earlier tool_use block.",
            param=f"{where}.tool_use_id",
        )
    content, images = block.get("content"), []
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            here = f"{where}.content[{index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(str(part.get("text") or ""))
            elif kind == "image":
                images.append(_image_part(part, here))
            elif kind == "document":
                images.append(_document_part(part, here))
            elif kind in ("search_result", "tool_reference"):
                texts.append(orjson.dumps(part).decode())
            else:
                raise bad_request(f"'{here}.type': unknown block type {kind!r}.", param=here)
        text = "\n".join(texts)
    else:
        raise bad_request(
            f"'{where}.content' must be a string or blocks.", param=f"{where}.content"
        )
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _convert_message(message, index: int, known: set) -> list[dict]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise bad_request(f"'{where}' must be an object.", param=where)
    role = message.get("role")
    if role not in ROLES:
        raise bad_request(f"'{where}.role' must be user or assistant.", param=f"{where}.role")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "system":
        return [{"role": "system", "content": _text_of_blocks(content, f"{where}.content")}]
    if not isinstance(content, list):
        raise bad_request(
            f"'{where}.content' must be a string or an array of content blocks.",
            param=f"{where}.content",
        )
    parts, calls, reasoning, tools, after = [], [], [], [], []
    for position, block in enumerate(content):
        here = f"{where}.content[{position}]"
        if not isinstance(block, dict):
            raise bad_request(f"'{here}' must be an object.", param=here)
        kind = block.get("type")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise bad_request(f"'{here}.text' must be a string.", param=f"{here}.text")
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image_part(block, here))
        elif kind == "document":
            parts.append(_document_part(block, here))
        elif kind in ("tool_use", "server_tool_use") and role == "assistant":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise bad_request(f"'{here}' needs an id and a name.", param=here)
            known.add(block["id"])
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block["name"], "arguments": arguments}
            calls.append({"id": block["id"], "type": "function", "function": function})
        elif kind == "tool_result" and role == "user":
            result, images = _tool_result(block, here, known)
            tools.append(result)
            after.extend(images)
        elif kind == "thinking" and role == "assistant":
            reasoning.append(str(block.get("thinking") or ""))
        elif kind in ("redacted_thinking", "web_search_tool_result", "web_fetch_tool_result"):
            continue  # nothing a chat upstream can read
        else:
            raise bad_request(f"'{here}.type': unknown block type {kind!r}.", param=f"{here}.type")
    if role == "assistant":
        text = "".join(p["text"] for p in parts if p["type"] == "text")
        out = {"role": "assistant", "content": text or None}
        if calls:
            out["tool_calls"] = calls
        if reasoning:
            out["reasoning_content"] = "\n".join(reasoning)
        return [out] if text or calls or reasoning else []
    out = list(tools)  # tool results answer the previous assistant turn: they come first
    user = parts + after
    if user:
        if all(p["type"] == "text" for p in user):
            out.append({"role": "user", "content": "".join(p["text"] for p in user)})
        else:
            out.append({"role": "user", "content": user})
    return out


def _tools(tools) -> list[dict]:
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array.", param="tools")
    out = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise bad_request(f"'{where}' must be an object.", param=where)
        kind = tool.get("type")
        if kind not in (None, "custom") and str(kind).startswith(SERVER_TOOL_PREFIXES):
            continue  # a server tool the upstream cannot run
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise bad_request(f"'{where}.name' must be a string.", param=f"{where}.name")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            if kind not in (None, "custom"):
                continue  # another provider-defined tool (no schema): the upstream cannot run it
            raise bad_request(
                f"'{where}.input_schema' must be a JSON schema object.",
                param=f"{where}.input_schema",
            )
        function = {"name": tool["name"], "parameters": schema}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice, payload: dict) -> None:
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise bad_request(
            "'tool_choice.type' must be auto, any, tool or none.", param="tool_choice"
        )
    kind = choice["type"]
    if kind == "tool":
        if not isinstance(choice.get("name"), str):
            raise bad_request("'tool_choice.name' must be a string.", param="tool_choice.name")
        payload["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        payload["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if choice.get("disable_parallel_tool_use"):
        payload["parallel_tool_calls"] = False


# Anthropic's effort levels → chat completions' reasoning_effort (which stops at high).
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def _response_format(form) -> dict:
    if not isinstance(form, dict) or form.get("type") != "json_schema":
        raise bad_request(
            "'output_config.format.type' must be json_schema.", param="output_config.format.type"
        )
    schema = form.get("schema")
    if not isinstance(schema, dict):
        raise bad_request(
            "'output_config.format.schema' must be a JSON schema object.",
            param="output_config.format.schema",
        )
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def _effort(thinking) -> str | None:
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    budget = budget if _is_int(budget) else 0
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def to_chat(body, *, require_max_tokens: bool = True) -> dict:
    """A Messages request → a chat completions request (the model id as the client sent it)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required: a model id string.", param="model")
    max_tokens = body.get("max_tokens")
    if max_tokens is None and require_max_tokens:
        raise bad_request("'max_tokens' is required.", param="max_tokens", code="missing_field")
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens < 1):
        raise bad_request("'max_tokens' must be a positive integer.", param="max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array.", param="messages")
    chat: list[dict] = []
    system = body.get("system")
    if system is not None:
        text = _text_of_blocks(system, "system")
        if text:
            chat.append({"role": "system", "content": text})
    known: set = set()
    for index, message in enumerate(messages):
        chat.extend(_convert_message(message, index, known))
    payload: dict = {"model": model, "messages": chat}
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    for name, low, high in (("temperature", 0, 1), ("top_p", 0, 1)):
        value = body.get(name)
        if value is not None:
            if not _is_number(value) or not low <= value <= high:
                raise bad_request(f"'{name}' must be a number from {low} to {high}.", param=name)
            payload[name] = value
    top_k = body.get("top_k")
    if top_k is not None:
        if not _is_int(top_k) or top_k < 0:
            raise bad_request("'top_k' must be a non-negative integer.", param="top_k")
        payload["top_k"] = top_k
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise bad_request(
                "'stop_sequences' must be an array of strings.", param="stop_sequences"
            )
        if stops:
            payload["stop"] = stops[:4]
    if body.get("tools") is not None:
        tools = _tools(body["tools"])
        if tools:
            payload["tools"] = tools
    if body.get("tool_choice") is not None and payload.get("tools"):
        _tool_choice(body["tool_choice"], payload)
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        payload["user"] = metadata["user_id"][:256]
    effort = _effort(body.get("thinking"))
    output_config = body.get("output_config")
    output_config = output_config if isinstance(output_config, dict) else {}
    if output_config.get("effort") in EFFORTS:
        effort = EFFORTS[output_config["effort"]]
    if effort:
        payload["reasoning_effort"] = effort
    # Structured outputs (what client.messages.parse sends): the chat upstream's response_format.
    form = output_config.get("format") or body.get("output_format")
    if form is not None:
        payload["response_format"] = _response_format(form)
    stream = body.get("stream", False)
    if stream not in (True, False, None):
        raise bad_request("'stream' must be true or false.", param="stream")
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


# --- answers ---------------------------------------------------------------------------------


def _count(value) -> int:
    return max(int(value), 0) if _is_number(value) else 0


def usage_from_chat(usage) -> dict:
    """Chat usage → Anthropic usage, whose input_tokens excludes what was read from or written
    to the cache."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    if "prompt_tokens" not in usage and "input_tokens" in usage:  # already Anthropic's shape
        return {
            "input_tokens": _count(usage.get("input_tokens")),
            "output_tokens": _count(usage.get("output_tokens")),
            "cache_read_input_tokens": _count(usage.get("cache_read_input_tokens")),
            "cache_creation_input_tokens": _count(usage.get("cache_creation_input_tokens")),
        }
    prompt = _count(usage.get("prompt_tokens"))
    read = _count(details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens"))
    write = _count(
        details.get("cache_write_tokens")
        or details.get("cache_creation_tokens")
        or usage.get("cache_creation_input_tokens")
    )
    read = min(read, prompt)
    write = min(write, prompt - read)
    return {
        "input_tokens": prompt - read - write,
        "output_tokens": _count(usage.get("completion_tokens")),
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    }


def _arguments(raw) -> dict:
    """Tool-call arguments as an object; text that is not a JSON object is kept under
    ``_raw`` so nothing the model produced is lost."""
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw or "{}")
    except (orjson.JSONDecodeError, TypeError):
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_raw": str(raw)}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def from_chat(response: dict, *, model: str) -> dict:
    choices = response.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    content = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    elif isinstance(message.get("refusal"), str):
        content.append({"type": "text", "text": message["refusal"]})
    for call in message.get("tool_calls") or []:
        function = (call or {}).get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or new_id("toolu"),
                "name": function.get("name") or "",
                "input": _arguments(function.get("arguments")),
            }
        )
    return {
        "id": new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason"), "end_turn"),
        "stop_sequence": None,
        "usage": usage_from_chat(response.get("usage")),
    }


def error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "billing_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        503: "overloaded_error",
        529: "overloaded_error",
    }.get(status, "api_error" if status >= 500 else "invalid_request_error")


# Our error codes whose Anthropic status differs from the one the other protocols get.
STATUS_BY_CODE = {"model_not_found": 404, "request_too_large": 413}


def error_status(exc: ApiError) -> int:
    """The status a Messages client gets: Anthropic's for what it names differently (an unknown
    model is a 404, a body over the limit a 413, a provider's 529 stays a 529)."""
    if exc.upstream_status == 529:
        return 529
    return STATUS_BY_CODE.get(exc.code or "", exc.status)


def error_body(exc: ApiError, *, request_id: str | None = None, status: int | None = None) -> bytes:
    status = exc.status if status is None else status
    kind = "timeout_error" if exc.code == "upstream_timeout" else error_type(status)
    body = {"type": "error", "error": {"type": kind, "message": exc.message}}
    if request_id:
        body["request_id"] = request_id
    return orjson.dumps(body)


def models_list(models: list[dict]) -> dict:
    data = [
        {
            "type": "model",
            "id": m["id"],
            "display_name": m.get("display_name") or m["id"],
            "lifecycle": "active",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m.get("created") or 0)),
        }
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


class MessagesStream:
    """Chat completion chunks in, Messages SSE events out.

    Anthropic's format is start, deltas, stop for one block at a time (``message_blocks.py``
    orders the blocks). Tool calls are told apart by their id (two calls a provider numbers with
    the same index stay two blocks), continuations without an id by their index."""

    def __init__(self, *, model: str, input_tokens: int = 0):
        self.model = model
        self.input_tokens = input_tokens
        self.delivered_text: list[str] = []
        self.blocks = Blocks(self.delivered_text)
        self.calls: dict[int, _Block] = {}  # chat tool-call index -> its current block
        self.finish_reason = None
        self.usage = None

    def start(self) -> bytes:
        message = {
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": 1,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def ping(self) -> bytes:
        return _event("ping", {"type": "ping"})

    def feed(self, chunk: dict) -> bytes:
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else None
        if choice is None:
            return b""
        out = b""
        blocks = self.blocks
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += blocks.prose("thinking", reasoning)
        text = delta.get("content")
        if isinstance(text, str) and text:
            out += blocks.prose("text", text)
        for call in delta.get("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            position = call.get("index", 0)
            function = call.get("function") or {}
            block = self.calls.get(position)
            call_id = call.get("id")
            if block is None or (call_id and call_id != block.start["id"]):
                block = _Block(
                    "tool",
                    {
                        "type": "tool_use",
                        "id": call_id or new_id("toolu"),
                        "name": function.get("name") or "",
                        "input": {},
                    },
                )
                self.calls[position] = block
                self.delivered_text.append(block.start["name"])
                out += blocks.write(block, "")
            arguments = function.get("arguments")
            if arguments:
                out += blocks.write(block, arguments)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        return out

    def finish(self, usage: dict | None = None) -> bytes:
        usage = usage_from_chat(usage or self.usage)
        delta = {
            "stop_reason": STOP_REASONS.get(self.finish_reason, "end_turn"),
            "stop_sequence": None,
        }
        return (
            self.blocks.drain()
            + _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
            + _event("message_stop", {"type": "message_stop"})
        )

    def error(self, status: int, message: str) -> bytes:
        return self.blocks.drain() + _event(
            "error", {"type": "error", "error": {"type": error_type(status), "message": message}}
        )
