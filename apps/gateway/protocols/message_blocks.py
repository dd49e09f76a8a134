"""The content blocks of a Messages stream: Anthropic's one block at a time.

Its rules: a block is written start, deltas, stop, and only one block streams (is live) at a
time; whatever arrives for another block meanwhile (a parallel tool call interleaved with the
first, text after a tool call) is buffered and written, start to stop, after it. Text and
thinking end where another block begins; a tool call stays live until the next block that is not
a tool call's buffered piece. A thinking block ends with an (empty) signature delta. Every piece
written, live or buffered, is delivered output.
"""

import orjson


def _event(kind: str, data: dict) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class _Block:
    """One content block of the answer: its start, and what is buffered for it while another
    block is being streamed."""

    __slots__ = ("kind", "pieces", "start")

    def __init__(self, kind: str, start: dict):
        self.kind = kind  # "text", "thinking" or "tool"
        self.start = start
        self.pieces: list[str] = []


DELTA_TYPES = {"text": "text_delta", "thinking": "thinking_delta", "tool": "input_json_delta"}
DELTA_FIELDS = {"text": "text", "thinking": "thinking", "tool": "partial_json"}


class Blocks:
    """The stream's blocks: ``index`` of the last one started, the ``live`` one, the
    ``pending`` ones in order, and the current text and thinking blocks (where prose goes)."""

    def __init__(self, delivered: list[str]):
        self.delivered = delivered
        self.index = -1  # the last content block started
        self.live: _Block | None = None
        self.pending: list[_Block] = []  # blocks waiting for the live one to end, in order
        self.text_block: _Block | None = None  # where text goes while a tool call is live
        self.thinking_block: _Block | None = None

    def _delta(self, block: _Block, piece: str) -> bytes:
        delta = {"type": DELTA_TYPES[block.kind], DELTA_FIELDS[block.kind]: piece}
        return _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": self.index, "delta": delta},
        )

    def _close(self) -> bytes:
        block, self.live = self.live, None
        if block is None:
            return b""
        out = b""
        if block.kind == "thinking":
            delta = {"type": "signature_delta", "signature": ""}
            out += _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": self.index, "delta": delta},
            )
        if block is self.text_block:
            self.text_block = None
        if block is self.thinking_block:
            self.thinking_block = None
        return out + _event(
            "content_block_stop", {"type": "content_block_stop", "index": self.index}
        )

    def _begin(self, block: _Block) -> bytes:
        self.index += 1
        self.live = block
        out = _event(
            "content_block_start",
            {"type": "content_block_start", "index": self.index, "content_block": block.start},
        )
        if block.pieces:
            out += self._delta(block, "".join(block.pieces))
            block.pieces = []
        return out

    def write(self, block: _Block, piece: str) -> bytes:
        """``piece`` of ``block``: streamed when it is live (or can become so), else buffered."""
        self.delivered.append(piece)
        if block is self.live:
            return self._delta(block, piece)
        out = b""
        if self.live is not None and self.live.kind != "tool":
            out += self._close()  # text and thinking end where another block begins
        if self.live is None and block not in self.pending:
            out += self._begin(block)
            return out + (self._delta(block, piece) if piece else b"")
        if block not in self.pending:
            self.pending.append(block)
        if piece:
            block.pieces.append(piece)
        return out

    def prose(self, kind: str, piece: str) -> bytes:
        """A piece of text or thinking (``kind``), to the current block of its kind."""
        if kind == "text":
            if self.text_block is None:
                self.text_block = _Block("text", {"type": "text", "text": ""})
            return self.write(self.text_block, piece)
        if self.thinking_block is None:
            self.thinking_block = _Block(
                "thinking", {"type": "thinking", "thinking": "", "signature": ""}
            )
        return self.write(self.thinking_block, piece)

    def drain(self) -> bytes:
        """The live block's stop, then every buffered block, start to stop."""
        out = self._close()
        while self.pending:
            block = self.pending.pop(0)
            out += self._begin(block) + self._close()
        return out
