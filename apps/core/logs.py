"""Structured logs: one JSON object per line, carrying the id of the request being served.

The gateway and the portal set ``request_id`` for each request (the id its client sees in the
``x-request-id`` header); every line logged while serving it, including from tasks it spawned,
names it. ``LOG_FORMAT=json`` (the production default) or ``plain``.
"""

import contextvars
import logging
import re
import secrets
from datetime import UTC, datetime

import orjson

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# What a client may send as its own request id (kept, so its logs and ours can be joined).
CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# The attributes every LogRecord has; anything else was passed in ``extra=`` and is kept.
STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        return True


# Paths whose last segment is a secret (allauth's e-mail confirmation and password reset keys).
SECRET_PATH = re.compile(r"(/confirm-email/|/password/reset/key/|/login/code/confirm/)[^/?\s\"]+")


def redact(text: str) -> str:
    return SECRET_PATH.sub(r"\1[redacted]", text)


class SecretPathFilter(logging.Filter):
    """Blanks the keys of confirmation and password-reset links in every log line (uvicorn's
    access log and Django's 'Not Found: …' warnings print request paths)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "/" in record.msg:
            record.msg = redact(record.msg)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "") or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def portal_request_id(header: str | None) -> str:
    """The id of a portal request: the client's own ``X-Request-ID`` when it is sane."""
    if header and CLIENT_ID.match(header):
        return header
    return "req_" + secrets.token_hex(12)


class RequestIdMiddleware:
    """Names each portal request (``X-Request-ID`` in and out) for its log lines."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = portal_request_id(request.headers.get("x-request-id"))
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response.headers.setdefault("X-Request-ID", request_id)
        return response
