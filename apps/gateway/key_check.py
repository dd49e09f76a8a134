"""The per-request key check: one Redis round trip, one script, four facts.

Its rules: the check reads the key's cached facts, counts the request in its minute's rate
window, says whether its "last used" marker is due for a write, and reads (adding what this
process counted since) the tokens its minute's finished requests used. It goes over the lean
connection (``lean_redis.py``), put on the wire as soon as the key is parsed (``begin``) and
read when needed; over redis-py when the lean connection is not up or the script is unknown
(NOSCRIPT after a Redis restart: redis-py loads it again). Any failure: Redis is marked down,
the tokens that rode on it are kept here, and the process's fallback answers.
"""

import contextlib
import hashlib

from redis.exceptions import RedisError

from apps.keys import cache as key_cache

from .lean_redis import ReplyError
from .outage import Outage
from .token_counter import TOKENS_PREFIX, WINDOW_SECONDS, TokenCounter

RATE_PREFIX = "ocx:rl:"
TOUCH_PREFIX = "ocx:used:"

# One round trip and one command for the four per-request facts: the cached key facts, this
# minute's request count, whether "last used" is due for a write, and the tokens this minute's
# finished requests used (a key's tokens-per-minute limit).
# The tokens this process counted since (ARGV[3]) are added on the way: a key's finished
# requests reach Redis with its next request here, or within TOKENS_FLUSH_SECONDS.
CHECK_SCRIPT = """
local facts = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local touch = redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[2])
local tokens
if tonumber(ARGV[3]) > 0 then
    tokens = redis.call('INCRBY', KEYS[4], ARGV[3])
    redis.call('EXPIRE', KEYS[4], ARGV[1])
else
    tokens = tonumber(redis.call('GET', KEYS[4]) or '0')
end
return {facts or '', count, touch and 1 or 0, tokens}
"""
CHECK_SHA = hashlib.sha1(CHECK_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)


def _retrieved(future) -> None:
    if not future.cancelled():
        future.exception()  # read, so an unread failure is not reported as lost


class KeyCheck:
    """``begin(digest, window)`` then ``check(digest, window, pending)``: (cached facts or
    None, the request's count in its window, whether to touch "last used", the minute's
    tokens)."""

    def __init__(self, redis, lean, outage: Outage, fallback, tokens: TokenCounter):
        self.script = redis.register_script(CHECK_SCRIPT)
        self.lean, self.outage, self.fallback, self.tokens = lean, outage, fallback, tokens

    def _request(self, digest: str, window: int) -> tuple[list[str], int]:
        """The check's keys, and the tokens this process counted for the key since (taken)."""
        keys = [
            key_cache.KEY_PREFIX + digest,
            f"{RATE_PREFIX}{digest}:{window}",
            TOUCH_PREFIX + digest,
            f"{TOKENS_PREFIX}{digest}:{window}",
        ]
        return keys, self.tokens.take(digest, window)

    def begin(self, digest: str, window: int):
        """Put the check on the wire now, when the lean connection is up: what ``check`` needs
        to read its reply, or None."""
        lean = self.lean
        if lean is None or not lean.ready or self.outage.down:
            return None
        keys, add = self._request(digest, window)
        args = (WINDOW_SECONDS + 10, WINDOW_SECONDS, add)
        reply = lean.send(b"EVALSHA", CHECK_SHA, len(keys), *keys, *args)
        reply.add_done_callback(_retrieved)  # also when a refusal leaves it unread
        return reply, keys, add

    async def check(self, digest: str, window: int, pending=None):
        if self.outage.down:
            if pending is not None:
                pending[0].cancel()
                self.tokens.keep(digest, window, pending[2])
            return await self.fallback.check(digest, window)
        if pending is None and self.lean is not None:
            if not self.lean.ready:
                with contextlib.suppress(ConnectionError, OSError):
                    await self.lean.connect()
            pending = self.begin(digest, window)
        if pending is not None:
            reply, keys, add = pending
            try:
                cached, count, touch, tokens = await reply
                return cached or None, count, bool(touch), tokens
            except ReplyError:
                pass  # NOSCRIPT (Redis restarted): redis-py loads the script again, below
            except (ConnectionError, TimeoutError, OSError) as exc:
                self.outage.note(exc)
                self.tokens.keep(digest, window, add)
                return await self.fallback.check(digest, window)
        else:
            keys, add = self._request(digest, window)
        try:
            cached, count, touch, tokens = await self.script(
                keys=keys, args=[WINDOW_SECONDS + 10, WINDOW_SECONDS, add]
            )
        except (RedisError, OSError) as exc:
            self.outage.note(exc)
            self.tokens.keep(digest, window, add)
            return await self.fallback.check(digest, window)
        return cached or None, count, bool(touch), tokens
