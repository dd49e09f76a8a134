"""Upstream failures as the client sees them: one place that turns a provider's answer or a
transport failure into an ``UpstreamError``.

Its rules: the provider's own answers pass through faithfully (a 4xx keeps its status, type,
code, param and message; a 429 stays a 429 with the provider's ``Retry-After`` and
``x-ratelimit-*`` headers); a 401 is ours to fix (a 502 that says so); 5xx, timeouts and
connection errors are retryable; another deployment may succeed where one was rate limited or
refused our key or quota (``failover_worthy``), a client's request error never.
"""

import contextlib

import orjson

# Headers of an upstream error answer that the client needs to see as they are.
RELAYED_ERROR_HEADERS = ("retry-after", "retry-after-ms")
RELAYED_ERROR_PREFIXES = ("x-ratelimit-",)
OVERLOADED = {503, 529}


class UpstreamError(Exception):
    """An upstream failure, as the client will see it."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        retryable: bool,
        type: str = "upstream_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.type = type
        self.param = param
        self.headers = headers or {}
        self.retry_after = retry_after
        self.upstream_status = upstream_status


def retry_after_seconds(headers) -> float | None:
    """The wait an upstream asked for, from ``retry-after-ms`` or ``retry-after`` (seconds; an
    HTTP date is treated as unknown)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            with contextlib.suppress(ValueError):
                seconds = float(value) / scale
                if seconds >= 0:
                    return seconds
    return None


def relayed_headers(headers) -> dict[str, str]:
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() in RELAYED_ERROR_HEADERS or name.lower().startswith(RELAYED_ERROR_PREFIXES)
    }


def _provider_error(text: str) -> dict:
    """The provider's error object: OpenAI's ``{"error": {...}}``, Anthropic's
    ``{"type": "error", "error": {...}}``, a bare ``{"error": "text"}`` or ``{"message": ...}``."""
    try:
        data = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        return {"message": text.strip()[:500]} if text.strip() else {}
    if isinstance(data, list) and data and isinstance(data[0], dict):  # Gemini wraps in a list
        data = data[0]
    if not isinstance(data, dict):
        return {}
    error = data.get("error", data)
    if isinstance(error, str):
        return {"message": error}
    return error if isinstance(error, dict) else {}


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)


def error_from_response(status: int, text: str, headers) -> UpstreamError:
    error = _provider_error(text)
    message = str(error.get("message") or "").strip()
    relayed = relayed_headers(headers)
    retry_after = retry_after_seconds(headers)
    if status == 401:
        # Our credentials at the provider: ours to fix, not the client's.
        return UpstreamError(
            502,
            "upstream_auth",
            "The upstream provider refused the gateway's credentials; this is on our side and "
            "has been logged.",
            retryable=False,
            upstream_status=status,
        )
    if status >= 500:
        overloaded = status in OVERLOADED
        detail = f": {message}" if message else ""
        return UpstreamError(
            503 if overloaded else 502,
            "upstream_overloaded" if overloaded else "upstream_error",
            f"The upstream provider failed (HTTP {status}){detail}. Please retry.",
            retryable=True,
            headers=relayed,
            retry_after=retry_after,
            upstream_status=status,
        )
    # A 4xx is the provider's answer to this request: relayed as it is, never retried.
    default_type = "rate_limit_error" if status == 429 else "invalid_request_error"
    return UpstreamError(
        status,
        _str_or_none(error.get("code")) or ("rate_limit_exceeded" if status == 429 else None),
        message or f"The upstream provider rejected the request (HTTP {status}).",
        retryable=False,
        type=str(error.get("type") or default_type),
        param=_str_or_none(error.get("param")),
        headers=relayed,
        retry_after=retry_after,
        upstream_status=status,
    )


QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}


def failover_worthy(error: UpstreamError) -> bool:
    """Whether another deployment may succeed where this one failed: it could not be reached,
    timed out, failed (5xx), was rate limited, or refused our key or quota. A client's request
    error (any other 4xx) would fail anywhere, and is never retried."""
    status = error.upstream_status or error.status
    return error.retryable or status in (401, 403, 429) or (error.code or "") in QUOTA_CODES


def most_meaningful(errors: list[UpstreamError]) -> UpstreamError:
    """What the client is told when every deployment failed: if all were rate limited, the 429
    with the soonest Retry-After; otherwise the last answer."""
    limited = [e for e in errors if (e.upstream_status or e.status) == 429]
    if limited and len(limited) == len(errors):
        return min(limited, key=lambda e: e.retry_after if e.retry_after is not None else 1e9)
    return errors[-1]


def _transport_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):
        return UpstreamError(
            504, "upstream_timeout", "The upstream provider timed out.", retryable=True
        )
    return UpstreamError(
        502,
        "upstream_error",
        f"Could not reach the upstream provider ({type(exc).__name__}).",
        retryable=True,
    )
