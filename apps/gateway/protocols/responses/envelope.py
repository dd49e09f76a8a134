"""The envelope of a Responses stream: the ``response`` object around the items, and the events.

Its rule: every event carries a ``sequence_number`` one higher than the event before it, in the
order the events are written; an item takes its ``output_index`` (a slot of ``output``) when it
opens, in opening order, and fills that slot when it closes, so ``output`` lists the closed
items in the order they began (an open one is left out of every snapshot).
"""

import time

import orjson

from .common import new_id


class Envelope:
    """What every item writer of one stream shares: the event writer (sequence numbers), the
    output slots and the ``response`` snapshot of the moment."""

    __slots__ = ("created_at", "echo", "output", "response_id", "sequence")

    def __init__(self, echo: dict):
        self.echo = echo  # the request's settings, echoed in every response snapshot
        self.response_id = new_id("resp")
        self.created_at = int(time.time())
        self.sequence = 0
        self.output: list = []  # finished items by output_index (None while open)

    def event(self, kind: str, data: dict) -> bytes:
        """One SSE event, numbered."""
        data = {"type": kind, **data, "sequence_number": self.sequence}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def slot(self) -> int:
        """The output_index of an item that opens now."""
        self.output.append(None)
        return len(self.output) - 1

    def response(self, status: str, **extra) -> dict:
        """The ``response`` object as it stands: the closed items, no usage unless given."""
        return {
            "id": self.response_id,
            **self.echo,
            "created_at": self.created_at,
            "status": status,
            "output": [item for item in self.output if item is not None],
            "usage": None,
            **extra,
        }
