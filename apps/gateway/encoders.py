"""What goes to the client for each upstream event of a stream, by the stream's kind.

Its rules: every encoder turns one upstream event into the bytes to send (None to send nothing
now) and the output it carried, and records in the stream's ``Delivery`` the provider's usage,
error and finish. ``ChatEncoder`` relays chat chunks (the model renamed, usage dropped unless the
client asked for it, ``data: [DONE]`` last) or, given a protocol's renderer, writes that
protocol's events from them (keep-alives as its pings, the provider's error as its error
event). ``NativeEncoder`` passes the provider's own protocol (Messages or Responses) through as
it is but for the model id; its own last event ends the stream. A provider's error event is
relayed and ends the stream; what a stream that broke says is each encoder's ``broken``.
These run once per upstream event: plain methods, nothing allocated but the answer.
"""

import orjson

from .delivery import Delivery, finished
from .errors import ApiError
from .output import native_text, output_text
from .upstream import Comment

NATIVE_TERMINAL = {"message_stop", "response.completed", "response.incomplete", "response.failed"}
NATIVE_ERRORS = {"error", "response.failed"}


class ChatEncoder:
    """Chat completion chunks: relayed, or rendered by ``renderer`` (another protocol's
    stream: ``start/feed/ping/finish/error``)."""

    __slots__ = ("chat", "delivery", "renderer")

    def __init__(self, delivery: Delivery, chat, renderer=None):
        self.delivery, self.chat, self.renderer = delivery, chat, renderer

    def start(self) -> bytes | None:
        """The bytes right after the headers (the renderer's opening events)."""
        return self.renderer.start() if self.renderer is not None else None

    def encode(self, event) -> tuple[bytes | None, str, int]:
        """The bytes to send for one upstream event (None to drop it), and its output."""
        translator = self.renderer
        if isinstance(event, Comment):
            return (translator.ping() if translator else bytes(event) + b"\n\n"), "", 0
        if not isinstance(event, dict):
            return (None if translator else b"data: " + orjson.dumps(event) + b"\n\n"), "", 0
        delivery = self.delivery
        if "error" in event and not event.get("choices"):
            # The provider's own error event: relayed unchanged; the stream ends after it.
            delivery.error = event["error"]
            if translator:
                error = event["error"] if isinstance(event["error"], dict) else {}
                message = str(error.get("message") or event["error"])
                return translator.error(502, message), "", 0
            return b"data: " + orjson.dumps(event) + b"\n\n", "", 0
        usage = event.get("usage")
        if isinstance(usage, dict):
            delivery.usage = usage
        choices = event.get("choices") or []
        text, chunks = [], 0
        for choice in choices:
            if isinstance(choice, dict) and finished(choice):
                delivery.finished = True
            delta = (choice or {}).get("delta") or {}
            content = delta.get("content")
            if content:
                text.append(content)
                chunks += 1
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                text.append(reasoning)
                delivery.reasoning.append(reasoning)
                chunks += 1
            if delta.get("tool_calls") or delta.get("refusal") or delta.get("function_call"):
                text.append(output_text({k: v for k, v in delta.items() if k != "content"}))
                chunks += 1
        if translator:
            return translator.feed(event) or None, " ".join(text), chunks
        if "model" in event:
            event["model"] = self.chat.route.public_id
        if not self.chat.include_usage:
            event.pop("usage", None)
            if not choices:
                return None, "", 0
        return b"data: " + orjson.dumps(event) + b"\n\n", " ".join(text), chunks

    def end(self) -> bytes:
        """The stream's last bytes, after the upstream's ``[DONE]``."""
        if self.renderer is None:
            return b"data: [DONE]\n\n"
        return self.renderer.finish(self.delivery.usage)

    def broken(self, error: ApiError) -> bytes:
        """The stream's last bytes when the upstream broke off (``error`` says why)."""
        if self.renderer is not None:
            return self.renderer.error(error.status, error.message)
        return b"data: " + error.body() + b"\n\n"


class NativeEncoder:
    """The provider's own protocol, relayed as it is but for the model id; usage and output
    are read from its events."""

    __slots__ = ("chat", "delivery", "face")

    def __init__(self, delivery: Delivery, chat, face):
        self.delivery, self.chat, self.face = delivery, chat, face

    def start(self) -> None:
        return None

    def encode(self, event) -> tuple[bytes | None, str, int]:
        if isinstance(event, Comment):
            return bytes(event) + b"\n\n", "", 0
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return None, "", 0
        delivery = self.delivery
        kind = event["type"]
        public = self.chat.route.public_id
        inner = event.get("message") or event.get("response")
        inner = inner if isinstance(inner, dict) else None  # Responses' error: message is text
        if inner is not None:
            if "model" in inner:
                inner["model"] = public
            if isinstance(inner.get("usage"), dict):
                delivery.usage = {**(delivery.usage or {}), **inner["usage"]}
        if kind == "message_delta" and isinstance(event.get("usage"), dict):
            delivery.usage = {**(delivery.usage or {}), **event["usage"]}
        if kind == "message_delta" and isinstance(event.get("delta"), dict):
            delivery.finished = delivery.finished or event["delta"].get("stop_reason") is not None
        elif kind in ("response.completed", "response.incomplete"):
            delivery.finished = True
        ending = b""
        if kind in NATIVE_ERRORS:
            error = event.get("error") or (inner or {}).get("error")
            if error is None and kind == "error":  # Responses: code, message, param at the top
                error = {k: event.get(k) for k in ("code", "message", "param") if event.get(k)}
            delivery.error = error if isinstance(error, dict) else {"message": str(error)}
            if kind == "error":  # the stream ends here
                ending = self.face.native_error_ending(
                    model=public, request=self.chat.original, error=delivery.error
                )
        if kind in NATIVE_TERMINAL or kind == "error":
            delivery.ended = True
        delta = event.get("delta")
        text = delta if isinstance(delta, str) else native_text(delta)
        body = b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        return body + ending, text, 1 if text else 0

    def end(self) -> None:
        return None  # the provider's own last event ends its protocol's stream

    def broken(self, error: ApiError) -> bytes:
        return self.face.native_failed(
            model=self.chat.route.public_id,
            request=self.chat.original,
            status=error.status,
            message=error.message,
        )
