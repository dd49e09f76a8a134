"""Metering: the hold a request's worst case takes, and giving it back.

Rule: nothing reaches the client before its hold is taken. The hold reserves the worst case
(``sizing``) on the account (and the member's spend cap and the key's limits) in one statement;
short of room, the output limit is lowered to what is there and held again, and it is a 402
only below the floor. On the fast path, when this process last saw the account with ample room,
the hold runs alongside the upstream call (``hold_soon``). What a request delivered is recorded
and settled by ``recorder.Recorder`` (``finish``, bound here for the stages that finish).
"""

import asyncio
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

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

from . import services, sizing
from .errors import ApiError, api_error_for
from .recorder import Recorder
from .runtime import Ctx, Runtime
from .validation import ChatRequest

# The hold runs alongside the upstream call only when the account's room is this many times the
# hold, as this process last saw it within HEADROOM_SECONDS (less what it started holding since).
OVERLAP_FACTOR = 8
HEADROOM_SECONDS = 10.0


class Meter:
    """The money of a request: what to hold for it (the output limit lowered to what the
    balance, key limit, member cap or budget covers; 402 below the floor), and giving the hold
    back; ``finish``/``finish_usage``/``settle`` are the recorder's."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        # account (or account and spend cap) → (µcr left after its last hold here, until when
        # that is trusted)
        self.headroom: dict[int, tuple[int, float]] = {}
        self.recorder = Recorder(rt)
        self.finish = self.recorder.finish
        self.finish_usage = self.recorder.finish_usage
        self.settle = self.recorder.settle

    async def hold(self, ctx: Ctx, chat: ChatRequest, prompt_estimate: int) -> bool:
        """Hold the request's worst case. When the balance, the monthly budget, the member's
        spend cap or the key's credit limit or spend limit (of its window) cannot cover its full
        output, the output limit is lowered to what they cover (a header says so); 402 only when
        not even the floor is covered."""
        amount = sizing.hold_amount(chat, prompt_estimate)
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
                tokens = sizing.affordable_output(chat, prompt_estimate, left)
                if tokens is None:
                    floor = min(settings.GATEWAY_MIN_OUTPUT_TOKENS, chat.max_tokens)
                    needed = sizing.hold_amount(chat, prompt_estimate, floor)
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
                amount = sizing.hold_amount(chat, prompt_estimate)
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
        amount = sizing.hold_amount(chat, estimate)
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


def room_of(facts) -> int | tuple[int, int]:
    """Whose room the headroom counts: the account's, or with a spend cap the account's and
    the cap's together (the hold returns the smaller)."""
    return facts.account_id if facts.cap_id is None else (facts.account_id, facts.cap_id)
