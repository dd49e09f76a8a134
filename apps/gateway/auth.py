"""Authentication and rate limits: the first stage of every request."""

import math
import time

from django.conf import settings
from django.utils import timezone
from starlette.requests import Request

from apps.keys import tokens
from apps.keys.cache import TOMBSTONE
from apps.keys.guardrails import address_allowed
from apps.keys.selectors import KeyFacts
from apps.keys.services import api_key_mark_used

from . import services
from .errors import ApiError, ip_not_allowed, unauthorized
from .runtime import Ctx, Runtime
from .state import WINDOW_SECONDS, decode, encode

# A key this process admitted within this long starts its hold before the shared check's reply
# (which still comes for every request: revocation and rate limits hold); as long as its facts
# may stay cached anyway.
RECENT_SECONDS = 60.0


class Auth:
    """Who is calling: the key's digest from the headers (401 before anything else), its facts
    (Redis, else PostgreSQL), its rate limit (429), and this process's recent sightings of a key
    (enough to start the hold while the shared check is in flight)."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.recent: dict[str, tuple[float, KeyFacts]] = {}
        self.local_window, self.local_counts = 0, {}

    @staticmethod
    def presented_digest(request: Request) -> str:
        """The digest of the key in the Authorization header, or in ``x-api-key`` (Anthropic's
        SDKs): 401 when there is none, or it is not one of ours by its format and checksum."""
        header = request.headers.get("authorization")
        if not header:
            api_key = request.headers.get("x-api-key", "").strip()
            if not api_key:
                raise unauthorized(
                    "Missing API key. Send it as 'Authorization: Bearer sk-live-…' "
                    "(or 'x-api-key: sk-live-…').",
                    code="missing_api_key",
                )
            header = f"Bearer {api_key}"
        scheme, _, presented = header.partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise unauthorized(
                "The Authorization header must be 'Bearer sk-live-…'.",
                code="invalid_authorization",
            )
        try:
            tokens.check_format(presented)
        except tokens.FormatError as exc:
            raise unauthorized(exc.message) from None
        return tokens.digest(presented)

    def begin(self, digest: str) -> tuple[float, object]:
        """Put the shared check on the wire now, before the body is read: (now, its reply to
        come, or None when the store sends it only when asked)."""
        now = time.time()
        return now, self.rt.get_store().check_begin(digest, int(now // WINDOW_SECONDS))

    async def lookup(self, digest: str, now: float, pending=None):
        """(key facts or None, requests in this minute, last-used write due, tokens this
        minute's finished requests used): one Redis round trip (``pending``: the one ``begin``
        sent), and one indexed query when the facts are not cached."""
        store = self.rt.get_store()
        window = int(now // WINDOW_SECONDS)
        cached, count, touch, tokens = await store.check(digest, window, pending)
        if cached in (None, TOMBSTONE, TOMBSTONE.encode()):
            facts = await self.rt.db(services.key_facts_load, digest=digest)
            await store.remember(digest, encode(facts), settings.GATEWAY_KEY_CACHE_SECONDS)
        else:
            facts = decode(cached)
        if facts is not None:
            if len(self.recent) > 100_000:
                self.recent.clear()
            self.recent[digest] = (time.monotonic() + RECENT_SECONDS, facts)
        else:
            self.recent.pop(digest, None)
        return facts, count, touch, tokens

    def admit(
        self,
        ctx: Ctx,
        facts: KeyFacts | None,
        count: int,
        touch: bool,
        tokens: int,
        now: float,
    ):
        """Refuse a missing, revoked or expired key (401), a client address the key does not
        allow (403), or a key over its requests or tokens per minute (429)."""
        if facts is None:
            raise unauthorized("Invalid API key: no such key.")
        problem = facts.problem_at(now)
        if problem is not None:
            raise unauthorized(problem[1], code=f"api_key_{problem[0]}")
        if facts.networks and not address_allowed(ctx.client_ip, facts.networks):
            raise ip_not_allowed(ctx.client_ip)
        rate_limit(ctx, facts, count, tokens, now)
        if touch:
            self.rt.spawn(self.rt.db(api_key_mark_used, key_id=facts.id, at=timezone.now()))
        ctx.facts = facts

    async def authenticate(self, request: Request, ctx: Ctx) -> KeyFacts:
        digest = self.identify(request, ctx)
        now = time.time()
        self.admit(ctx, *await self.lookup(digest, now), now)
        return ctx.facts

    def identify(self, request: Request, ctx: Ctx) -> str:
        """The presented key's digest (401 when there is none, or not one of ours), noting it
        and the client's address (as the trusted proxies define it: uvicorn's
        ``--forwarded-allow-ips``) on the request's context."""
        ctx.digest = self.presented_digest(request)
        client = request.scope.get("client")
        ctx.client_ip = client[0] if client else None
        return ctx.digest

    def recently_seen(self, digest: str, client_ip: str | None = None) -> KeyFacts | None:
        """Facts this process saw for the key in the last seconds, if the key is not near its
        rate limit here and allows this client: enough to start the hold while the shared check
        is in flight."""
        item = self.recent.get(digest)
        if item is None or item[0] < time.monotonic():
            return None
        facts = item[1]
        if facts.networks and not address_allowed(client_ip, facts.networks):
            return None  # refused before the body is read, by the shared check
        window = int(time.time() // WINDOW_SECONDS)
        if self.local_window != window:
            self.local_window, self.local_counts = window, {}
        count = self.local_counts[digest] = self.local_counts.get(digest, 0) + 1
        limit = facts.rpm_limit or settings.API_DEFAULT_RPM
        return facts if count * 4 < limit else None


def rate_limit(ctx: Ctx, facts: KeyFacts, count: int, tokens: int, now: float) -> None:
    """429 when the key is over its requests per minute (``count`` this minute, this one
    included) or its tokens per minute (``tokens`` used this minute); the rate-limit headers of
    every answer."""
    limit = facts.rpm_limit or settings.API_DEFAULT_RPM
    reset = math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS)
    ctx.headers.update(
        {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(limit - count, 0)),
            "x-ratelimit-reset-requests": f"{reset}s",
        }
    )
    if count > limit:
        raise ApiError(
            429,
            f"Rate limit reached: this key may make {limit} requests per minute. "
            f"Retry in {reset} s.",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers={"retry-after": str(reset)},
        )
    if facts.tpm_limit:
        # Tokens are counted when a request ends (its prompt as billed and its output, in
        # the minute it ended): a request is admitted while the minute has tokens left.
        ctx.headers.update(
            {
                "x-ratelimit-limit-tokens": str(facts.tpm_limit),
                "x-ratelimit-remaining-tokens": str(max(facts.tpm_limit - tokens, 0)),
                "x-ratelimit-reset-tokens": f"{reset}s",
            }
        )
        if tokens >= facts.tpm_limit:
            raise ApiError(
                429,
                f"Token rate limit reached: this key may use {facts.tpm_limit:,} tokens per "
                f"minute and this minute's requests used {tokens:,}. Retry in {reset} s.",
                type="rate_limit_error",
                code="token_rate_limit_exceeded",
                headers={"retry-after": str(reset)},
            )
