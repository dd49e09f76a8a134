"""The read endpoints."""

from starlette.requests import Request
from starlette.responses import Response

from apps.catalog.estimate import estimate_request_tokens
from apps.catalog.pricing import (
    price_per_million_credits,
    price_per_million_dollars,
)
from apps.core.money import CREDITS_PER_DOLLAR, MICRO

from . import services
from .auth import Auth
from .errors import ApiError, model_refused
from .protocols import messages as messages_protocol
from .protocols import native as native_protocol
from .runtime import Ctx, Runtime, error_response, json_response
from .upstream import Attempts, UpstreamError


def credits_number(micro: int) -> float:
    return round(micro / MICRO, 6)


class Reads:
    """The endpoints that read: the model list and one model (in OpenAI's or Anthropic's shape),
    token counts, the balance, the API root."""

    def __init__(self, rt: Runtime, auth: Auth):
        self.rt = rt
        self.auth = auth

    async def model(self, request: Request, model_id: str) -> Response:
        anthropic = bool(request.headers.get("anthropic-version"))  # Anthropic's SDKs
        ctx = Ctx(protocol="messages" if anthropic else "chat")
        try:
            facts = await self.auth.authenticate(request, ctx)
            route = (await self.rt.routes()).get(model_id)
            if route is not None and not facts.model_allowed(model_id):
                raise model_refused(facts, model_id)
        except ApiError as exc:
            return error_response(ctx, exc)
        if route is None:
            return error_response(
                ctx,
                ApiError(
                    404,
                    f"The model '{model_id}' does not exist or is not available. "
                    "GET /v1/models lists the models you can use.",
                    code="model_not_found",
                    param="model",
                ),
            )
        if anthropic:
            return json_response(ctx, messages_protocol.models_list([model_json(route)])["data"][0])
        return json_response(ctx, model_json(route))

    async def models(self, request: Request) -> Response:
        ctx = Ctx()
        try:
            facts = await self.auth.authenticate(request, ctx)
            routes = await self.rt.routes()
        except ApiError as exc:
            return error_response(ctx, exc)
        data = [  # the models this key may use
            model_json(route)
            for route in sorted(routes.values(), key=lambda r: (r.family, r.public_id))
            if facts.model_allowed(route.public_id)
        ]
        if request.headers.get("anthropic-version"):  # Anthropic's SDKs and Claude Code
            return json_response(ctx, messages_protocol.models_list(data))
        return json_response(ctx, {"object": "list", "data": data})

    async def count_tokens(self, request: Request) -> Response:
        """POST /messages/count_tokens: a provider that speaks Messages counts (Anthropic's
        count is free and exact); otherwise the prompt estimate the gateway would hold for."""
        ctx = Ctx(protocol="messages")
        try:
            await self.auth.authenticate(request, ctx)
            original = await self.rt.read_json(request, ctx)
            model = original.get("model") if isinstance(original, dict) else None
            route = (await self.rt.routes()).get(model) if isinstance(model, str) else None
            if route is not None and not ctx.facts.model_allowed(model):
                raise model_refused(ctx.facts, model)
            if route is None:
                raise ApiError(
                    404,
                    f"The model '{model}' does not exist or is not available.",
                    code="model_not_found",
                    param="model",
                )
            if "messages" in route.protocols:
                counted = await self.provider_count(request, ctx, route, original)
                if counted is not None:
                    return json_response(ctx, counted)
            body = messages_protocol.to_chat(original, require_max_tokens=False)
        except ApiError as exc:
            return error_response(ctx, exc)
        return json_response(ctx, {"input_tokens": estimate_request_tokens(body)})

    async def provider_count(self, request, ctx: Ctx, route, original: dict) -> dict | None:
        """The provider's own count of a Messages request (what it would bill as input), or
        None when it cannot say (the estimate answers then)."""
        native = native_protocol.plan_messages(original, request.headers, count_only=True)
        body = {k: v for k, v in native.body.items() if k not in native_protocol.NOT_COUNTED}
        body["model"] = route.upstream_id
        headers = {"Content-Type": "application/json", "X-Request-Id": ctx.request_id}
        headers.update(native.headers)
        if route.api_key:
            headers["x-api-key"] = route.api_key
        try:
            answer = await self.rt.upstream.complete(
                route, body, ctx.request_id, Attempts(0), path="/messages/count_tokens",
                headers=headers,
            )  # fmt: skip
        except UpstreamError as exc:
            if exc.status < 500 and exc.upstream_status is not None:  # the provider refused it
                raise ApiError(exc.status, exc.message, type=exc.type, param=exc.param) from None
            return None
        tokens = answer.get("input_tokens") if isinstance(answer, dict) else None
        return {"input_tokens": tokens} if isinstance(tokens, int) else None

    async def root(self, request: Request) -> Response:
        """GET or HEAD on /api and /api/v1 (Claude Code checks the base URL answers)."""
        return json_response(
            Ctx(),
            {
                "object": "api",
                "name": "OpenCodex",
                "endpoints": ["/chat/completions", "/messages", "/responses", "/models"],
            },
        )

    async def balance(self, request: Request) -> Response:
        ctx = Ctx()
        try:
            facts = await self.auth.authenticate(request, ctx)
        except ApiError as exc:
            return error_response(ctx, exc)
        found = await self.rt.db(
            services.balance_for_key, key_id=facts.id, account_id=facts.account_id
        )

        return json_response(ctx, balance_json(found))


def model_json(route) -> dict:
    def both(micro):
        return {
            "credits": float(price_per_million_credits(micro)),
            "usd": float(price_per_million_dollars(micro)),
        }

    cached, write = both(route.cached_price), both(route.write_price)
    request = both(route.request_price)
    return {
        "id": route.public_id,
        "object": "model",
        "created": route.created,
        "owned_by": route.provider,
        "family": route.family,
        # Who may serve it: the names 'provider' preferences (order, only, ignore) take.
        "providers": sorted({t.provider for t in route.deployments})
        or ["demo" if route.demo else route.provider],
        "context_length": route.context_length,
        "max_output_tokens": route.max_output,
        "pricing": {
            "unit": "per 1M tokens",
            "input_credits": float(price_per_million_credits(route.input_price)),
            "output_credits": float(price_per_million_credits(route.output_price)),
            "cached_input_credits": cached["credits"],
            "cache_write_credits": write["credits"],
            "input_usd": float(price_per_million_dollars(route.input_price)),
            "output_usd": float(price_per_million_dollars(route.output_price)),
            "cached_input_usd": cached["usd"],
            "cache_write_usd": write["usd"],
            # Prices per request, not per 1M tokens (0 for most models).
            "request_credits": request["credits"],
            "request_usd": request["usd"],
        },
        "demo": route.demo,
    }


def credits_or_none(micro):
    return None if micro is None else credits_number(micro)


def balance_json(found: dict) -> dict:
    """GET /balance's answer from ``services.balance_for_key``'s figures (µcr → credits)."""
    credits = credits_or_none
    window = found["key_window"] or {}
    cap = found["member_cap"]

    return {
        "object": "balance",
        "unit": "credits",
        "credits_per_usd": CREDITS_PER_DOLLAR,
        "balance": credits(found["balance"]),
        "held": credits(found["held"]),
        "available": credits(found["available"]),
        "key": {
            "name": found["key_name"],
            "credit_limit": credits(found["key_limit"]),
            "spent": credits(found["key_spent"]),
            "remaining": credits(found["key_left"]),
            # The spend limit of the key's window (a day, week or month), if it has one.
            "spend_limit": credits(window.get("limit")),
            "spend_window": window.get("window"),
            "window_spent": credits(window.get("spent")),
            "window_resets_at": window["resets_at"].isoformat() if window else None,
        },
        # The monthly spending cap the key shares with its creator's other keys in an
        # organization (null without one).
        "member_cap": cap
        and {
            "monthly_limit": credits(cap["monthly_limit"]),
            "month_spent": credits(cap["month_spent"]),
            "held": credits(cap["held"]),
            "remaining": credits(cap["remaining"]),
            "resets_at": cap["resets_at"].isoformat(),
            "models": cap["models"],
        },
    }
