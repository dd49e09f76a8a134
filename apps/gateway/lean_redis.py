"""A lean Redis connection for the one command every request sends (the key check's EVALSHA).

redis-py spends ~100 µs of Python per command here (connection pool, command packing, response
callbacks); this writes the RESP bytes on a bare asyncio protocol and parses replies with
hiredis (redis-py's own C parser), one pipelined connection per process: ~25 µs. And because
``send`` writes at once and returns a future, a request puts its check on the wire the moment its
key is parsed, before its body is read, so the reply is usually in by the time it is needed.

Only plain ``redis://`` URLs (TLS and sockets stay with redis-py); every other command stays with
redis-py. A connection that breaks fails the commands in flight (the caller falls back as for any
Redis error) and the next ``send`` after ``connect`` opens a new one."""

import asyncio
import contextlib
from collections import deque

import hiredis

TIMEOUT_SECONDS = 1.0


class ReplyError(Exception):
    """Redis answered with an error (e.g. NOSCRIPT after a restart)."""


def encode(*parts) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if not isinstance(part, bytes):
            part = str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: "LeanRedis"):
        self.owner = owner
        self.transport = None

    def connection_made(self, transport):
        self.transport = self.owner.transport = transport

    def data_received(self, data: bytes) -> None:
        reader, waiting = self.owner.reader, self.owner.waiting
        reader.feed(data)
        while True:
            reply = reader.gets()
            if reply is False:
                return
            if not waiting:  # a reply nobody waits for (its caller timed out): dropped
                continue
            future, timer = waiting.popleft()
            timer.cancel()
            if future.done():
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(ReplyError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc):
        if self.owner.transport is self.transport:  # not a connection closed and replaced
            self.owner.lost(exc)


class LeanRedis:
    def __init__(self, host: str, port: int = 6379, db: int = 0, password=None, username=None):
        self.address = (host, port)
        self.db, self.password, self.username = db, password, username
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.waiting: deque = deque()  # (future, timeout handle) in the order sent
        self.connecting: asyncio.Future | None = None

    @classmethod
    def from_url(cls, url: str) -> "LeanRedis | None":
        if not url.startswith("redis://"):
            return None
        from redis.connection import parse_url

        options = parse_url(url)
        if "host" not in options:
            return None
        return cls(
            options["host"],
            options.get("port", 6379),
            options.get("db", 0),
            options.get("password"),
            options.get("username"),
        )

    @property
    def ready(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    async def connect(self) -> None:
        if self.ready:
            return
        if self.connecting is not None:  # another request is connecting: share it
            await asyncio.shield(self.connecting)
            return
        loop = asyncio.get_running_loop()
        self.connecting = loop.create_future()
        try:
            self.reader = hiredis.Reader()
            await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), *self.address), TIMEOUT_SECONDS
            )
            handshake = []
            if self.password is not None:
                auth = [self.username, self.password] if self.username else [self.password]
                handshake.append(self.send(b"AUTH", *auth))
            if self.db:
                handshake.append(self.send(b"SELECT", self.db))
            for reply in handshake:
                await reply
            self.connecting.set_result(None)
        except BaseException as exc:
            self.close()
            self.connecting.set_exception(ConnectionError(f"Redis: {exc!r}"))
            self.connecting.exception()  # retrieved: nobody else may be waiting
            raise ConnectionError(f"Redis: {exc!r}") from exc
        finally:
            self.connecting = None

    def send(self, *parts) -> asyncio.Future:
        """Write one command now; its reply, in a future (ConnectionError when the connection
        breaks, TimeoutError after TIMEOUT_SECONDS, ReplyError for Redis's errors)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.ready:
            future.set_exception(ConnectionError("Redis: not connected"))
            return future
        timer = loop.call_later(TIMEOUT_SECONDS, self._expire, future)
        self.waiting.append((future, timer))
        self.transport.write(encode(*parts))
        return future

    def _expire(self, future: asyncio.Future) -> None:
        if not future.done():
            future.set_exception(TimeoutError("Redis did not answer in time"))
            # A reply may still come for it; the connection is out of step: start afresh.
            self.close()

    def lost(self, exc) -> None:
        self.transport = None
        error = ConnectionError(f"Redis connection lost: {exc!r}")
        while self.waiting:
            future, timer = self.waiting.popleft()
            timer.cancel()
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.abort()
        self.lost(None)
