"""One webhook request: POST the body to the checked addresses of the URL's host (the name is
never resolved again), with a short timeout for the whole exchange, no redirects followed (a 3xx
is a failed attempt) and at most ``max_bytes`` of the answer read. Nothing here raises: the
outcome says what happened, for the delivery log."""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .addresses import Resolver, UnsafeURL, url_target


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    latency_ms: int = 0
    excerpt: str = ""
    error: str = ""


def _connector(addresses: tuple[str, ...], port: int, opened: list):
    """http.client's connection factory, bound to the checked addresses (tried in order); the
    socket it opens is kept in ``opened`` (the response may outlive the connection object)."""

    def connect(_address, timeout=None, source_address=None):
        failure: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, port), timeout, source_address)
            except OSError as exc:
                failure = exc
            else:
                opened.append(sock)
                return sock
        raise failure or OSError("no address to connect to")

    return connect


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused."
    if isinstance(exc, TimeoutError | socket.timeout):
        return "Timed out."
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"[:300]
    if isinstance(exc, http.client.HTTPException):
        return f"Invalid HTTP response ({type(exc).__name__})."
    return f"{type(exc).__name__}: {exc}"[:300]


def post(
    url: str,
    *,
    body: bytes,
    headers: dict,
    timeout: float,
    max_bytes: int,
    resolver: Resolver | None = None,
) -> Outcome:
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target = url_target(url, resolver=resolver)
    except UnsafeURL as exc:
        return Outcome(ok=False, error=exc.message[:300])
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    opened: list[socket.socket] = []
    conn._create_connection = _connector(target.addresses, target.port, opened)
    expired = threading.Event()

    def abort():  # the whole exchange gets ``timeout`` seconds, however slowly bytes trickle
        expired.set()
        for sock in opened:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, abort)
    watchdog.daemon = True
    watchdog.start()
    response = None
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(max_bytes)
        status = response.status
        if expired.is_set():  # cut short: what was read is not the answer
            raise TimeoutError
    except Exception as exc:
        error = "Timed out." if expired.is_set() else _describe(exc)
        return Outcome(ok=False, latency_ms=elapsed(), error=error)
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        conn.close()
    text = excerpt.decode("utf-8", "replace")
    error = "Redirects are not followed." if 300 <= status < 400 else ""
    return Outcome(
        ok=200 <= status < 300, status=status, latency_ms=elapsed(), excerpt=text, error=error
    )
