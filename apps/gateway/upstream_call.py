"""One request's way to the upstream's first byte: the plan, the policy, the hold alongside.

Its rules: the deployments are tried in the router's order (the model's, then those of the
client's fallback models), within one retry policy per request (none when the client says it is
itself retrying, so the two add up instead of multiplying); the hold may run alongside the call,
and is awaited before anything reaches the client (a hold refused stops the call, a hold that
lowered the output limit makes the call again with it, a client that leaves does not cut a hold
short); an upstream failure is recorded and becomes the client's error with the attempts made;
the deployment that answered (and the fallback model it serves) is the request's from then on.
"""

import asyncio
import logging
import time

from django.conf import settings
from starlette.requests import Request

from apps.core import metrics

from .errors import ApiError
from .meter import Meter
from .runtime import Ctx, Runtime
from .upstream import Attempts, UpstreamError
from .validation import ChatRequest

log = logging.getLogger("opencodex.gateway")


class UpstreamCall:
    """The calls of the relay up to the first byte (``Relay`` writes the answer)."""

    def __init__(self, rt: Runtime, meter: Meter):
        self.rt = rt
        self.meter = meter

    @staticmethod
    def attempts_for(request: Request) -> Attempts:
        """The retry policy of one request: the gateway's retries, unless the client says this
        is already its own retry (the openai and anthropic SDKs send their retry count), so the
        two add up instead of multiplying."""
        retries = settings.GATEWAY_UPSTREAM_RETRIES
        count = request.headers.get("x-stainless-retry-count")
        if count and count.strip() not in ("", "0"):
            retries = 0
        return Attempts(retries)

    async def overlapped(self, ctx, chat, held, make, attempts: Attempts):
        """The upstream call (``make()``), and the hold when it runs alongside (a task, see
        ``Meter.hold_soon``): awaited before anything reaches the client. A hold refused (402)
        stops the call; a hold that lowered the output limit makes the call again with it.
        Returns (the answer, whether a hold was taken)."""
        if not isinstance(held, asyncio.Task):
            return await self.call_upstream(ctx, chat, held, make(), attempts), held
        asked = chat.max_tokens
        upstream = asyncio.get_running_loop().create_task(make())
        try:
            taken = await asyncio.shield(held)  # a client that leaves does not cut a hold short
        except asyncio.CancelledError:
            _abandon(upstream)
            self.rt.spawn(self.left_while_holding(ctx, held))
            raise
        except BaseException:
            _abandon(upstream)
            raise
        if chat.max_tokens != asked:  # the call in flight asked for more than the hold covers
            _abandon(upstream)
            upstream = make()
        return await self.call_upstream(ctx, chat, taken, upstream, attempts), taken

    async def left_while_holding(self, ctx, held) -> None:
        """The client left while its hold was being taken: recorded (and the hold given
        back by the settlement) once the hold is done."""
        taken = await self.meter.resolved(held)
        self.meter.finish(ctx, status=499, held=taken, error_code="client_disconnected")

    async def call_upstream(self, ctx, chat, held, call, attempts: Attempts):
        started = time.perf_counter()
        try:
            answer = await call
        except UpstreamError as exc:
            ctx.attempts = attempts.chain
            metrics.UPSTREAM_ERRORS.labels(chat.route.provider, str(exc.status)).inc()
            if exc.upstream_status in (401, 403):
                log.error(
                    "upstream %s refused our credentials (HTTP %s)",
                    chat.route.provider,
                    exc.upstream_status,
                )
            self.meter.finish(ctx, status=exc.status, held=held, error_code=exc.code or "")
            raise ApiError(
                exc.status,
                exc.message,
                type=exc.type,
                code=exc.code,
                param=exc.param,
                headers={**exc.headers, "x-opencodex-upstream-attempts": str(attempts.made)},
                upstream_status=exc.upstream_status,
            ) from None
        except asyncio.CancelledError:
            self.meter.finish(ctx, status=499, held=held, error_code="client_disconnected")
            raise
        metrics.UPSTREAM_SECONDS.labels(chat.route.provider).observe(time.perf_counter() - started)
        return answer

    async def routing(self, ctx: Ctx, chat: ChatRequest):
        """The deployments to try, in order (the model's, then those of the client's fallback
        models), and how to tell the router each outcome."""
        router = self.rt.router
        route = chat.route
        for model in chat.candidates:  # a model not routed here lately: its shared state first
            await router.refresh(model)
        await router.restore_session(route, ctx.session)
        plan = router.plan(route, ctx.session, chat.prefs)
        owner = {}
        for fallback in chat.fallbacks:
            more = [t for t in router.plan(fallback, None, chat.prefs) if t not in plan]
            owner.update((id(t), fallback) for t in more)
            plan += more
        ctx.owners = owner

        def report(target, error):
            router.report(owner.get(id(target), route), target, error, ctx.session)

        return plan, report

    @staticmethod
    def served(ctx: Ctx, chat: ChatRequest, attempts: Attempts, extra: dict) -> None:
        """Name the deployment that answered (header, usage record, logs); when a fallback
        model answered, the request is that model's from here on (its prices, its name)."""
        target = attempts.served
        if target is not None and getattr(target, "name", None):
            ctx.deployment = target.name
            ctx.target = target
            extra["x-opencodex-upstream"] = target.provider
        model = ctx.owners.get(id(target))
        if model is not None:
            chat.route = model
            ctx.model = model.public_id
        ctx.attempts = attempts.chain


def _abandon(upstream: asyncio.Task) -> None:
    """Stop an upstream call started alongside a hold that refused or lowered the request
    (an open stream it returned is closed)."""
    upstream.cancel()

    def close(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None:
            result = task.result()
            if hasattr(result, "close"):
                result.close()

    upstream.add_done_callback(close)
