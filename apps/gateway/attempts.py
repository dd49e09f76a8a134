"""The retry loop before the first byte: one request's attempts over its deployments.

Its rules: a plan of several deployments (the router's order) is tried in turn, each once, when
a failure is one another deployment may not have (``failover_worthy``), within the request's
time budget; then the request's retry policy (``Attempts``) applies to the last one: only
retryable failures, honouring ``Retry-After``, with jittered backoff, within the same budget, and
none when the client is itself retrying. Every attempt is noted (deployment, status,
milliseconds) for the usage record, and reported to the router. Nothing of the answer has
reached the client while this runs.
"""

import asyncio
import logging
import random
import time

import aiohttp
from django.conf import settings

from apps.core import metrics

from .upstream_errors import UpstreamError, _transport_error, failover_worthy, most_meaningful

log = logging.getLogger("opencodex.gateway.upstream")


class Attempts:
    """The retry policy of one request: how many more attempts it may make, and until when; and
    what each attempt did (deployment, status, milliseconds), for the usage record."""

    def __init__(self, retries: int):
        self.left = max(retries, 0)
        self.deadline = time.monotonic() + settings.GATEWAY_UPSTREAM_RETRY_BUDGET
        self.made = 0
        self.chain: list[tuple[str, int, int]] = []
        self.served = None  # the deployment that answered

    def note(self, target, status: int, started: float) -> None:
        name = getattr(target, "name", "") or ""
        seconds = time.perf_counter() - started
        self.chain.append((name, status, int(seconds * 1000)))
        if name:
            metrics.UPSTREAM_ATTEMPTS.labels(name, str(status)).inc()
            metrics.UPSTREAM_ATTEMPT_SECONDS.labels(name).observe(seconds)

    def next_delay(self, error: UpstreamError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up."""
        if not error.retryable or self.left <= 0:
            return None
        delay = error.retry_after
        if delay is None:
            delay = 0.05 * 2**attempt * (1 + random.random() / 2)  # noqa: S311 (jitter)
        if time.monotonic() + delay > self.deadline:
            return None
        self.left -= 1
        return delay


async def try_plan(call, attempts: Attempts, plan=None, report=None):
    """``call(target)`` until one answers. With a plan of several deployments, a failure
    another may not have (``failover_worthy``) moves to the next one at once, each tried
    once per request within its time budget; the request's retry policy then applies to
    the last. ``report(target, error or None)`` tells the router each outcome."""
    plan = plan or [None]
    index = attempt = 0
    errors: list[UpstreamError] = []
    while True:
        target = plan[index]
        attempts.made += 1
        started = time.perf_counter()
        try:
            result = await call(target)
        except UpstreamError as exc:
            error = exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = _transport_error(exc)
        else:
            attempts.note(target, 200, started)
            attempts.served = target
            if report is not None:
                report(target, None)
            return result
        attempts.note(target, error.upstream_status or error.status, started)
        if report is not None:
            report(target, error)
        errors.append(error)
        if (
            index + 1 < len(plan)
            and failover_worthy(error)
            and time.monotonic() < attempts.deadline
        ):
            log.warning(
                "deployment %s failed (%s); trying %s",
                getattr(target, "name", "?"), error.message, plan[index + 1].name,
            )  # fmt: skip
            index += 1
            continue
        delay = attempts.next_delay(error, attempt)
        if delay is None:
            raise most_meaningful(errors)
        log.warning("upstream attempt %d failed: %s; retrying", attempt + 1, error.message)
        await asyncio.sleep(delay)
        attempt += 1
