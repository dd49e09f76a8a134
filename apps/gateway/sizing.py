"""Sizing: what a request may use and what to hold for it.

Rule: before anything is held or forwarded, the key's guardrails allow the request's models
(403 otherwise), the body is validated and routed, and its prompt is estimated; the hold is the
worst case at the dearest model that may serve it, and when that is more than the balance, the
budget, the member's cap or the key's limits cover, the output limit is lowered to what they
cover (never below the floor). Pure functions of the request and the catalog: no I/O.
"""

from django.conf import settings

from apps.catalog.estimate import estimate_request_tokens
from apps.catalog.pricing import tokens_cost

from .errors import bad_request, model_refused
from .runtime import Ctx
from .validation import ChatRequest, validate_chat


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


def checked(ctx: Ctx, body, routes) -> tuple[ChatRequest, int]:
    """The request allowed for the key, validated and routed, and its prompt's tokens for
    the hold."""
    if ctx.facts is not None and ctx.facts.restricted:
        allowed(ctx.facts, body)
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
    return chat, estimate(ctx, chat)


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
