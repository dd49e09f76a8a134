"""Admission: the key's check and the hold, in the order that costs the client least.

Rule: a key this process has not seen lately is checked (revocation, rate, guardrails) before
its request is validated and held. A key it admitted moments ago is validated on what was seen
and held while the shared check is still on the wire; when that check refuses (401/403/429) the
hold is given back, and when the key's guardrails or limits changed meanwhile the request is
checked and held again on the fresh facts. On the fast path a hold that cannot fail runs
alongside the upstream call (``Meter.hold_soon``).
"""

import asyncio

from apps.core.logs import request_id_var
from apps.keys.selectors import KeyFacts

from . import sizing
from .auth import Auth
from .errors import ApiError
from .meter import Meter
from .runtime import Ctx, Runtime, new_request_id


class Admission:
    """Admits a request's key and holds its worst case."""

    def __init__(self, rt: Runtime, auth: Auth, meter: Meter):
        self.rt = rt
        self.auth = auth
        self.meter = meter

    async def admit_and_hold(
        self, ctx: Ctx, digest: str, body, recent: KeyFacts | None, now: float, pending=None
    ) -> tuple:
        """Validate and hold (the key was admitted already, unless this process saw it moments
        ago: then the hold starts while the shared key check (revocation, rate) is still in
        flight, and is given back if that check refuses the request)."""
        routes = await self.rt.routes()
        if recent is None:
            chat, estimate = await self.rt.cpu_bound(ctx, sizing.checked, ctx, body, routes)
            soon = self.meter.hold_soon(ctx, chat, estimate)  # alongside the upstream call
            return chat, estimate, soon or await self.meter.hold(ctx, chat, estimate)
        ctx.facts = recent  # the key's guardrails (models) are checked on what was seen
        try:
            chat, estimate = await self.rt.cpu_bound(ctx, sizing.checked, ctx, body, routes)
        except ApiError:
            ctx.facts = None
            # 401/429 come first
            self.auth.admit(ctx, *await self.auth.lookup(digest, now, pending), now)
            if guarded(ctx.facts) == guarded(recent):
                raise
            # The key's guardrails changed meanwhile: the request is checked on its fresh facts.
            chat, estimate = await self.rt.cpu_bound(ctx, sizing.checked, ctx, body, routes)
            return chat, estimate, await self.meter.hold(ctx, chat, estimate)
        check = asyncio.get_running_loop().create_task(self.auth.lookup(digest, now, pending))
        soon = self.meter.hold_soon(ctx, chat, estimate)
        if soon is not None:  # the hold runs alongside the upstream call; the check first
            try:
                self.auth.admit(ctx, *await check, now)
            except BaseException:
                ctx.facts = None  # refused (401/403/429) or failed: no usage to record
                if await self.meter.resolved(soon):
                    await self.meter.release(ctx)
                raise
            if guarded(ctx.facts) == guarded(recent):
                return chat, estimate, soon
            # The key's limits or models changed meanwhile: checked and held again.
            if await self.meter.resolved(soon):
                await self.meter.release(ctx)
            ctx.request_id = new_request_id()
            request_id_var.set(ctx.request_id)
            chat, estimate = await self.rt.cpu_bound(ctx, sizing.checked, ctx, body, routes)
            return chat, estimate, await self.meter.hold(ctx, chat, estimate)
        refused = None
        try:
            held = await self.meter.hold(ctx, chat, estimate)
        except ApiError as exc:
            held, refused = False, exc
        except BaseException:
            check.cancel()
            raise
        try:
            self.auth.admit(ctx, *await check, now)
        except BaseException:
            ctx.facts = None  # refused (401/403/429) or failed: no usage to record
            if held:
                await self.meter.release(ctx)
            raise
        if guarded(ctx.facts) != guarded(recent):
            # The key got a credit or spend limit meanwhile (the hold must also reserve on the
            # key), or other models: checked and held again on its fresh facts. (Changed limits
            # need nothing: the hold checked them as the database has them.)
            if held:
                await self.meter.release(ctx)
            ctx.request_id = new_request_id()
            request_id_var.set(ctx.request_id)
            chat, estimate = await self.rt.cpu_bound(ctx, sizing.checked, ctx, body, routes)
            return chat, estimate, await self.meter.hold(ctx, chat, estimate)
        if refused is not None:
            raise refused
        return chat, estimate, held


def guarded(facts: KeyFacts) -> tuple:
    """What of a key's facts decides how a request through it is checked and held, beyond what
    the hold reads from the database."""
    return (
        facts.limited,
        tuple(facts.models),
        facts.time_zone,
        facts.cap_id,
        facts.cap_limit is None,
        tuple(facts.cap_models),
    )
