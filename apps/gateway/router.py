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
own, as rate limits do. The router is handed a pool and a store, never the gateway, and composes
one collaborator per job (``routing/``): ``plan`` orders (tiers, weights, preferences,
stickiness), ``health`` holds cooldowns and disables and their policy, ``load`` the
per-deployment minute limits, ``sessions`` the sticky sessions, ``speed`` the measures.
"""

import logging
import time

from apps.catalog.selectors import COOL_PREFIX, Route, Target

from .routing import plan as planning
from .routing import speed as speeds
from .routing.health import Health
from .routing.load import LOAD_PREFIX, Load
from .routing.sessions import STICKY_PREFIX, Sessions

log = logging.getLogger("opencodex.gateway.router")
__all__ = ["COOL_PREFIX", "LOAD_PREFIX", "STICKY_PREFIX", "Router", "session_key"]
STALE_SECONDS = 5.0  # a model's shared state older than this is read before routing it


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


class Router:
    """The plan of each request over its model's pool, and what outcomes teach it."""

    def __init__(self, get_store, spawn):
        self.get_store = get_store
        self.spawn = spawn
        self.health = Health(get_store, spawn)
        self.limits = Load(get_store, spawn)
        self.sessions = Sessions(get_store, spawn)
        self.synced: dict[str, float] = {}  # model → when its cooldowns were last read
        # deployment → (first-byte ms, output tokens/s), moving averages of served requests
        self.speed: dict[str, tuple[float, float]] = {}
        # The collaborators' tables, by the names the admin and tests know them by.
        self.cool, self.disabled, self.recent = (
            self.health.cool,
            self.health.disabled,
            self.health.recent,
        )
        self.sticky = self.sessions.sticky
        self.limited, self.load = self.limits.limited, self.limits.load

    def plan(self, route: Route, session: str | None = None, prefs=None) -> list[Target]:
        """The deployments to try, in order. ``prefs`` (the client's ``provider``): its
        ``order`` first, or sorted by measured ``latency``/``throughput``; either comes before
        the session's deployment (the client asked for it)."""
        pool = route.deployments
        if len(pool) <= 1:
            return list(pool) or [_single(route)]
        now = time.monotonic()
        self._sync(route, now)
        cool, minute, full = self.health.cool, None, self.limits.full
        healthy, cooling = [], []  # cooling: at its cooldown or its own per-minute limits
        for t in pool:
            if cool.get(t.name, 0) > now:
                cooling.append(t)
            elif t.rpm or t.tpm:
                minute = minute or int(time.time() // 60)
                (cooling if full(t, minute) else healthy).append(t)
            else:
                healthy.append(t)
        if len(cooling) > 1:
            cooling.sort(key=self.health.until)  # tried last, soonest first
        ordered = planning.ordered(healthy)
        if planning.preferred(prefs):
            ordered.sort(key=planning.preference_key(prefs, self.speed))  # stable
        elif session is not None:
            kept = self.sessions.kept(route, session, now)
            if kept is not None:
                planning.stick(ordered, kept)
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
        await self._read_shared(route)

    async def restore_session(self, route: Route, session: str | None) -> None:
        """Another process may have served this session: its deployment, from Redis (only for
        a pooled model, only when this process has not seen the session)."""
        if session is None or len(route.deployments) <= 1:
            return
        await self.sessions.restore(route, session)

    def observe(
        self, name: str, first_byte_ms: int, tokens_per_second: float | None, tokens: int = 0
    ) -> None:
        """What a served request measured at a deployment: its time to the first byte and, for
        an answer with output, tokens per second after it (moving averages, per process), and
        the tokens it took (counted against its tpm)."""
        if not name:
            return
        if tokens:
            self.limits.count(name, 0, tokens)
        speeds.observe(self.speed, name, first_byte_ms, tokens_per_second)

    def _sync(self, route: Route, now: float) -> None:
        """Read the pool's cooldowns other processes set, in the background, once a second."""
        if now - self.synced.get(route.public_id, 0) < 1.0:
            return
        self.synced[route.public_id] = now
        self.spawn(self._read_shared(route))

    async def _read_shared(self, route: Route) -> None:
        """The pool's cooldowns, and what its limited deployments took this minute in every
        process (one MGET)."""
        names = [t.name for t in route.deployments]
        minute = int(time.time() // 60)
        limited, counters = Load.keys(route.deployments, minute)
        values = await self.get_store().get_many([COOL_PREFIX + n for n in names] + counters)
        self.limits.absorb(limited, values[len(names) :], minute)
        self.health.absorb(names, values[: len(names)])

    def report(self, route: Route, target: Target, error=None, session: str | None = None):
        """How an attempt at ``target`` went (``error`` None: it answered)."""
        now = time.monotonic()
        self.limits.count(target.name, 1, 0)  # a request it took (also when it failed)
        self.health.outcome(target, error, now)
        if error is None and session is not None and len(route.deployments) > 1:
            self.sessions.served(route, session, target.name, now)

    def state(self, target: Target) -> dict:
        """What this process knows of a deployment (for the admin and tests)."""
        return self.health.state(target)
