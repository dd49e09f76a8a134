"""The assistant ``message`` item of a Responses stream, from chat content and refusal deltas.

Its rule: one message item holds content parts in arrival order, one part per run of the same
kind (``output_text`` or ``refusal``): a delta of the other kind closes the part (``*.done``,
``content_part.done``) and adds the next (``content_part.added``). The item closes, its open
part first, when reasoning or a tool call begins or the stream ends. Opening it is the stream's
to order: open reasoning closes first.
"""

from .common import new_id
from .envelope import Envelope
from .render import _text_part


def _empty_part(kind: str) -> dict:
    return _text_part("") if kind == "output_text" else {"type": "refusal", "refusal": ""}


def _full_part(kind: str, text: str) -> dict:
    return _text_part(text) if kind == "output_text" else {"type": "refusal", "refusal": text}


class MessageWriter:
    """The open message item (``state``: its id, output index and parts so far), or None."""

    __slots__ = ("env", "state")

    def __init__(self, env: Envelope):
        self.env = env
        self.state: dict | None = None

    def open(self) -> bytes:
        index = self.env.slot()
        item_id = new_id("msg")
        self.state = {"id": item_id, "index": index, "parts": []}
        item = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        return self.env.event("response.output_item.added", {"output_index": index, "item": item})

    def write(self, kind: str, piece: str) -> bytes:
        """A delta of the open item: ``kind`` is output_text or refusal."""
        out = b""
        state = self.state
        parts = state["parts"]
        if not parts or parts[-1]["type"] != kind:
            if parts:
                out += self._close_part()
            parts.append({"type": kind, "chunks": [], "done": False})
            out += self.env.event(
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
            return out + self.env.event("response.output_text.delta", {**where, "logprobs": []})
        return out + self.env.event("response.refusal.delta", where)

    def _close_part(self) -> bytes:
        state = self.state
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
        event = self.env.event
        if part["type"] == "output_text":
            out = event("response.output_text.done", {**where, "text": text, "logprobs": []})
        else:
            out = event("response.refusal.done", {**where, "refusal": text})
        return out + event(
            "response.content_part.done", {**where, "part": _full_part(part["type"], text)}
        )

    def close(self, status: str = "completed") -> bytes:
        state = self.state
        if state is None:
            return b""
        out = self._close_part() if state["parts"] else b""
        self.state = None
        item = {
            "id": state["id"],
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": [
                _full_part(part["type"], "".join(part["chunks"])) for part in state["parts"]
            ],
        }
        self.env.output[state["index"]] = item
        return out + self.env.event(
            "response.output_item.done", {"output_index": state["index"], "item": item}
        )
