"""A webhook receiver on loopback, in a thread of the test process: it verifies every request
with the ``standardwebhooks`` reference library (as a customer's receiver would) and records
what it got. It can be taken down (the port refuses connections) and brought back on the same
port, or told to answer with an error, a redirect, a large body or slowly."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.servers import free_port


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    verified: bool
    status: int  # what it answered
    error: str = ""

    @property
    def id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    trickle: float = 0.0  # seconds between the bytes of the answer (a slow-drip server)


class Receiver:
    def __init__(self):
        self.port = free_port()
        self.secrets: dict[str, list[str]] = {}  # path → secrets that verify it
        self.received: list[Received] = []
        self.behaviour = Behaviour()
        self.answered = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    # --- up and down --------------------------------------------------------------------------
    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.record(self.path, headers, body)
                receiver.answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- what it does -------------------------------------------------------------------------
    def record(self, path: str, headers: dict, body: bytes) -> None:
        verified, error = False, ""
        for secret in self.secrets.get(path.split("?")[0], []):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError as exc:
                error = str(exc)
            else:
                verified, error = True, ""
                break
        with self._lock:
            status = self.behaviour.status
            self.received.append(Received(path, headers, body, verified, status, error))

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        behaviour = self.behaviour
        if behaviour.delay:
            time.sleep(behaviour.delay)
        handler.send_response(behaviour.status)
        for name, value in behaviour.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(behaviour.body)))
        handler.end_headers()
        try:
            if behaviour.trickle:
                for byte in behaviour.body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(behaviour.trickle)
            else:
                handler.wfile.write(behaviour.body)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass
        self.answered.set()

    # --- what it got ----------------------------------------------------------------------------
    def accepted(self, path: str | None = None) -> list[Received]:
        """Requests it verified and answered 2xx to (what a receiver would have processed)."""
        return [
            r
            for r in self.received
            if r.verified and 200 <= r.status < 300 and (path is None or r.path == path)
        ]
