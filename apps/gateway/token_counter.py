"""A key's tokens per minute, counted for every process (the ``tpm`` limit).

Its rules: a finished request's tokens are added to its key's minute in this process first;
they reach Redis with the key's next check from this process (the check script adds them on the
way, no extra round trip), or within ``TOKENS_FLUSH_SECONDS`` in one pipeline for every key;
tokens of a minute that is over count no more; while Redis is down (or when it did not take
them) they count in this process's fallback alone.
"""

import asyncio
import time

from redis.exceptions import RedisError

from .outage import Outage

TOKENS_PREFIX = "ocx:tpm:"
TOKENS_FLUSH_SECONDS = 1.0
WINDOW_SECONDS = 60


class TokenCounter:
    """``pending``: digest → (minute, tokens) not in Redis yet."""

    def __init__(self, redis, outage: Outage, fallback):
        self.redis, self.outage, self.fallback = redis, outage, fallback
        self.pending: dict[str, tuple[int, int]] = {}
        self.flusher: asyncio.Task | None = None

    def take(self, digest: str, window: int) -> int:
        """The tokens counted here for the key's minute ``window``, taken to ride on its check."""
        pending = self.pending.pop(digest, None) if self.pending else None
        return pending[1] if pending is not None and pending[0] == window else 0

    def keep(self, digest: str, window: int, tokens: int) -> None:
        if tokens:  # Redis did not take them: counted here while it is away
            self.fallback.add_tokens(digest, window, tokens)

    def add(self, digest: str, window: int, tokens: int) -> None:
        """Count a finished request's tokens in the key's minute (``window``), for every
        process: with the key's next check from this process, or within a second (tokens of a
        minute that is over count no more); in this process alone while Redis is down."""
        if self.outage.down:
            return self.fallback.add_tokens(digest, window, tokens)
        pending = self.pending.get(digest)
        if pending is not None and pending[0] == window:
            tokens += pending[1]
        self.pending[digest] = (window, tokens)
        if self.flusher is None:
            self.flusher = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        await asyncio.sleep(TOKENS_FLUSH_SECONDS)
        self.flusher = None
        pending, self.pending = self.pending, {}
        window = int(time.time() // WINDOW_SECONDS)
        pending = {digest: t for digest, (w, t) in pending.items() if w == window}
        if not pending:
            return
        if self.outage.down:
            for digest, tokens in pending.items():
                self.fallback.add_tokens(digest, window, tokens)
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for digest, tokens in pending.items():
                    pipe.incrby(f"{TOKENS_PREFIX}{digest}:{window}", tokens)
                    pipe.expire(f"{TOKENS_PREFIX}{digest}:{window}", WINDOW_SECONDS + 10)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.outage.note(exc)
            for digest, tokens in pending.items():
                self.fallback.add_tokens(digest, window, tokens)

    def close(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
