"""Responses streams from chat completion chunks: the stream's order of events.

The stream composes one writer per output item kind (``reasoning_item.py``,
``message_item.py``, ``call_items.py``) around one envelope (``envelope.py``: sequence numbers,
output slots, the response snapshots). Its own rules: ``response.created`` and
``response.in_progress`` come first; reasoning and text never overlap (one opening closes the
other), tool calls stay open to the end; at the end every open item closes in output order, then
``response.completed`` (``response.incomplete`` when the answer was cut short) or
``response.failed``.
"""

import time

from .call_items import CallWriter
from .envelope import Envelope
from .message_item import MessageWriter
from .parse import FAILURE_CODES, _table
from .reasoning_item import ReasoningWriter
from .render import _echo, _status, usage_from_chat


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
        self.env = env = Envelope(_echo(request, model))
        self.reasoning = ReasoningWriter(env)
        self.message = MessageWriter(env)
        self.delivered_text: list[str] = []
        self.delivered_reasoning: list[str] = []
        self.calls = CallWriter(
            env, _table(request), self.reasoning, self.message, self.delivered_text
        )
        self.finish_reason = None
        self.usage = None
        self.started = False
        self.ended = False

    def start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        env = self.env
        response = env.response("in_progress")
        return env.event("response.created", {"response": response}) + env.event(
            "response.in_progress", {"response": response}
        )

    def ping(self) -> bytes:
        return b": keep-alive\n\n"

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
                writer = self.reasoning
                if writer.state is None:
                    out += self.message.close() + writer.open()
                out += writer.delta(reasoning)
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
                        out += self.calls.feed(call, position)
            if isinstance(delta.get("function_call"), dict):  # the legacy single call
                out += self.calls.feed({"index": -1, "function": delta["function_call"]}, 0)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def _text(self, kind: str, piece: str) -> bytes:
        writer = self.message
        if writer.state is not None:
            return writer.write(kind, piece)
        return self.reasoning.close() + writer.open() + writer.write(kind, piece)

    def _close_all(self, status: str) -> bytes:
        """Close every open item, in output order (calls not yet added last)."""
        reasoning, message, calls = self.reasoning.state, self.message.state, self.calls
        last = len(self.env.output)
        closers = [(call.get("index", last), call) for call in calls.open_calls]
        if reasoning is not None:
            closers.append((reasoning["index"], None))
        if message is not None:
            closers.append((message["index"], None))
        out = b""
        for index, call in sorted(closers, key=lambda pair: pair[0]):
            if call is not None:
                out += calls.close(call, status)
            elif self.reasoning.state is not None and self.reasoning.state["index"] == index:
                out += self.reasoning.close(status)
            else:
                out += self.message.close(status)
        calls.clear()
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
        response = self.env.response(
            status,
            usage=usage_from_chat(usage if usage is not None else self.usage),
            incomplete_details=incomplete,
            completed_at=int(time.time()) if status == "completed" else None,
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self.env.event(kind, {"response": response})

    def failed(self, status: int, message: str, code: str | None = None) -> bytes:
        """response.failed (after closing what is open as incomplete). ``code`` goes to the
        client as is (Codex reads context_length_exceeded, insufficient_quota...); without one
        it follows the HTTP status."""
        if self.ended:
            return b""
        out = self.start() + self._close_all("incomplete")
        self.ended = True
        error = {"code": code or FAILURE_CODES.get(status, "server_error"), "message": message}
        response = self.env.response(
            "failed",
            error=error,
            usage=usage_from_chat(self.usage) if self.usage is not None else None,
        )
        return out + self.env.event("response.failed", {"response": response})

    error = failed  # the name the other protocol streams use
