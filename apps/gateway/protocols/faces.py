"""Every protocol the gateway speaks, behind one face.

The pipeline (``app.py``, ``meter.py``, ``relay.py``, ``runtime.py``) asks the request's face
what to do where the protocols differ, and never tests a protocol's name: which translator runs
is bound to the endpoint in the route table (``GatewayApp``), as each client × backend pair has
its own translator in envoyproxy/ai-gateway's ``translator.go``. A face has:

* ``name`` (what usage records and metrics say), ``translated`` (the request is not chat
  completions and is turned into it for a chat upstream);
* ``to_chat(body)``, ``from_chat(data, model=, request=)`` and ``stream(...)`` (the renderer of
  a streamed answer, or None when chunks are relayed as they are);
* ``error(exc, request_id)`` → (status, body) in the protocol's own error shape, and
  ``headers(request_id)``, the headers of every answer;
* for pass-through to a provider that speaks it natively: ``native_path``, ``native_body``
  (the output limit the hold covers, and what must be set), ``native_headers`` (the
  deployment's key as the protocol sends it), ``native_failed`` (a broken stream's ending) and
  ``native_error_ending`` (what follows a provider's own error event).
"""

from ..errors import ApiError
from . import messages, native, responses

JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": "OpenCodex-Gateway"}


class Chat:
    name = "chat"
    translated = False
    native_path = ""

    @staticmethod
    def to_chat(body):
        return body

    @staticmethod
    def from_chat(data: dict, *, model: str, request) -> dict:
        data["model"] = model
        return data

    @staticmethod
    def stream(*, model: str, request, input_tokens: int):
        return None  # chunks are relayed as they are

    @staticmethod
    def error(exc: ApiError, request_id: str) -> tuple[int, bytes]:
        return exc.status, exc.body()

    @staticmethod
    def headers(request_id: str) -> dict:
        return {}


class Messages(Chat):
    """Anthropic's Messages API (Claude Code)."""

    name = "messages"
    translated = True
    native_path = "/messages"

    @staticmethod
    def to_chat(body):
        return messages.to_chat(body)

    @staticmethod
    def from_chat(data: dict, *, model: str, request) -> dict:
        data["model"] = model
        return messages.from_chat(data, model=model)

    @staticmethod
    def stream(*, model: str, request, input_tokens: int):
        return messages.MessagesStream(model=model, input_tokens=input_tokens)

    @staticmethod
    def error(exc: ApiError, request_id: str) -> tuple[int, bytes]:
        status = messages.error_status(exc)  # Anthropic's statuses, types and request id
        return status, messages.error_body(exc, request_id=request_id, status=status)

    @staticmethod
    def headers(request_id: str) -> dict:
        return {"request-id": request_id}  # Anthropic's SDKs read it

    @staticmethod
    def native_body(body: dict, max_tokens: int) -> None:
        native.messages_limit(body, max_tokens)

    @staticmethod
    def native_headers(protocol_headers: dict, api_key: str | None, request_id: str) -> dict:
        headers = {**JSON_HEADERS, "X-Request-Id": request_id, **protocol_headers}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    @staticmethod
    def native_failed(*, model: str, request, status: int, message: str) -> bytes:
        return messages.MessagesStream(model=model).error(status, message)

    @staticmethod
    def native_error_ending(*, model: str, request, error: dict) -> bytes:
        return b""  # Anthropic's own error event ends its stream


class Responses(Chat):
    """OpenAI's Responses API (Codex)."""

    name = "responses"
    translated = True
    native_path = "/responses"

    @staticmethod
    def to_chat(body):
        return responses.to_chat(body)

    @staticmethod
    def from_chat(data: dict, *, model: str, request) -> dict:
        data["model"] = model
        return responses.from_chat(data, model=model, request=request)

    @staticmethod
    def stream(*, model: str, request, input_tokens: int):
        return responses.ResponsesStream(model=model, request=request)

    @staticmethod
    def native_body(body: dict, max_tokens: int) -> None:
        body["max_output_tokens"] = max_tokens  # always the limit the hold covers
        body["store"] = False  # nothing is kept at the provider under our account

    @staticmethod
    def native_headers(protocol_headers: dict, api_key: str | None, request_id: str) -> dict:
        headers = {**JSON_HEADERS, "X-Request-Id": request_id}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return headers

    @staticmethod
    def native_failed(*, model: str, request, status: int, message: str) -> bytes:
        return responses.ResponsesStream(model=model, request=request).failed(status, message)

    @staticmethod
    def native_error_ending(*, model: str, request, error: dict) -> bytes:
        """OpenAI's error event ({"type": "error", "code", "message"}) ends the stream: its
        clients learn of it as a failed response too."""
        failed = responses.ResponsesStream(model=model, request=request)
        failed.started = True  # the provider's response.created went out already
        message = str(error.get("message") or "The provider failed.")
        return failed.failed(502, message, code=error.get("code"))


FACES = {face.name: face for face in (Chat, Messages, Responses)}
