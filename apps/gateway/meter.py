"""Metering: hold, settle, record."""

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.catalog.estimate import estimate_request_tokens
from apps.catalog.pricing import (
    Usage,
    tokens_cost,
    upstream_usage_cost,
    usage_cost,
)
from apps.core import metrics
from apps.core.queue import enqueue
from apps.credits.errors import (
    AccountSuspended,
    BudgetReached,
    InsufficientCredits,
    MemberCapReached,
)
from apps.credits.models import month_of
from apps.credits.services import credits_budget_reached
from apps.keys import windows
from apps.keys.errors import KeyCreditLimitReached, KeySpendLimitReached
from apps.usage import services as usage_services

from . import services
from .errors import ApiError, api_error_for, bad_request, model_refused
from .runtime import Ctx, Runtime
from .state import WINDOW_SECONDS
from .validation import ChatRequest, validate_chat

log = logging.getLogger("opencodex.gateway")
access_log = logging.getLogger("opencodex.gateway.access")
# The hold runs alongside the upstream call only when the account's room is this many times the
# hold, as this process last saw it within HEADROOM_SECONDS (less what it started holding since).
OVERLAP_FACTOR = 8
HEADROOM_SECONDS = 10.0


class Meter:
    """The money of a request: the prompt's size and what to hold for it (the output limit
    lowered to what the balance, key limit or budget covers; 402 below the floor), giving the
    hold back, and recording and settling what the provider billed, exactly once."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        # account (or account and spend cap) → (µcr left after its last hold here, until when
        # that is trusted)
        self.headroom: dict[int, tuple[int, float]] = {}

    @staticmethod
    @staticmethod
    def hold_amount(chat: ChatRequest, prompt_estimate: int, output: int | None = None) -> int:
        """The worst case: the prompt estimate, the request's price, and every token the request
        may produce (``output`` per choice, default its limit), at the dearest model that may
        serve it (the client's fallbacks included)."""
        output = chat.max_tokens if output is None else output
        return max(
            tokens_cost(prompt_estimate, chat.hold_input_price or route.input_price)
            + route.request_price
            + tokens_cost(output * chat.choices, route.output_price)
            for route in chat.candidates
        )

    @staticmethod
    def affordable_output(chat: ChatRequest, prompt_estimate: int, left: int) -> int | None:
        """The most output tokens per choice that ``left`` µcr cover beside the prompt, at every
        model that may serve the request, or None when that is below the floor
        (GATEWAY_MIN_OUTPUT_TOKENS, or the request's own limit if smaller)."""
        floor = min(settings.GATEWAY_MIN_OUTPUT_TOKENS, chat.max_tokens)
        tokens = chat.max_tokens
        for route in chat.candidates:
            prompt = tokens_cost(prompt_estimate, chat.hold_input_price or route.input_price)
            room = left - prompt - route.request_price
            if room <= 0 or route.output_price <= 0:
                return None
            tokens = min(tokens, room * 1_000_000 // (route.output_price * chat.choices))
        return tokens if tokens >= floor else None

    async def hold(self, ctx: Ctx, chat: ChatRequest, prompt_estimate: int) -> bool:
        """Hold the request's worst case. When the balance, the monthly budget, the member's
        spend cap or the key's credit limit or spend limit (of its window) cannot cover its full
        output, the output limit is lowered to what they cover (a header says so); 402 only when
        not even the floor is covered."""
        amount = self.hold_amount(chat, prompt_estimate)
        try:
            for _ in range(3):  # concurrent requests may take what was there meanwhile
                try:
                    return await self.hold_exact(ctx, amount)
                except (InsufficientCredits, KeyCreditLimitReached) as exc:
                    short = exc
                account = isinstance(short, InsufficientCredits)
                budget = isinstance(short, BudgetReached)
                cap = isinstance(short, MemberCapReached)
                window = isinstance(short, KeySpendLimitReached)
                left = short.available if account else short.left
                tokens = self.affordable_output(chat, prompt_estimate, left)
                if tokens is None:
                    floor = min(settings.GATEWAY_MIN_OUTPUT_TOKENS, chat.max_tokens)
                    needed = self.hold_amount(chat, prompt_estimate, floor)
                    if cap:
                        raise MemberCapReached(needed=needed, available=left, limit=short.limit)
                    if budget:
                        raise BudgetReached(needed=needed, available=left, budget=short.budget)
                    if account:
                        raise InsufficientCredits(needed=needed, available=left)
                    if window:
                        raise KeySpendLimitReached(
                            needed=needed,
                            left=left,
                            limit=short.limit,
                            window=short.window,
                            resets_at=short.resets_at,
                        )
                    raise KeyCreditLimitReached(needed=needed, left=left)
                reason = (
                    "member_cap"
                    if cap
                    else "budget"
                    if budget
                    else "balance"
                    if account
                    else "key_spend_limit"
                    if window
                    else "key_credit_limit"
                )
                chat.lower_output(tokens, reason)
                amount = self.hold_amount(chat, prompt_estimate)
            raise short
        except (InsufficientCredits, KeyCreditLimitReached, AccountSuspended) as exc:
            if isinstance(exc, BudgetReached):  # the month's 100 % alert is due
                self.rt.spawn(
                    self.rt.db(
                        credits_budget_reached,
                        account_id=ctx.facts.account_id,
                        month=month_of(timezone.now()),
                    )
                )
            raise api_error_for(exc) from None
        finally:
            if chat.lowered:
                ctx.headers["x-opencodex-max-tokens"] = str(chat.max_tokens)
                ctx.headers["x-opencodex-max-tokens-reason"] = chat.lowered

    async def hold_exact(self, ctx: Ctx, amount: int) -> bool:
        if amount <= 0:
            return False
        facts = ctx.facts
        now = timezone.now()
        # The windows a key's spend limit may count in (its row says which one).
        starts = windows.starts(facts.time_zone, now) if facts.limited else None
        if self.rt.pg is not None:
            room = await self.rt.pg.hold(
                request_id=ctx.request_id,
                account_id=facts.account_id,
                key_id=facts.budget_id,
                limited=facts.limited,
                amount=amount,
                now=now,
                expires_at=now + timedelta(seconds=settings.HOLD_TTL_SECONDS),
                starts=starts,
                time_zone=facts.time_zone,
                cap_id=facts.cap_id,
            )
            if room is not None:
                if len(self.headroom) > 100_000:
                    self.headroom.clear()
                self.headroom[room_of(facts)] = (room, time.monotonic() + HEADROOM_SECONDS)
        else:
            await self.rt.db(
                services.request_hold,
                request_id=ctx.request_id,
                facts=facts,
                amount=amount,
                starts=starts,
            )
        return True

    # --- the hold alongside the upstream call ---------------------------------------------------
    def hold_soon(self, ctx: Ctx, chat: ChatRequest, estimate: int) -> asyncio.Task | None:
        """The hold as a task that runs alongside the upstream call (the relay awaits it before
        the first byte reaches the client), when it cannot fail or lower the request: on the
        fast path, for a key without a credit or spend limit, an account whose room after its
        last hold here, less what this process started holding since, is OVERLAP_FACTOR times
        the hold. Otherwise None: the hold comes first."""
        if self.rt.pg is None or ctx.native is not None or ctx.facts.limited:
            return None
        amount = self.hold_amount(chat, estimate)
        account = room_of(ctx.facts)
        known = self.headroom.get(account)
        if known is None or known[1] < time.monotonic() or known[0] < amount * OVERLAP_FACTOR:
            return None
        self.headroom[account] = (known[0] - amount, known[1])
        return asyncio.get_running_loop().create_task(self.hold(ctx, chat, estimate))

    @staticmethod
    async def resolved(held) -> bool:
        """Whether a hold was taken, once a hold running alongside has finished."""
        if isinstance(held, asyncio.Task):
            try:
                return await asyncio.shield(held)
            except ApiError:
                return False
        return held

    async def release(self, ctx: Ctx) -> None:
        """Give back a hold taken for a request that is then refused (401/429)."""
        if self.rt.pg is not None:
            await self.rt.pg.release(ctx.request_id)
        else:
            await self.rt.db(usage_services.request_release, request_id=ctx.request_id)

    @classmethod
    def checked(cls, ctx: Ctx, body, routes) -> tuple[ChatRequest, int]:
        """The request allowed for the key, validated and routed, and its prompt's tokens for
        the hold."""
        if ctx.facts is not None and ctx.facts.restricted:
            cls.allowed(ctx.facts, body)
        chat = validate_chat(body, routes, translated=ctx.face.translated)
        if chat.route.public_id != ctx.model:  # the client's max_price or providers ruled it out
            if ctx.native is not None and ctx.protocol not in chat.route.protocols:
                raise bad_request(
                    f"The model '{chat.route.public_id}' that 'provider' leaves cannot take "
                    f"this request as it is ({ctx.protocol}).",
                    param="provider",
                )
            ctx.model = chat.route.public_id
        if ctx.native is not None:  # passed through: every fallback must speak the protocol
            for index, model in enumerate(chat.fallbacks):
                if ctx.protocol not in model.protocols:
                    raise bad_request(
                        f"The model '{model.public_id}' in 'models' cannot take this request "
                        f"as it is ({ctx.protocol}); list models that can.",
                        param=f"models[{index}]",
                    )
        return chat, cls.estimate(ctx, chat)

    @staticmethod
    def allowed(facts, body) -> None:
        """403 when the key may not use the request's model or one of its fallbacks (the
        ``models`` list): before the body is validated, routed or forwarded."""
        if not isinstance(body, dict):
            return
        model = body.get("model")
        if isinstance(model, str) and model and not facts.model_allowed(model):
            raise model_refused(facts, model)
        fallbacks = body.get("models")
        if isinstance(fallbacks, list):
            for index, name in enumerate(fallbacks):
                if isinstance(name, str) and not facts.model_allowed(name):
                    raise model_refused(facts, name, param=f"models[{index}]")

    @staticmethod
    def estimate(ctx: Ctx, chat: ChatRequest) -> int:
        """The prompt's tokens for the hold. Pass-through content only the provider can size (a
        document by URL, a file by id, a block of a newer type) is held at the model's whole
        context window: the most the provider can bill for a prompt."""
        estimate = estimate_request_tokens(chat.payload)
        route = chat.route
        if ctx.native is not None and ctx.native.cache_ttl:  # cache writes cost more than input
            write = route.long_write_price if ctx.native.cache_ttl == "1h" else route.write_price
            chat.hold_input_price = max(route.input_price, write)
        if ctx.native is not None and ctx.native.unsized:
            estimate = max(estimate, chat.route.context_length)
            ctx.headers["x-opencodex-held-context"] = ctx.native.unsized[:200]
        return estimate

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


def room_of(facts) -> int | tuple[int, int]:
    """Whose room the headroom counts: the account's, or with a spend cap the account's and
    the cap's together (the hold returns the smaller)."""
    return facts.account_id if facts.cap_id is None else (facts.account_id, facts.cap_id)


def enqueue_settlement(*, outcome) -> None:
    """Hand a settlement to Celery (by the task's name: the meter does not import tasks)."""
    payload = asdict(outcome)
    payload["created_at"] = outcome.created_at.isoformat()
    enqueue("apps.usage.tasks.settle_request", payload, strict=True)
