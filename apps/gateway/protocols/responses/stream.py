"""Responses streams from chat completion chunks."""

import time

import orjson

from .client_tools import CLIENT_TOOLS
from .common import _is_int, new_id
from .parse import FAILURE_CODES, _table
from .render import (
    _call_item,
    _echo,
    _kind,
    _reasoning_item,
    _status,
    _text_part,
    usage_from_chat,
)

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
    ``function_call`` item (``custom_tool_call`` for a custom tool, and the tool's own item for
    a client tool: whole when it ends, as its arguments decide whether it fits the tool);
    switching from reasoning or text to the next item closes it, and tool calls stay open until
    the end (parallel calls interleave). ``delivered_text`` holds every
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
        """The call's output_item.added, once its name is known (and what it held back). A
        client tool's call only takes its place: its item type depends on whether its
        arguments fit the tool, so it is announced when it closes."""
        state["added"] = True
        state["index"] = self._slot()
        call_id = state["call_id"]
        if not call_id or call_id in self.call_ids:
            call_id = state["call_id"] = new_id("call")
        self.call_ids.add(call_id)
        state["kind"] = _kind(self.table, state["name"])
        if state["kind"] in CLIENT_TOOLS:
            return b""
        item = _call_item(self.table, None, call_id, state["name"], "", "in_progress")
        state["id"] = item["id"]
        if state["kind"] == "function":
            item["arguments"] = ""
        out = self._event(
            "response.output_item.added", {"output_index": state["index"], "item": item}
        )
        if state["chunks"] and state["kind"] == "function":
            out += self._arguments(state, "".join(state["chunks"]))
        return out

    def _arguments(self, state: dict, piece: str) -> bytes:
        return self._event(
            "response.function_call_arguments.delta",
            {"item_id": state["id"], "output_index": state["index"], "delta": piece},
        )

    def _client_call_events(self, item: dict, index: int) -> bytes:
        """A client tool's call, whole: output_item.added (a shell_call's commands then
        stream as shell_call_command events)."""
        added = {**item, "status": "in_progress"}
        if item["type"] == "shell_call":
            added["action"] = {**item["action"], "commands": []}
        out = self._event("response.output_item.added", {"output_index": index, "item": added})
        if item["type"] == "shell_call":
            for position, command in enumerate(item["action"]["commands"]):
                where = {"output_index": index, "command_index": position}
                out += (
                    self._event("response.shell_call_command.added", {**where, "command": ""})
                    + self._event("response.shell_call_command.delta", {**where, "delta": command})
                    + self._event("response.shell_call_command.done", {**where, "command": command})
                )
        return out

    def _close_call(self, state: dict, status: str) -> bytes:
        out = b"" if state["added"] else self._add_call(state)
        arguments = "".join(state["chunks"])
        index = state["index"]
        client = state["kind"] in CLIENT_TOOLS
        item = _call_item(
            self.table,
            None if client else state["id"],
            state["call_id"],
            state["name"],
            arguments,
            status,
        )
        state["id"] = item["id"]
        where = {"item_id": state["id"], "output_index": index}
        if item["type"] == "custom_tool_call":
            out += self._event(
                "response.custom_tool_call_input.delta", {**where, "delta": item["input"]}
            ) + self._event(
                "response.custom_tool_call_input.done", {**where, "input": item["input"]}
            )
        elif item["type"] == "function_call":
            if client:  # arguments that do not fit the client tool: a plain function call
                added = {**item, "arguments": "", "status": "in_progress"}
                out += self._event(
                    "response.output_item.added", {"output_index": index, "item": added}
                )
            if not arguments or client:  # a call without arguments: "{}", so that it parses
                out += self._arguments(state, item["arguments"])
            out += self._event(
                "response.function_call_arguments.done", {**where, "arguments": item["arguments"]}
            )
        else:
            out += self._client_call_events(item, index)
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
                "kind": "function",
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
            if state["added"] and state["kind"] == "function":
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
