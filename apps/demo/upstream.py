"""The built-in demo upstream: an OpenAI-compatible model served by the project itself over HTTP,
so the embedded default works without any network and the gateway uses its real upstream path.

The reply is deterministic and starts with "[demo]"; usage numbers are the tokens it really
produced (one word, with its trailing space, per token; a tool call's arguments stream in pieces
of eight characters, a token each, plus one for its name) and a count of the prompt.

It does what SDK users try with a real model: ``n`` choices, ``response_format`` (JSON mode,
and JSON schemas, answered with a deterministic instance of the schema whose free strings read
"demo <property>"), tools (``tool_choice`` auto, required, none or a named function; arguments
conform to the function's parameters), ``stop``, ``max_tokens``/``max_completion_tokens``,
``reasoning_effort`` (a short ``reasoning_content`` before the answer) and
``stream_options.include_usage``.
"""

import itertools
import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .pace import pace, stream_pause

WORD = re.compile(r"\S+\s*")
ARGUMENT_PIECE = 8  # characters of a tool call's arguments per streamed delta (and per token)
DEFAULT_MAX_TOKENS = 4096
MAX_CHOICES = 128
MAX_STOP = 4
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class SchemaError(ValueError):
    """A JSON schema the demo cannot produce an instance of."""


# --- prompt -------------------------------------------------------------------------------------


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _byte_tokens(text: str) -> int:
    return -(-len(text.encode()) // 4)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def prompt_tokens(messages: list, tools=None, response_format=None) -> int:
    """About four bytes a token, three tokens of framing a message (one more for a name) and
    three to prime the reply; tool definitions and a response schema count as their JSON."""
    total = 3
    for message in messages:
        total += 3 + _byte_tokens(_text(message.get("content")))
        if message.get("name"):
            total += 1
        if message.get("tool_calls"):
            total += _byte_tokens(_json(message["tool_calls"]))
    if tools:
        total += _byte_tokens(_json(tools))
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        total += _byte_tokens(_json(response_format.get("json_schema")))
    return total


def _said(messages: list, role: str) -> str:
    text = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == role), "")
    return " ".join(text.split())


def _tagged(text: str, index: int) -> str:
    """Choice 0 as is; the others say which they are right after "[demo]"."""
    return text if index == 0 else text.replace("[demo] ", f"[demo] (choice {index + 1}) ", 1)


def reply_text(model: str, messages: list, index: int = 0) -> str:
    if messages and messages[-1].get("role") == "tool":
        text = f"[demo] The tool returned: {_said(messages, 'tool')}"
    else:
        text = (
            f"[demo] Hello from {model}, OpenCodex's built-in demo model. "
            f"You said: {_said(messages, 'user')} "
            "This reply is generated locally, so it is the same every time."
        )
    return _tagged(text, index)


def reply_words(model: str, messages: list, index: int = 0) -> list[str]:
    return WORD.findall(reply_text(model, messages, index))


# --- JSON schema instances ----------------------------------------------------------------------

FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T12:00:00Z",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "demo@example.com",
    "idn-email": "demo@example.com",
    "uri": "https://example.com/demo",
    "url": "https://example.com/demo",
    "iri": "https://example.com/demo",
    "uri-reference": "https://example.com/demo",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
MAX_DEPTH = 64


def schema_instance(schema, variant: int = 0, root=None):
    """A deterministic instance of the JSON schema ``schema``; ``variant`` (the choice index)
    makes free strings differ between choices. Raises SchemaError when there is none to give."""
    return _Instance(schema if root is None else root, variant).make(schema, (), 0, "value")


class _Instance:
    def __init__(self, root, variant: int):
        self.root, self.variant = root, variant

    def resolve(self, ref):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"Unsupported $ref {ref!r}: only local references like '#/$defs/X'.")
        node = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"The $ref {ref!r} points to nothing in the schema.")
        return node

    @staticmethod
    def loops(schema, seen) -> bool:
        """Whether ``schema`` re-enters a definition already being built (recursion)."""
        return isinstance(schema, dict) and schema.get("$ref") in seen

    def make(self, schema, seen: tuple, depth: int, name: str):
        """An instance of ``schema``; ``name`` is the property it is for (free strings say it)."""
        if depth > MAX_DEPTH:
            raise SchemaError("The schema nests too deeply: it has no finite instance.")
        if schema is True or schema == {}:
            return self.free_string(name)
        if not isinstance(schema, dict):
            raise SchemaError("Every schema must be an object (or true).")
        if "$ref" in schema:
            ref = schema["$ref"]
            return self.make(self.resolve(ref), (*seen, ref), depth + 1, name)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list):
            if not schema["enum"]:
                raise SchemaError("An empty enum has no instance.")
            return schema["enum"][0]
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            return self.make(self.merged(schema, seen), seen, depth + 1, name)
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                branch = next((b for b in branches if not self.loops(b, seen)), branches[0])
                return self.make(branch, seen, depth + 1, name)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if kinds else "null"
        if kind is None:
            kind = self.guess_type(schema)
        maker = {
            "object": self.object,
            "array": self.array,
            "string": self.string,
            "integer": self.integer,
            "number": self.number,
        }.get(kind)
        if maker is not None:
            return maker(schema, seen, depth, name)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        raise SchemaError(f"Unknown schema type {kind!r}.")

    @staticmethod
    def guess_type(schema: dict) -> str:
        if {"properties", "additionalProperties", "required", "minProperties"} & schema.keys():
            return "object"
        if {"items", "prefixItems", "minItems", "maxItems"} & schema.keys():
            return "array"
        if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & schema.keys():
            return "number"
        return "string"

    def merged(self, schema: dict, seen: tuple) -> dict:
        """allOf: the parts (references followed) combined into one schema."""
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            while isinstance(part, dict) and "$ref" in part:
                part = self.resolve(part["$ref"])
            if not isinstance(part, dict):
                continue
            for key, value in part.items():
                if key == "properties":
                    merged["properties"] = {**value, **merged.get("properties", {})}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    def object(self, schema, seen, depth, name):
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        extra = schema.get("additionalProperties")
        extra_schema = extra if isinstance(extra, dict) else {}
        out = {}
        for key, sub in properties.items():
            if key in required or not self.loops(sub, seen):
                out[key] = self.make(sub, seen, depth + 1, key)
        for key in required:
            if key not in out:
                out[key] = self.make(extra_schema, seen, depth + 1, key)
        if not properties and extra_schema and not self.loops(extra_schema, seen):
            out.setdefault("demo", self.make(extra_schema, seen, depth + 1, name))  # dict[str, int]
        while extra is not False and len(out) < int(schema.get("minProperties") or 0):
            key = f"demo{len(out) + 1}"
            out[key] = self.make(extra_schema, seen, depth + 1, key)
        return out

    def array(self, schema, seen, depth, name):
        prefix = schema.get("prefixItems")
        items = schema.get("items", {})
        if isinstance(items, list):  # draft 4 tuples
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        least = int(schema.get("minItems") or 0)
        most = schema.get("maxItems")
        count = max(least, len(prefix), 1)
        if items is False or (self.loops(items, seen) and least <= len(prefix)):
            count = max(least, len(prefix))
        if isinstance(most, int):
            count = min(count, most)
        out = [
            self.make(prefix[i] if i < len(prefix) else items, seen, depth + 1, name)
            for i in range(count)
        ]
        if schema.get("uniqueItems"):
            unique: dict[str, object] = {}
            for value in out:
                unique.setdefault(_json(value), value)
            out = list(unique.values())
        return out

    def free_string(self, name: str) -> str:
        """A string with no format: "demo <property>", and the choice's number after the first."""
        return f"demo {name}" if self.variant == 0 else f"demo {name} {self.variant + 1}"

    def string(self, schema, seen, depth, name):
        value = FORMATS.get(schema.get("format"))
        if value is None:
            value = self.free_string(name)
            least = schema.get("minLength")
            if isinstance(least, int) and len(value) < least:
                value += "o" * (least - len(value))
        most = schema.get("maxLength")
        if isinstance(most, int):
            value = value[:most]
        return value

    @staticmethod
    def bounds(schema):
        """(low, low is exclusive, high, high is exclusive); draft 4's boolean form too."""
        low, high = schema.get("minimum"), schema.get("maximum")
        low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        low_open = high_open = False
        if isinstance(low_x, bool):
            low_open = low_x and low is not None
        elif isinstance(low_x, int | float) and (low is None or low_x >= low):
            low, low_open = low_x, True
        if isinstance(high_x, bool):
            high_open = high_x and high is not None
        elif isinstance(high_x, int | float) and (high is None or high_x <= high):
            high, high_open = high_x, True
        return low, low_open, high, high_open

    def integer(self, schema, seen, depth, name):
        low, low_open, high, high_open = self.bounds(schema)
        lo = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
        hi = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
        value = 1
        if lo is not None:
            value = max(value, lo)
        if hi is not None:
            value = min(value, hi)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            up = value + step - value % step
            value = up if hi is None or up <= hi else value - value % step
        return value

    def number(self, schema, seen, depth, name):
        low, low_open, high, high_open = self.bounds(schema)
        step = schema.get("multipleOf")
        step = step if isinstance(step, int | float) and step > 0 else None

        def fits(value) -> bool:
            above = low is None or value > low or (value == low and not low_open)
            below = high is None or value < high or (value == high and not high_open)
            return above and below

        value = step or 1.5
        if not fits(value):
            if low is not None and high is not None:
                value = (low + high) / 2
            elif low is not None:
                value = low + 1 if low_open else low
            else:
                value = high - 1 if high_open else high
        if step is not None and not fits(value := math.ceil(value / step) * step):
            value -= step
        return value


# --- the request --------------------------------------------------------------------------------


@dataclass
class Params:
    model: str
    messages: list
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    max_tokens: int = DEFAULT_MAX_TOKENS
    stop: list[str] = field(default_factory=list)
    effort: str | None = None
    offered: list = field(default_factory=list)  # the tools as sent (they count as prompt)
    tools: list[dict] = field(default_factory=list)  # the function tools that may be called
    tool_mode: str = "auto"  # auto | required | none
    tool_name: str | None = None  # a function tool_choice names
    response_format: dict | None = None


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _read_tools(body) -> list[dict]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be an array of tools.", "tools", "invalid_type")
    functions = []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "custom":
            continue  # offered, but the demo only ever calls function tools
        spec = tool.get("function") if kind == "function" else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise BadRequest(
                f"'tools[{i}]' must be a function tool: "
                '{"type": "function", "function": {"name": ...}}.',
                f"tools[{i}]",
            )
        if not FUNCTION_NAME.match(spec["name"]):
            raise BadRequest(
                f"Invalid 'tools[{i}].function.name': letters, digits, _ and - only, at most 64.",
                f"tools[{i}].function.name",
                "invalid_value",
            )
        parameters = spec.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise BadRequest(
                f"'tools[{i}].function.parameters' must be a JSON schema object.",
                f"tools[{i}].function.parameters",
                "invalid_type",
            )
        functions.append(spec)
    return functions


def _read_tool_choice(body, params: Params) -> None:
    choice = body.get("tool_choice")
    if choice is None:
        return
    names = [t["name"] for t in params.tools]
    if isinstance(choice, str):
        if choice not in ("auto", "required", "none"):
            raise BadRequest(
                "'tool_choice' must be 'auto', 'required', 'none' or a function to call.",
                "tool_choice",
                "invalid_value",
            )
        params.tool_mode = choice
    elif isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            raise BadRequest(
                f"Invalid 'tool_choice': no function named {name!r} is in 'tools'.",
                "tool_choice",
                "invalid_value",
            )
        params.tool_mode, params.tool_name = "required", name
    elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        mode = allowed.get("mode", "auto")
        listed = [
            (t.get("function") or {}).get("name")
            for t in allowed.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "function"
        ]
        if mode not in ("auto", "required") or not listed or not set(listed) <= set(names):
            raise BadRequest(
                "Invalid 'tool_choice.allowed_tools': a mode (auto or required) and function "
                "tools that are in 'tools'.",
                "tool_choice",
                "invalid_value",
            )
        params.tools = [t for t in params.tools if t["name"] in listed]
        params.tool_mode = mode
    else:
        raise BadRequest(
            "'tool_choice' must be 'auto', 'required', 'none' or "
            '{"type": "function", "function": {"name": ...}}.',
            "tool_choice",
            "invalid_value",
        )
    if params.tool_mode == "required" and not params.tools:
        raise BadRequest(
            "'tool_choice' requires a tool call, but no function tools are offered in 'tools'.",
            "tool_choice",
            "invalid_value",
        )


def _read_response_format(body) -> dict | None:
    fmt = body.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return fmt
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise BadRequest(
                "'response_format.json_schema' must be an object with a 'name'.",
                "response_format.json_schema",
            )
        if not isinstance(spec.get("schema", {}), dict):
            raise BadRequest(
                "'response_format.json_schema.schema' must be a JSON schema object.",
                "response_format.json_schema.schema",
                "invalid_type",
            )
        return fmt
    raise BadRequest(
        "'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
        "response_format",
        "invalid_value",
    )


def read_params(body) -> Params:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise BadRequest("model and messages are required: 'model' must be a string.", "model")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("model and messages are required: 'messages' must be a non-empty array.")
    if not all(isinstance(m, dict) for m in messages):
        raise BadRequest("Every message must be an object.", "messages", "invalid_type")
    params = Params(model=model, messages=messages)

    n = body.get("n")
    if n is not None:
        if not _positive_int(n) or n > MAX_CHOICES:
            raise BadRequest(f"'n' must be an integer from 1 to {MAX_CHOICES}.", "n")
        params.n = n
    stream = body.get("stream")
    if stream not in (None, True, False):
        raise BadRequest("'stream' must be a boolean.", "stream", "invalid_type")
    params.stream = bool(stream)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object.", "stream_options", "invalid_type")
    params.include_usage = bool((options or {}).get("include_usage"))

    limits = []
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None:
            if not _positive_int(value):
                raise BadRequest(f"'{name}' must be a positive integer.", name, "invalid_value")
            limits.append(value)
    params.max_tokens = min(limits) if limits else DEFAULT_MAX_TOKENS

    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (
        not isinstance(stop, list)
        or len(stop) > MAX_STOP
        or not all(isinstance(s, str) for s in stop)
    ):
        raise BadRequest(f"'stop' must be a string or up to {MAX_STOP} strings.", "stop")
    params.stop = [s for s in stop or [] if s]

    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        raise BadRequest(
            f"'reasoning_effort' must be one of {', '.join(EFFORTS)}.",
            "reasoning_effort",
            "invalid_value",
        )
    params.effort = None if effort == "none" else effort

    params.tools = _read_tools(body)
    params.offered = body.get("tools") or []
    _read_tool_choice(body, params)
    params.response_format = _read_response_format(body)
    return params


# --- the answer ---------------------------------------------------------------------------------


@dataclass
class ToolCall:
    id: str
    name: str
    pieces: list[str]  # the arguments, as streamed

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": "".join(self.pieces)},
        }


@dataclass
class Answer:
    """One choice: its reasoning and content words, or its tool call."""

    reasoning: list[str]
    content: list[str]
    tool_call: ToolCall | None
    finish: str

    @property
    def completion_tokens(self) -> int:
        call = 1 + len(self.tool_call.pieces) if self.tool_call else 0
        return len(self.reasoning) + len(self.content) + call

    def message(self) -> dict:
        message = {
            "role": "assistant",
            "content": None if self.tool_call else "".join(self.content),
            "refusal": None,
            "annotations": [],
        }
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.tool_call:
            message["tool_calls"] = [self.tool_call.as_json()]
        return message

    def deltas(self) -> list[tuple[dict, str | None]]:
        """The streamed deltas of this choice, the way OpenAI sends them."""
        out: list[tuple[dict, str | None]] = []
        if self.reasoning:
            out.append(({"role": "assistant", "content": None, "reasoning_content": ""}, None))
            out += [({"reasoning_content": word}, None) for word in self.reasoning]
        if self.tool_call:
            head = {
                "index": 0,
                "id": self.tool_call.id,
                "type": "function",
                "function": {"name": self.tool_call.name, "arguments": ""},
            }
            first = {"tool_calls": [head]}
            if not out:
                first = {"role": "assistant", "content": None, **first}
            out.append((first, None))
            out += [
                ({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, None)
                for piece in self.tool_call.pieces
            ]
        else:
            if not out:
                out.append(({"role": "assistant", "content": ""}, None))
            out += [({"content": word}, None) for word in self.content]
        out.append(({}, self.finish))
        return out


def _tool_to_call(params: Params) -> dict | None:
    if not params.tools or params.tool_mode == "none":
        return None
    if params.tool_name:
        return next(t for t in params.tools if t["name"] == params.tool_name)
    if params.tool_mode == "required":
        return params.tools[0]
    if params.messages[-1].get("role") != "user":
        return None
    # On "auto" the demo calls a tool only when the user's message names it: coding tools offer
    # dozens (a shell among them) and a demo must not run one the user did not ask for.
    said = _said(params.messages, "user").lower()
    return next((t for t in params.tools if t["name"].lower() in said), None)


def _reasoning_words(params: Params, tool: dict | None) -> list[str]:
    if not params.effort:
        return []
    if tool is not None:
        plan = f"a tool fits, so it calls {tool['name']}."
    elif params.response_format:
        plan = "it answers in JSON."
    else:
        plan = "it gives its usual deterministic reply."
    return WORD.findall(
        f"Thinking with {params.effort} effort: the demo model reads the last message, and {plan}"
    )


def _content_text(params: Params, index: int) -> str:
    fmt = params.response_format
    if fmt is None:
        return reply_text(params.model, params.messages, index)
    if fmt["type"] == "json_object":
        value = {"demo": True, "model": params.model, "you_said": _said(params.messages, "user")}
        if params.messages[-1].get("role") == "tool":
            value["tool_returned"] = _said(params.messages, "tool")
        if index:
            value["choice"] = index + 1
        return _json(value)
    try:
        value = schema_instance(fmt["json_schema"].get("schema", {}), variant=index)
    except SchemaError as exc:
        raise BadRequest(
            f"Invalid schema for response_format '{fmt['json_schema']['name']}': {exc}",
            "response_format",
            "invalid_value",
        ) from None
    return _json(value)


def _cut_at_stop(text: str, stop: list[str]) -> str:
    """The text before the first stop string in it (the stop string is not sent)."""
    cuts = [text.find(s) for s in stop if s in text]
    return text[: min(cuts)] if cuts else text


def answer(params: Params, index: int) -> Answer:
    tool = _tool_to_call(params)
    reasoning = _reasoning_words(params, tool)
    budget = params.max_tokens
    if len(reasoning) >= budget:  # the limit is reached while thinking
        return Answer(reasoning[:budget], [], None, "length")
    budget -= len(reasoning)
    if tool is not None:
        try:
            arguments = schema_instance(
                tool.get("parameters") or {"type": "object", "properties": {}}, variant=index
            )
        except SchemaError as exc:
            raise BadRequest(
                f"Invalid schema for function '{tool['name']}': {exc}", "tools", "invalid_value"
            ) from None
        text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        pieces = [text[i : i + ARGUMENT_PIECE] for i in range(0, len(text), ARGUMENT_PIECE)]
        finish = "tool_calls"
        if 1 + len(pieces) > budget:
            pieces, finish = pieces[: budget - 1], "length"  # the name is a token too
        call = ToolCall(f"call_demo{uuid.uuid4().hex[:16]}", tool["name"], pieces)
        return Answer(reasoning, [], call, finish)
    text = _cut_at_stop(_content_text(params, index), params.stop)
    words, finish = WORD.findall(text), "stop"
    if len(words) > budget:
        words, finish = words[:budget], "length"
    return Answer(reasoning, words, None, finish)


def usage_of(params: Params, answers: list[Answer]) -> dict:
    prompt = prompt_tokens(params.messages, params.offered, params.response_format)
    completion = sum(a.completion_tokens for a in answers)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": sum(len(a.reasoning) for a in answers),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _error(status: int, message: str, param: str | None = None, code: str | None = None):
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        },
        status_code=status,
    )


async def chat_completions(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _error(400, "The request body is not valid JSON.", code="invalid_json")
    try:
        params = read_params(body)
        answers = [answer(params, i) for i in range(params.n)]
    except BadRequest as exc:
        return _error(400, exc.message, exc.param, exc.code)
    usage = usage_of(params, answers)
    completion_id = f"chatcmpl-demo{uuid.uuid4().hex[:20]}"
    created = int(time.time())
    common = {
        "id": completion_id,
        "created": created,
        "model": params.model,
        "service_tier": "default",
        "system_fingerprint": "fp_demo",
    }
    if not params.stream:
        choices = [
            {"index": i, "message": a.message(), "logprobs": None, "finish_reason": a.finish}
            for i, a in enumerate(answers)
        ]
        return JSONResponse(
            {"object": "chat.completion", **common, "choices": choices, "usage": usage}
        )

    def event(choices: list, **extra) -> str:
        data = {"object": "chat.completion.chunk", **common, "choices": choices, **extra}
        if params.include_usage:
            data.setdefault("usage", None)
        return f"data: {_json(data)}\n\n"

    async def events():
        # the choices take turns, a delta each, as OpenAI interleaves them
        streams = [[(i, *d) for d in a.deltas()] for i, a in enumerate(answers)]
        pause = stream_pause()
        for step in itertools.zip_longest(*streams):
            for item in step:
                if item is not None:
                    i, delta, finish = item
                    yield event(
                        [{"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}]
                    )
                    await pace(pause)
        if params.include_usage:
            yield event([], usage=usage)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
