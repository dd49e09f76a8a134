"""Recording: what a finished request delivered, settled and recorded exactly once.

Rule: ``finish`` runs once per request (a second call is a no-op) and never on the client's
time: it counts the request in the metrics, writes the access log line, stores the prompt and
answer when the user keeps them, counts the key's tokens per minute, appends the outcome to the
process's journal (durable before the response's last byte: a process that dies is settled from
it) and settles it in the background — batched on PostgreSQL, retried, handed to Celery when
the database stays away.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict

from django.conf import settings
from django.utils import timezone

from apps.catalog.pricing import Usage, upstream_usage_cost, usage_cost
from apps.core import metrics
from apps.core.queue import enqueue
from apps.usage import services as usage_services

from .runtime import Ctx, Runtime
from .state import WINDOW_SECONDS

log = logging.getLogger("opencodex.gateway")
access_log = logging.getLogger("opencodex.gateway.access")


class Recorder:
    """Finishing requests: the outcome priced, recorded, journalled and settled."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def finish_usage(self, ctx: Ctx, route, usage: Usage, **fields) -> None:
        """Settle a request that used the model: what the provider billed at the model's prices
        (in full, also beyond the hold), and beside it what the same usage costs us upstream at
        the serving deployment's cost prices (None when it declares none)."""
        self.finish(
            ctx,
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            cached_tokens=usage.cached,
            cache_write_tokens=usage.cache_write,
            reasoning_tokens=usage.reasoning,
            cost=usage_cost(route, usage),
            upstream_cost=upstream_usage_cost(ctx.target, usage),
            **fields,
        )

    def finish(self, ctx: Ctx, *, status: int, held: bool, **fields) -> None:
        """Settle and record the request in the background (once per request)."""
        if ctx.facts is None or ctx.finished:
            return
        ctx.finished = True
        fields.setdefault("upstream_cost", 0)  # no usage reported: the upstream billed nothing
        known = ctx.model in self.rt._routes[1]
        metrics.REQUESTS.labels(str(status), ctx.model if known else "other", ctx.protocol).inc()
        outcome = usage_services.RequestOutcome(
            request_id=ctx.request_id,
            protocol=ctx.protocol,
            user_id=ctx.facts.user_id,
            api_key_id=ctx.facts.id,
            model=ctx.model[:100],
            status=status,
            created_at=ctx.created_at,
            latency_ms=(latency := ctx.latency_ms),
            ttft_ms=ctx.ttft_ms or (latency if status == 200 else 0),
            held=held,
            deployment=ctx.deployment[:300],
            attempts=[list(a) for a in ctx.attempts[:20]],
            **fields,
        )
        if status == 200 and ctx.deployment:  # for clients that sort by latency or throughput
            first = outcome.ttft_ms  # the whole answer's time when it was not streamed
            after = (latency - ctx.ttft_ms if ctx.ttft_ms else latency) / 1000
            tokens = outcome.completion_tokens
            speed = tokens / after if tokens and after > 0.001 else None
            taken = outcome.prompt_tokens + tokens
            self.rt.router.observe(ctx.deployment, first, speed, taken)
        if settings.GATEWAY_ACCESS_LOG:
            access_log.info(
                "%s %s %s %d",
                ctx.protocol,
                outcome.model,
                status,
                outcome.latency_ms,
                extra={
                    "key_id": outcome.api_key_id,
                    "user_id": outcome.user_id,
                    "model": outcome.model,
                    "protocol": outcome.protocol,
                    "status": status,
                    "error_code": outcome.error_code,
                    "prompt_tokens": outcome.prompt_tokens,
                    "completion_tokens": outcome.completion_tokens,
                    "cost": outcome.cost,
                    "latency_ms": outcome.latency_ms,
                    "ttft_ms": outcome.ttft_ms,
                    "stream": outcome.stream,
                    "deployment": outcome.deployment,
                    "attempts": outcome.attempts,
                },
            )
        if ctx.keep_prompt is not None:  # the user keeps prompts and answers: off the hot path
            self.rt.spawn(
                self.rt.db(
                    usage_services.content_store,
                    request_id=ctx.request_id,
                    user_id=ctx.facts.user_id,
                    created_at=ctx.created_at,
                    request=ctx.keep_prompt,
                    response=ctx.keep_answer,
                    cost=outcome.cost,
                )
            )
        if ctx.facts.tpm_limit and ctx.digest:  # the key's tokens per minute, as they were used
            used = outcome.prompt_tokens + outcome.completion_tokens
            if used > 0:
                window = int(time.time() // WINDOW_SECONDS)
                self.rt.get_store().add_tokens(ctx.digest, window, used)
        if self.rt.journal is not None:
            try:  # durable before the response completes: a process that dies is settled from it
                self.rt.journal.write(outcome)
            except OSError:
                log.exception("could not journal %s", outcome.request_id)
        self.rt.spawn(self.settle(outcome, time.perf_counter()))

    async def settle(self, outcome, ended: float | None = None) -> None:
        for attempt in range(3):
            try:
                if self.rt.pg is not None and attempt == 0:
                    await self.rt.batcher.settle(outcome)
                elif self.rt.pg is not None:  # a failed batch: retry this request on its own
                    await self.rt.pg.settle(outcome, timezone.now())
                else:
                    await self.rt.db(usage_services.request_settle, outcome=outcome)
                if ended is not None:
                    metrics.SETTLEMENT_LAG.observe(time.perf_counter() - ended)
                return
            except Exception:
                metrics.SETTLEMENT_FAILURES.inc()
                log.exception("settling %s failed (attempt %d)", outcome.request_id, attempt + 1)
                if self.rt.pg is not None:
                    with contextlib.suppress(Exception):
                        await self.rt.pg.recover()
                await asyncio.sleep(0.2 * 4**attempt)
        try:  # the durable fallback: a Celery task that keeps retrying
            metrics.SETTLEMENT_HANDOFFS.inc()
            await self.rt.db(enqueue_settlement, outcome=outcome)
        except Exception:
            log.critical("settlement could not be queued, outcome=%r", outcome, exc_info=True)


def enqueue_settlement(*, outcome) -> None:
    """Hand a settlement to Celery (by the task's name: the meter does not import tasks)."""
    payload = asdict(outcome)
    payload["created_at"] = outcome.created_at.isoformat()
    enqueue("apps.usage.tasks.settle_request", payload, strict=True)
