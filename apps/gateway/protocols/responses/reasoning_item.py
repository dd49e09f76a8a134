"""The ``reasoning`` item of a Responses stream, from chat reasoning deltas.

Its rule: one reasoning item holds one summary part. The first reasoning delta opens it
(``output_item.added``, ``reasoning_summary_part.added``), each delta is a
``reasoning_summary_text.delta``, and it closes (text done, part done, item done, the whole text
as its summary) when anything else begins or the stream ends. Opening it is the stream's to
order: whatever prose is open closes first.
"""

from .common import new_id
from .envelope import Envelope
from .render import _reasoning_item


class ReasoningWriter:
    """The open reasoning item (``state``: its id, output index and text so far), or None."""

    __slots__ = ("env", "state")

    def __init__(self, env: Envelope):
        self.env = env
        self.state: dict | None = None

    def open(self) -> bytes:
        env = self.env
        index = env.slot()
        item_id = new_id("rs")
        self.state = {"id": item_id, "index": index, "chunks": []}
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        return env.event(
            "response.output_item.added",
            {"output_index": index, "item": _reasoning_item(item_id, "", "in_progress")},
        ) + env.event(
            "response.reasoning_summary_part.added",
            {**where, "part": {"type": "summary_text", "text": ""}},
        )

    def delta(self, piece: str) -> bytes:
        """A piece of the open item's summary text."""
        state = self.state
        state["chunks"].append(piece)
        return self.env.event(
            "response.reasoning_summary_text.delta",
            {
                "item_id": state["id"],
                "output_index": state["index"],
                "summary_index": 0,
                "delta": piece,
            },
        )

    def close(self, status: str = "completed") -> bytes:
        state, self.state = self.state, None
        if state is None:
            return b""
        env = self.env
        text = "".join(state["chunks"])
        index = state["index"]
        where = {"item_id": state["id"], "output_index": index, "summary_index": 0}
        item = _reasoning_item(state["id"], text, status)
        item["summary"] = [{"type": "summary_text", "text": text}]
        env.output[index] = item
        return (
            env.event("response.reasoning_summary_text.done", {**where, "text": text})
            + env.event(
                "response.reasoning_summary_part.done",
                {**where, "part": {"type": "summary_text", "text": text}},
            )
            + env.event("response.output_item.done", {"output_index": index, "item": item})
        )
