"""Routing: which deployment of a model serves this attempt.

A model is served by a pool of deployments (``Route.deployments``: endpoint, key, upstream
model id, priority tier, weight). ``plan`` orders them for one request: the deployment that last
served the request's session (while it is healthy), then the healthy ones of the best tier in
weighted random order, then the next tiers, and last the ones cooling down (so a model with one
deployment is never refused by its own cooldown). The relay tries them in that order before the
first byte reaches the client; ``report`` is told how each attempt went:

* a 429 cools the deployment down for its ``Retry-After`` (or ``GATEWAY_COOLDOWN_SECONDS``);
* our key refused (401/403) or out of quota disables it for ``GATEWAY_DISABLE_SECONDS``;
* a burst of failures (more than half of the last minute's attempts, at least 5) cools it down;
* a success makes it the session's deployment for ``GATEWAY_STICKY_SECONDS`` of idleness;
* a deployment with its own limits (``rpm``, ``tpm`` in the catalog) that took them this
  minute rests until the next one, with those cooling down.

The client may narrow and order the pool (``provider: {order, sort}``; ``only``, ``ignore`` and
``max_price`` were applied by validation): ``order`` and a ``sort`` by measured latency or
throughput come before stickiness.

State is kept in this process and shared through Redis (one key per deployment with the
cooldown as its TTL, one per session, two counters per limited deployment and minute whose
increments answer every process's total), refreshed in the background at most once a second per
model, so routing adds no round trip to a request; with Redis down each process routes on its
own, as rate limits do. The policy (what cools for how long) is here, the state in ``state.py``,
the pick is plain weighted shuffling: the router is handed a pool and a store, never the
gateway.
"""

import hashlib
import logging
import random
import time
from collections import deque

from django.conf import settings

from apps.catalog.selectors import COOL_PREFIX, DISABLED_PREFIX, Route, Target
from apps.core import metrics

from .upstream import QUOTA_CODES

log = logging.getLogger("opencodex.gateway.router")
STICKY_PREFIX = "ocx:sticky:"
LOAD_PREFIX = "ocx:load:"  # a limited deployment's requests (r) and tokens (t) in one minute
STALE_SECONDS = 5.0  # a model's shared state older than this is read before routing it
SPEED_WEIGHT = 0.2  # of the newest request in a deployment's measured latency and throughput


def session_key(ctx_headers, body) -> str | None:
    """The request's session identity, when it has one: an ``x-session-id`` header, Anthropic's
    ``metadata.user_id``, the Responses ``prompt_cache_key``, or chat completions' ``user``."""
    header = ctx_headers.get("x-session-id") if ctx_headers is not None else None
    if header:
        return header[:200]
    if not isinstance(body, dict):
        return None
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        return metadata["user_id"][:200]
    for name in ("prompt_cache_key", "user"):
        if isinstance(body.get(name), str) and body[name]:
            return body[name][:200]
    return None


def _single(route: Route) -> Target:
    provider = "demo" if route.demo else route.provider  # the built-in demo answers it
    return Target(
        name=f"{provider}:-:{route.upstream_id}",
        provider=provider,
        base_url=route.base_url,
        api_key=route.api_key,
        upstream_id=route.upstream_id,
        protocols=route.protocols,
    )


async def _alert(name: str, reason: str) -> None:
    import asyncio

    await asyncio.get_running_loop().run_in_executor(None, _enqueue_alert, name, reason)


def _enqueue_alert(name: str, reason: str) -> None:
    from django.db import connections

    from apps.core.queue import enqueue

    try:
        enqueue("apps.catalog.tasks.deployment_disabled_alert", name, reason)
    finally:
        connections.close_all()  # a task run in place (tests) leaves no connection here


class Router:
    def __init__(self, get_store, spawn):
        self.get_store = get_store
        self.spawn = spawn
        self.cool: dict[str, float] = {}  # deployment → monotonic time it may serve again
        self.disabled: dict[str, str] = {}  # deployment → why (our key refused, no quota)
        self.sticky: dict[str, tuple[float, str]] = {}  # session hash → (until, deployment)
        self.synced: dict[str, float] = {}  # model → when its cooldowns were last read
        self.recent: dict[str, deque] = {}  # deployment → (time, ok) of the last minute
        # deployment → (first-byte ms, output tokens/s), moving averages of served requests
        self.speed: dict[str, tuple[float, float]] = {}
        self.limited: dict[str, Target] = {}  # deployments with rpm or tpm limits
        # limited deployment → [minute, requests, tokens here, requests, tokens everywhere]
        self.load: dict[str, list[int]] = {}

    # --- choosing ------------------------------------------------------------------------------
    def plan(self, route: Route, session: str | None = None, prefs=None) -> list[Target]:
        """The deployments to try, in order. ``prefs`` (the client's ``provider``): its
        ``order`` first, or sorted by measured ``latency``/``throughput``; either comes before
        the session's deployment (the client asked for it)."""
        pool = route.deployments
        if len(pool) <= 1:
            return list(pool) or [_single(route)]
        now = time.monotonic()
        self._sync(route, now)
        cool, minute = self.cool, None
        healthy, cooling = [], []  # cooling: at its cooldown or its own per-minute limits
        for t in pool:
            if cool.get(t.name, 0) > now:
                cooling.append(t)
            elif t.rpm or t.tpm:
                minute = minute or int(time.time() // 60)
                (cooling if self._full(t, minute) else healthy).append(t)
            else:
                healthy.append(t)
        if len(cooling) > 1:
            cooling.sort(key=self._until)  # tried last, soonest first
        tiers = {t.priority for t in healthy}
        if len(tiers) == 1 and all(t.weight == 1 for t in healthy):
            ordered = random.sample(healthy, len(healthy))  # the common pool: equal shares
        else:
            ordered = []
            for tier in sorted(tiers):
                members = [t for t in healthy if t.priority == tier]
                # Weighted random order (Efraimidis-Spirakis): a heavier deployment comes first
                # more often, and every one appears once.
                members.sort(key=lambda t: -(random.random() ** (1 / max(t.weight, 1e-9))))  # noqa: S311
                ordered += [t for t in members if t.weight > 0]
                ordered += [t for t in members if t.weight == 0]
        if prefs is not None and (prefs.order or prefs.sort in ("latency", "throughput")):
            ordered.sort(key=self._preference(prefs))  # stable: tiers and weights break ties
        elif session is not None:
            kept = self.sticky.get(self._session(route, session))
            if kept is not None and kept[0] > now:
                at = next((i for i, t in enumerate(ordered) if t.name == kept[1]), None)
                if at:  # not already first
                    ordered.insert(0, ordered.pop(at))
        return ordered + cooling

    async def refresh(self, route: Route) -> None:
        """A pooled model this process has not routed for ``STALE_SECONDS`` (or ever): its
        shared state is read before the plan (one round trip, only after idleness), so a
        cooldown another node set is honoured from the first request on. A busy model is
        refreshed in the background instead (``_sync``)."""
        if len(route.deployments) <= 1:
            return
        now = time.monotonic()
        if now - self.synced.get(route.public_id, float("-inf")) < STALE_SECONDS:
            return
        self.synced[route.public_id] = now
        await self._read_cooldowns(route)

    async def restore_session(self, route: Route, session: str | None) -> None:
        """Another process may have served this session: its deployment, from Redis (only for
        a pooled model, only when this process has not seen the session)."""
        if session is None or len(route.deployments) <= 1:
            return
        key = self._session(route, session)
        kept = self.sticky.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return
        (name,) = await self.get_store().get_many([STICKY_PREFIX + key])
        if name:
            name = name.decode() if isinstance(name, bytes) else name
            self.sticky[key] = (time.monotonic() + settings.GATEWAY_STICKY_SECONDS, name)

    def _preference(self, prefs):
        order = {name: index for index, name in enumerate(prefs.order)}
        last = len(order)
        speed = self.speed

        def key(target: Target):
            rank = order.get(target.provider, last)
            measured = speed.get(target.name)
            if prefs.sort == "latency":  # one never measured is tried, and so measured
                return rank, measured[0] if measured else 0.0
            if prefs.sort == "throughput":
                return rank, -measured[1] if measured else float("-inf")
            return rank, 0.0

        return key

    def observe(
        self, name: str, first_byte_ms: int, tokens_per_second: float | None, tokens: int = 0
    ) -> None:
        """What a served request measured at a deployment: its time to the first byte and, for
        an answer with output, tokens per second after it (moving averages, per process), and
        the tokens it took (counted against its tpm)."""
        if not name:
            return
        if tokens:
            self._count(name, 0, tokens)
        old = self.speed.get(name)
        if old is None:
            self.speed[name] = (float(first_byte_ms), tokens_per_second or 0.0)
            return
        latency = old[0] + SPEED_WEIGHT * (first_byte_ms - old[0])
        throughput = old[1]
        if tokens_per_second is not None:
            throughput += SPEED_WEIGHT * (tokens_per_second - throughput)
        self.speed[name] = (latency, throughput)

    # --- per-deployment limits (rpm, tpm) -----------------------------------------------------
    def _full(self, target: Target, minute: int) -> bool:
        if not (target.rpm or target.tpm):
            return False
        self.limited[target.name] = target
        load = self.load.get(target.name)
        if load is None or load[0] != minute:
            return False
        requests, tokens = max(load[1], load[3]), max(load[2], load[4])
        over_rpm = bool(target.rpm) and requests >= target.rpm
        return over_rpm or (bool(target.tpm) and tokens >= target.tpm)

    def _count(self, name: str, requests: int, tokens: int) -> None:
        """Count what a limited deployment took this minute, here and (in the background) in
        Redis, whose answer is every process's count."""
        if name not in self.limited:
            return
        minute = int(time.time() // 60)
        load = self.load.get(name)
        if load is None or load[0] != minute:
            load = self.load[name] = [minute, 0, 0, 0, 0]  # minute, ours, ours, all, all
        load[1] += requests
        load[2] += tokens
        self.spawn(self._share(name, minute, requests, tokens))

    async def _share(self, name: str, minute: int, requests: int, tokens: int) -> None:
        store = self.get_store()
        for index, kind, amount in ((3, "r", requests), (4, "t", tokens)):
            if amount:
                total = await store.add(f"{LOAD_PREFIX}{name}:{minute}:{kind}", amount, 120_000)
                load = self.load.get(name)
                if total is not None and load is not None and load[0] == minute:
                    load[index] = max(load[index], total)

    def _until(self, target: Target) -> float:
        return self.cool.get(target.name, 0)

    @staticmethod
    def _session(route: Route, session: str) -> str:
        digest = hashlib.blake2b(session.encode(), digest_size=12).hexdigest()
        return f"{route.public_id}:{digest}"

    def _sync(self, route: Route, now: float) -> None:
        """Read the pool's cooldowns other processes set, in the background, once a second."""
        if now - self.synced.get(route.public_id, 0) < 1.0:
            return
        self.synced[route.public_id] = now
        self.spawn(self._read_cooldowns(route))

    async def _read_cooldowns(self, route: Route) -> None:
        """The pool's cooldowns, and what its limited deployments took this minute in every
        process (one MGET)."""
        names = [t.name for t in route.deployments]
        minute = int(time.time() // 60)
        limited = [t.name for t in route.deployments if t.rpm or t.tpm]
        counters = [f"{LOAD_PREFIX}{n}:{minute}:{k}" for n in limited for k in "rt"]
        values = await self.get_store().get_many([COOL_PREFIX + n for n in names] + counters)
        values, counts = values[: len(names)], values[len(names) :]
        for index, name in enumerate(limited):
            load = self.load.get(name)
            if load is None or load[0] != minute:
                load = self.load[name] = [minute, 0, 0, 0, 0]
            for slot, value in ((3, counts[2 * index]), (4, counts[2 * index + 1])):
                if value is not None:
                    load[slot] = max(load[slot], int(value))
        now_wall, now = time.time(), time.monotonic()
        for name, value in zip(names, values, strict=True):
            if value:
                until = float(value) - now_wall + now  # stored as wall-clock time
                if until <= now:  # ended on purpose (a probe or staff enabled it again)
                    self.cool.pop(name, None)
                    self.disabled.pop(name, None)
                else:
                    self.cool[name] = max(self.cool.get(name, 0), until)

    # --- learning ------------------------------------------------------------------------------
    def report(self, route: Route, target: Target, error=None, session: str | None = None):
        """How an attempt at ``target`` went (``error`` None: it answered)."""
        now = time.monotonic()
        self._count(target.name, 1, 0)  # a request it took (also when it failed)
        window = self.recent.setdefault(target.name, deque())
        window.append((now, error is None))
        while window and window[0][0] < now - 60:
            window.popleft()
        if error is None:
            self.disabled.pop(target.name, None)
            if session is not None and len(route.deployments) > 1:
                key = self._session(route, session)
                idle = settings.GATEWAY_STICKY_SECONDS
                kept = self.sticky.get(key)
                self.sticky[key] = (now + idle, target.name)
                if len(self.sticky) > 100_000:
                    self.sticky.clear()
                # Shared when it changes, and refreshed at most every 30 s of a busy session.
                if kept is None or kept[1] != target.name or kept[0] < now + idle - 30:
                    ttl = idle * 1000
                    self.spawn(self.get_store().put(STICKY_PREFIX + key, target.name, ttl))
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
            reason = (
                "disabled" if target.name in self.disabled
                else "rate_limited" if status == 429 else "failing"
            )  # fmt: skip
            metrics.DEPLOYMENT_COOLDOWNS.labels(target.name, reason).inc()
            self.cool[target.name] = max(self.cool.get(target.name, 0), now + seconds)
            until = str(time.time() + seconds)
            self.spawn(self.get_store().put(COOL_PREFIX + target.name, until, seconds * 1000))

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
