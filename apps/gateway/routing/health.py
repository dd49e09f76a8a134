"""Health: cooldowns and disables of deployments, learnt from the outcome of each attempt.

Its rules:
* a 429 cools the deployment down for its ``Retry-After`` (or ``GATEWAY_COOLDOWN_SECONDS``);
* our key refused (401/403) or out of quota disables it for ``GATEWAY_DISABLE_SECONDS`` (logged,
  and staff are told once, through a Celery task);
* a burst of failures (more than half of the last minute's attempts, at least 5) cools it down;
* a success clears a disable this process knew of.
A cooldown is shared through Redis as one key per deployment, its TTL the cooldown and its value
the wall-clock time it ends; a value read back that has already ended was ended on purpose (a
probe or staff enabled the deployment again) and clears it here too.
"""

import asyncio
import logging
import time
from collections import deque

from django.conf import settings

from apps.catalog.selectors import COOL_PREFIX, DISABLED_PREFIX, Target
from apps.core import metrics

from ..upstream_errors import QUOTA_CODES

log = logging.getLogger("opencodex.gateway.router")


async def _alert(name: str, reason: str) -> None:
    await asyncio.get_running_loop().run_in_executor(None, _enqueue_alert, name, reason)


def _enqueue_alert(name: str, reason: str) -> None:
    from django.db import connections

    from apps.core.queue import enqueue

    try:
        enqueue("apps.catalog.tasks.deployment_disabled_alert", name, reason)
    finally:
        connections.close_all()  # a task run in place (tests) leaves no connection here


class Health:
    """This process's view: ``cool`` (deployment → monotonic time it may serve again),
    ``disabled`` (deployment → why), ``recent`` (deployment → (time, ok) of the last minute)."""

    def __init__(self, get_store, spawn):
        self.get_store = get_store
        self.spawn = spawn
        self.cool: dict[str, float] = {}
        self.disabled: dict[str, str] = {}
        self.recent: dict[str, deque] = {}

    def until(self, target: Target) -> float:
        return self.cool.get(target.name, 0)

    def outcome(self, target: Target, error, now: float) -> None:
        """How an attempt at ``target`` went (``error`` None: it answered)."""
        window = self.recent.setdefault(target.name, deque())
        window.append((now, error is None))
        while window and window[0][0] < now - 60:
            window.popleft()
        if error is None:
            self.disabled.pop(target.name, None)
            return
        status = getattr(error, "upstream_status", None) or error.status
        code = getattr(error, "code", None) or ""
        seconds = 0.0
        if status in (401, 403) or code in QUOTA_CODES:
            seconds = settings.GATEWAY_DISABLE_SECONDS
            first = target.name not in self.disabled
            reason = "key refused" if status in (401, 403) else "no quota"
            self.disabled[target.name] = reason
            log.error(
                "deployment %s disabled for %ds: %s (HTTP %s)", target.name, seconds, reason, status
            )
            store = self.get_store()
            self.spawn(store.put(DISABLED_PREFIX + target.name, reason, seconds * 1000))
            if first:  # staff are told (Celery: an e-mail), the beat probes it
                self.spawn(_alert(target.name, f"{reason} (HTTP {status})"))
        elif status == 429:
            retry_after = getattr(error, "retry_after", None)
            seconds = retry_after if retry_after else settings.GATEWAY_COOLDOWN_SECONDS
        else:
            failed = sum(1 for _, ok in window if not ok)
            if len(window) >= 5 and failed * 2 > len(window):
                seconds = settings.GATEWAY_COOLDOWN_SECONDS
        if seconds:
            self._cool_down(target, status, now, seconds)

    def _cool_down(self, target: Target, status: int, now: float, seconds: float) -> None:
        reason = (
            "disabled" if target.name in self.disabled
            else "rate_limited" if status == 429 else "failing"
        )  # fmt: skip
        metrics.DEPLOYMENT_COOLDOWNS.labels(target.name, reason).inc()
        self.cool[target.name] = max(self.cool.get(target.name, 0), now + seconds)
        until = str(time.time() + seconds)
        self.spawn(self.get_store().put(COOL_PREFIX + target.name, until, seconds * 1000))

    def absorb(self, names: list[str], values: list) -> None:
        """The pool's cooldowns as Redis holds them (``values``, by deployment ``names``)."""
        now_wall, now = time.time(), time.monotonic()
        for name, value in zip(names, values, strict=True):
            if value:
                until = float(value) - now_wall + now  # stored as wall-clock time
                if until <= now:  # ended on purpose (a probe or staff enabled it again)
                    self.cool.pop(name, None)
                    self.disabled.pop(name, None)
                else:
                    self.cool[name] = max(self.cool.get(name, 0), until)

    def state(self, target: Target) -> dict:
        """What this process knows of a deployment (for the admin and tests)."""
        now = time.monotonic()
        window = self.recent.get(target.name) or ()
        return {
            "cooling_for": max(self.cool.get(target.name, 0) - now, 0.0),
            "disabled": self.disabled.get(target.name, ""),
            "attempts": len(window),
            "failures": sum(1 for _, ok in window if not ok),
        }
