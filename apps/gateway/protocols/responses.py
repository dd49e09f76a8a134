"""The OpenAI Responses API (what Codex CLI speaks), translated to and from chat completions.

Pure functions: ``to_chat`` turns a Responses request into a chat completions body (400s name the
field), ``from_chat`` turns a chat completion into a ``response`` object, and ``ResponsesStream``
turns chat completion chunks into the Responses SSE events, each with its ``sequence_number``.
Nothing is stored: ``previous_response_id``, ``conversation`` and ``background`` are refused with
a 400 that says to send the whole conversation.
"""

import time
import uuid

import orjson

from ..errors import ApiError, bad_request

NAME = "responses"
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
# Tools the upstream cannot run (hosted by OpenAI): dropped.
HOSTED_TOOLS = {
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "shell",
    "computer_use_preview",
    "computer_use",
    "mcp",
    "tool_search",
}
CUSTOM_SCHEMA = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's input, as free text"}},
    "required": ["input"],
    "additionalProperties": False,
}
STATELESS = (
    "OpenCodex does not store responses: send the whole conversation in 'input' "
    "(with store: false) instead of '{name}'."
)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _part(part, where: str) -> dict | None:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise bad_request(f"'{where}' must be an object.", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        if not isinstance(part.get("text"), str):
            raise bad_request(f"'{where}.text' must be a string.", param=f"{where}.text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url") or part.get("file_id")
        if not isinstance(url, str):
            raise bad_request(f"'{where}.image_url' must be a string.", param=f"{where}.image_url")
        image = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {"filename": str(part.get("filename") or "file")}
        if isinstance(part.get("file_data"), str):
            file["file_data"] = part["file_data"]
        elif isinstance(part.get("file_id"), str):
            file["file_id"] = part["file_id"]
        elif isinstance(part.get("file_url"), str):
            return {"type": "text", "text": f"[{file['filename']}: {part['file_url']}]"}
        else:
            raise bad_request(f"'{where}' needs file_data or file_id.", param=where)
        return {"type": "file", "file": file}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part.get("input_audio") or {}}
    raise bad_request(f"'{where}.type': unknown content part type {kind!r}.", param=f"{where}.type")


def _content(content, where: str):
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"'{where}' must be a string or an array of parts.", param=where)
    parts = [_part(p, f"{where}[{i}]") for i, p in enumerate(content)]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _output_text(output) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for part in output:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") == "input_image":
                texts.append("[image]")
        return "\n".join(texts)
    return orjson.dumps(output).decode() if output is not None else ""


def _messages(items, custom_tools: set) -> list[dict]:
    messages: list[dict] = []
    known: set = set()
    reasoning: list[str] = []

    def assistant() -> dict:
        """The assistant message a function call belongs to: the last one, if nothing came
        after it; else a new one."""
        if messages and messages[-1]["role"] == "assistant":
            return messages[-1]
        message = {"role": "assistant", "content": None}
        messages.append(message)
        return message

    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise bad_request(f"'{where}' must be an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            role = ROLES.get(item.get("role"))
            if role is None:
                raise bad_request(
                    f"'{where}.role' must be user, assistant, system or developer.",
                    param=f"{where}.role",
                )
            content = _content(item.get("content"), f"{where}.content")
            message = {"role": role, "content": content}
            if role == "assistant" and reasoning:
                message["reasoning_content"] = "\n".join(reasoning)
                reasoning = []
            messages.append(message)
        elif kind in ("function_call", "custom_tool_call"):
            call_id, name = item.get("call_id"), item.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise bad_request(f"'{where}' needs call_id and name strings.", param=where)
            if kind == "custom_tool_call":
                arguments = orjson.dumps({"input": str(item.get("input") or "")}).decode()
            else:
                arguments = item.get("arguments")
                arguments = arguments if isinstance(arguments, str) else "{}"
            known.add(call_id)
            target = assistant()
            if isinstance(target.get("content"), list):  # text parts stay text
                target["content"] = _output_text(target["content"])
            target.setdefault("tool_calls", []).append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            )
            if reasoning:
                target["reasoning_content"] = "\n".join(reasoning)
                reasoning = []
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or call_id not in known:
                raise bad_request(
                    f"'{where}.call_id' matches no earlier function_call.", param=f"{where}.call_id"
                )
            content = _output_text(item.get("output"))
            messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        elif kind == "reasoning":
            for part in item.get("summary") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    reasoning.append(part["text"])
        elif kind in ("local_shell_call", "local_shell_call_output", "web_search_call"):
            continue  # hosted tools' items: the upstream cannot read them
        elif kind == "item_reference":
            raise bad_request(STATELESS.format(name="item_reference"), param=f"{where}.type")
        else:
            raise bad_request(f"'{where}.type': unknown item type {kind!r}.", param=f"{where}.type")
    # A tool call must be followed by its result before the next message: drop results'
    # ordering problems by construction (items arrive in order).
    return messages


def _tools(tools, custom_tools: set) -> list[dict]:
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array.", param="tools")
    out = []

    def add(tool, where):
        if not isinstance(tool, dict):
            raise bad_request(f"'{where}' must be an object.", param=where)
        kind = tool.get("type")
        if kind == "namespace":
            for index, inner in enumerate(tool.get("tools") or []):
                add(inner, f"{where}.tools[{index}]")
            return
        if kind in HOSTED_TOOLS:
            return
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request(f"'{where}.name' must be a string.", param=f"{where}.name")
        function = {"name": name}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        if kind == "function":
            parameters = tool.get("parameters")
            function["parameters"] = (
                parameters if isinstance(parameters, dict) else {"type": "object"}
            )
            if isinstance(tool.get("strict"), bool):
                function["strict"] = tool["strict"]
        elif kind == "custom":
            function["parameters"] = CUSTOM_SCHEMA
            custom_tools.add(name)
        else:
            raise bad_request(f"'{where}.type': unknown tool type {kind!r}.", param=f"{where}.type")
        out.append({"type": "function", "function": function})

    for index, tool in enumerate(tools):
        add(tool, f"tools[{index}]")
    return out


def to_chat(body) -> dict:
    """A Responses request → a chat completions request (the model id as the client sent it)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_body")
    for name in ("previous_response_id", "conversation"):
        if body.get(name):
            raise bad_request(STATELESS.format(name=name), param=name, code="unsupported_parameter")
    if body.get("background"):
        raise bad_request(
            "OpenCodex answers in the foreground only: stream the response instead of "
            "'background', and send the whole conversation in 'input'.",
            param="background",
            code="unsupported_parameter",
        )
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required: a model id string.", param="model")
    custom_tools: set = set()
    messages: list[dict] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("'instructions' must be a string.", param="instructions")
        if instructions:
            messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list) and items:
        messages.extend(_messages(items, custom_tools))
    else:
        raise bad_request("'input' must be a string or a non-empty array of items.", param="input")
    payload: dict = {"model": model, "messages": messages}
    if body.get("tools") is not None:
        tools = _tools(body["tools"], custom_tools)
        if tools:
            payload["tools"] = tools
    choice = body.get("tool_choice")
    if choice is not None and payload.get("tools"):
        if choice in ("auto", "none", "required"):
            payload["tool_choice"] = choice
        elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
            payload["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    if isinstance(body.get("parallel_tool_calls"), bool) and payload.get("tools"):
        payload["parallel_tool_calls"] = body["parallel_tool_calls"]
    limit = body.get("max_output_tokens")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
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
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") in (
        "minimal",
        "low",
        "medium",
        "high",
        "xhigh",
    ):
        payload["reasoning_effort"] = {"minimal": "low", "xhigh": "high"}.get(
            reasoning["effort"], reasoning["effort"]
        )
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            if not isinstance(fmt.get("schema"), dict):
                raise bad_request(
                    "'text.format.schema' must be an object.", param="text.format.schema"
                )
            schema = {"name": str(fmt.get("name") or "response"), "schema": fmt["schema"]}
            if isinstance(fmt.get("strict"), bool):
                schema["strict"] = fmt["strict"]
            payload["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif fmt.get("type") == "json_object":
            payload["response_format"] = {"type": "json_object"}
    if isinstance(body.get("prompt_cache_key"), str):
        payload["prompt_cache_key"] = body["prompt_cache_key"]
    for name in ("user", "safety_identifier"):
        if isinstance(body.get(name), str):
            payload["user"] = body[name][:256]
    stream = body.get("stream", False)
    if stream not in (True, False, None):
        raise bad_request("'stream' must be true or false.", param="stream")
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def custom_tool_names(body) -> set:
    names: set = set()
    if isinstance(body, dict) and isinstance(body.get("tools"), list):
        for tool in body["tools"]:
            if (
                isinstance(tool, dict)
                and tool.get("type") == "custom"
                and isinstance(tool.get("name"), str)
            ):
                names.add(tool["name"])
    return names


# --- answers ---------------------------------------------------------------------------------


def _count(value) -> int:
    return max(int(value), 0) if _is_number(value) else 0


def usage_from_chat(usage) -> dict:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    output_details = usage.get("completion_tokens_details")
    output_details = output_details if isinstance(output_details, dict) else {}
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": min(
                _count(details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens")), prompt
            )
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": _count(output_details.get("reasoning_tokens"))
        },
        "total_tokens": prompt + completion,
    }


def _echo(request: dict, model: str) -> dict:
    """The request fields a response object repeats."""
    tools = request.get("tools") if isinstance(request.get("tools"), list) else []
    text = (
        request.get("text")
        if isinstance(request.get("text"), dict)
        else {"format": {"type": "text"}}
    )
    reasoning = request.get("reasoning") if isinstance(request.get("reasoning"), dict) else None
    return {
        "object": "response",
        "model": model,
        "instructions": request.get("instructions")
        if isinstance(request.get("instructions"), str)
        else None,
        "tools": [
            t for t in tools if isinstance(t, dict) and t.get("type") in ("function", "custom")
        ],
        "tool_choice": request.get("tool_choice")
        if request.get("tool_choice") in ("auto", "none", "required")
        else "auto",
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "temperature": request.get("temperature")
        if _is_number(request.get("temperature"))
        else None,
        "top_p": request.get("top_p") if _is_number(request.get("top_p")) else None,
        "max_output_tokens": request.get("max_output_tokens")
        if isinstance(request.get("max_output_tokens"), int)
        else None,
        "text": text,
        "reasoning": reasoning,
        "metadata": request.get("metadata") if isinstance(request.get("metadata"), dict) else {},
        "store": False,
        "error": None,
        "incomplete_details": None,
    }


def _status(finish_reason) -> tuple[str, dict | None]:
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _message_item(item_id: str, text: str, status: str = "completed") -> dict:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def _call_item(item_id: str, call_id: str, name: str, arguments: str, custom: bool) -> dict:
    if custom:
        try:
            value = orjson.loads(arguments or "{}")
            text = value.get("input") if isinstance(value, dict) else None
        except orjson.JSONDecodeError:
            text = None
        return {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": call_id,
            "name": name,
            "input": text if isinstance(text, str) else arguments,
            "status": "completed",
        }
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def _reasoning_item(item_id: str, text: str) -> dict:
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}],
    }


def from_chat(response: dict, *, model: str, request: dict) -> dict:
    choices = response.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    custom = custom_tool_names(request)
    output = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        output.append(_reasoning_item(new_id("rs"), reasoning))
    text = message.get("content")
    if isinstance(text, str) and text:
        output.append(_message_item(new_id("msg"), text))
    elif isinstance(message.get("refusal"), str):
        item = _message_item(new_id("msg"), "")
        item["content"] = [{"type": "refusal", "refusal": message["refusal"]}]
        output.append(item)
    for call in message.get("tool_calls") or []:
        function = (call or {}).get("function") or {}
        name = function.get("name") or ""
        arguments = function.get("arguments")
        output.append(
            _call_item(
                new_id("fc"),
                call.get("id") or new_id("call"),
                name,
                arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode(),
                name in custom,
            )
        )
    status, incomplete = _status(choice.get("finish_reason"))
    return {
        **_echo(request, model),
        "id": new_id("resp"),
        "created_at": response.get("created") or int(time.time()),
        "status": status,
        "incomplete_details": incomplete,
        "output": output,
        "usage": usage_from_chat(response.get("usage")),
    }


def error_body(exc: ApiError) -> bytes:
    return exc.body()


class ResponsesStream:
    """Chat completion chunks in, Responses SSE events out."""

    def __init__(self, *, model: str, request: dict):
        self.model, self.request = model, request
        self.custom = custom_tool_names(request)
        self.sequence = 0
        self.response_id = new_id("resp")
        self.created_at = int(time.time())
        self.items: list[dict] = []  # finished output items, in order
        self.current = None  # the item being written: {"kind", "index", "id", ...}
        self.calls: dict[int, dict] = {}  # chat tool-call index -> open function_call state
        self.finish_reason = None
        self.usage = None
        self.delivered_text: list[str] = []

    def _event(self, kind: str, data: dict) -> bytes:
        data = {"type": kind, **data, "sequence_number": self.sequence}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def _response(self, status: str, **extra) -> dict:
        return {
            **_echo(self.request, self.model),
            "id": self.response_id,
            "created_at": self.created_at,
            "status": status,
            "output": [i for i in self.items if i is not None],
            "usage": None,
            **extra,
        }

    def start(self) -> bytes:
        return self._event("response.created", {"response": self._response("in_progress")}) + (
            self._event("response.in_progress", {"response": self._response("in_progress")})
        )

    def ping(self) -> bytes:
        return b": keep-alive\n\n"

    def _output_index(self) -> int:
        self.items.append(None)
        return len(self.items) - 1

    def _close_current(self) -> bytes:
        current, self.current = self.current, None
        if current is None:
            return b""
        out = b""
        if current["kind"] == "message":
            text = "".join(current["text"])
            common = {
                "item_id": current["id"],
                "output_index": current["index"],
                "content_index": 0,
            }
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            out += self._event(
                "response.output_text.done", {**common, "text": text, "logprobs": []}
            )
            out += self._event("response.content_part.done", {**common, "part": part})
            item = _message_item(current["id"], text)
        else:  # reasoning
            text = "".join(current["text"])
            common = {
                "item_id": current["id"],
                "output_index": current["index"],
                "summary_index": 0,
            }
            out += self._event("response.reasoning_summary_text.done", {**common, "text": text})
            out += self._event(
                "response.reasoning_summary_part.done",
                {**common, "part": {"type": "summary_text", "text": text}},
            )
            item = _reasoning_item(current["id"], text)
        self.items[current["index"]] = item
        return out + self._event(
            "response.output_item.done", {"output_index": current["index"], "item": item}
        )

    def _close_calls(self) -> bytes:
        out = b""
        for call in self.calls.values():
            if call.get("done"):
                continue
            call["done"] = True
            arguments = "".join(call["arguments"])
            item = _call_item(call["id"], call["call_id"], call["name"], arguments, call["custom"])
            if not call["custom"]:
                out += self._event(
                    "response.function_call_arguments.done",
                    {
                        "item_id": call["id"],
                        "output_index": call["index"],
                        "arguments": arguments,
                        "name": call["name"],
                    },
                )
            self.items[call["index"]] = item
            out += self._event(
                "response.output_item.done", {"output_index": call["index"], "item": item}
            )
        return out

    def _open(self, kind: str) -> bytes:
        out = self._close_current()
        index = self._output_index()
        prefix = "msg" if kind == "message" else "rs"
        self.current = {"kind": kind, "index": index, "id": new_id(prefix), "text": []}
        if kind == "message":
            item = {**_message_item(self.current["id"], "", "in_progress"), "content": []}
            out += self._event("response.output_item.added", {"output_index": index, "item": item})
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out += self._event(
                "response.content_part.added",
                {
                    "item_id": self.current["id"],
                    "output_index": index,
                    "content_index": 0,
                    "part": part,
                },
            )
        else:
            item = {"id": self.current["id"], "type": "reasoning", "summary": []}
            out += self._event("response.output_item.added", {"output_index": index, "item": item})
            out += self._event(
                "response.reasoning_summary_part.added",
                {
                    "item_id": self.current["id"],
                    "output_index": index,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                },
            )
        return out

    def feed(self, chunk: dict) -> bytes:
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else None
        if choice is None:
            return b""
        out = b""
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            if (self.current or {}).get("kind") != "reasoning":
                out += self._open("reasoning")
            self.current["text"].append(reasoning)
            out += self._event(
                "response.reasoning_summary_text.delta",
                {
                    "item_id": self.current["id"],
                    "output_index": self.current["index"],
                    "summary_index": 0,
                    "delta": reasoning,
                },
            )
            self.delivered_text.append(reasoning)
        text = delta.get("content")
        if isinstance(text, str) and text:
            if (self.current or {}).get("kind") != "message":
                out += self._open("message")
            self.current["text"].append(text)
            out += self._event(
                "response.output_text.delta",
                {
                    "item_id": self.current["id"],
                    "output_index": self.current["index"],
                    "content_index": 0,
                    "delta": text,
                    "logprobs": [],
                },
            )
            self.delivered_text.append(text)
        for call in delta.get("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            position = call.get("index", 0)
            function = call.get("function") or {}
            state = self.calls.get(position)
            if state is None:
                out += self._close_current()
                name = function.get("name") or ""
                state = {
                    "index": self._output_index(),
                    "id": new_id("fc"),
                    "call_id": call.get("id") or new_id("call"),
                    "name": name,
                    "arguments": [],
                    "custom": name in self.custom,
                }
                self.calls[position] = state
                item = _call_item(state["id"], state["call_id"], name, "", state["custom"])
                item["status"] = "in_progress"
                out += self._event(
                    "response.output_item.added", {"output_index": state["index"], "item": item}
                )
                self.delivered_text.append(name)
            arguments = function.get("arguments")
            if arguments:
                state["arguments"].append(arguments)
                self.delivered_text.append(arguments)
                if not state["custom"]:
                    out += self._event(
                        "response.function_call_arguments.delta",
                        {
                            "item_id": state["id"],
                            "output_index": state["index"],
                            "delta": arguments,
                        },
                    )
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        return out

    def finish(self, usage: dict | None = None) -> bytes:
        out = self._close_current() + self._close_calls()
        status, incomplete = _status(self.finish_reason)
        response = self._response(
            status, usage=usage_from_chat(usage or self.usage), incomplete_details=incomplete
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": response})

    def failed(self, status: int, message: str, code: str | None = None) -> bytes:
        out = self._close_current() + self._close_calls()
        error = {
            "code": "rate_limit_exceeded" if status == 429 else "server_error",
            "message": message,
        }
        return out + self._event(
            "response.failed", {"response": self._response("failed", error=error)}
        )

    error = failed
