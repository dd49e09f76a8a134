"""What a stream delivered, and what a broken stream costs.

Its rules: the relay counts every piece of output the provider produced for the client (text,
reasoning, tool calls; also what a renderer holds back for a later event), keeps the
provider's own usage and error when it sends them, and when the stream ends turns that into a
``Usage``: the provider's usage for a stream that completed without error; otherwise a count of
what was delivered, where an upstream failure costs only the output that arrived, a client that
left pays its prompt too, and an answer that produced nothing and never said why it ended is
not charged (``insured``). The relay never prices: the meter does, from this ``Usage``.
"""

from apps.catalog.pricing import Usage, count_text_tokens, usage_from_provider

from .output import count_output

ENDED = ("completed", "incomplete")  # a Responses answer that ended as the model meant it to


def finished(choice: dict) -> bool:
    """Whether a chat choice says why it ended (an error is no reason)."""
    return choice.get("finish_reason") not in (None, "", "error")


def insured(usage: Usage, finished: bool) -> Usage:
    """Nothing useful came back: no output and no finish reason (or an error). The output is
    not charged, and the input only where the provider billed it, which a count of ours (no
    usage from the provider) cannot show: nothing is charged then, not even the request's
    price. (A count is only made when the provider sent no usage.)"""
    if usage.completion or finished:
        return usage
    return Usage(insured=True)


class Delivery:
    """One stream's account: the output delivered (``text`` pieces, ``reasoning`` pieces, the
    number of ``chunks`` that carried output), the provider's ``usage`` and ``error``, whether
    it said why the answer ``finished``, and whether its own last event ``ended`` the stream."""

    __slots__ = ("chunks", "ended", "error", "finished", "reasoning", "text", "usage")

    def __init__(self):
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.chunks = 0
        self.usage = None
        self.error = None  # the provider's own error event, relayed
        self.finished = False  # the provider said why the answer ended (a finish reason)
        self.ended = False  # a native stream's last event arrived

    def error_code(self) -> str:
        """The provider's error, as the usage record's code."""
        error = self.error
        code = error.get("code") or error.get("type") if isinstance(error, dict) else None
        return str(code or "upstream_error")[:50]

    def answer(self) -> dict:
        """What the client received, for content storage."""
        return {"text": "".join(self.text), "reasoning": "".join(self.reasoning), "streamed": True}

    def cost(self, status: int, completed: bool, prompt_estimate: int) -> tuple[Usage, bool]:
        """(the usage to charge, whether it was counted here rather than told by the provider)
        for a stream that ended with ``status`` (499: the client left)."""
        usage = None
        if completed and self.error is None:
            usage = usage_from_provider(self.usage)
        if usage is not None:
            return usage, False
        usage = Usage(
            # An upstream failure costs only the output that arrived; a client that left
            # pays for its prompt too.
            prompt=0 if status >= 500 else prompt_estimate,
            completion=count_output(" ".join(self.text), self.chunks),
            reasoning=count_text_tokens("".join(self.reasoning)),
        )
        if status != 499:  # a client that left pays for its prompt
            usage = insured(usage, self.finished and self.error is None)
        return usage, True
