"""Validation of POST /chat/completions bodies. Unknown fields pass through untouched.

A protocol module: plain data in, plain data out; it imports no Django model (a contract in
pyproject.toml), the catalog's ``Route`` only as a type."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from apps.catalog.pricing import MICRO_PER_DOLLAR

if TYPE_CHECKING:
    from apps.catalog.selectors import Route

from .errors import ApiError, bad_request

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
MAX_STOP_SEQUENCES = 4
MAX_CHOICES = 8


@dataclass
class ChatRequest:
    route: Route
    messages: list
    stream: bool
    include_usage: bool  # the client asked for the usage chunk in a stream
    max_tokens: int  # the most output tokens per choice this request may produce
    choices: int
    payload: dict  # what goes to the upstream
    limit_field: str = "max_tokens"  # the output-limit field to send when one must be set
    lowered: str = ""  # why max_tokens is below what the client asked for ("" when it is not)
    original: object = None  # the request as the client sent it (another protocol's shape)
    # µcr per 1M prompt tokens the hold counts (None: the input price); higher when the request
    # asks the provider to write its prompt cache (writes cost more than input).
    hold_input_price: int | None = None
    # Models the client named to try, in order, when ``route``'s deployments all fail
    # (``models: [...]``); the hold covers the dearest, the one that serves is charged.
    fallbacks: tuple = ()
    # The client's routing preferences (``provider: {...}``), or None.
    prefs: Preferences | None = None

    @property
    def candidates(self) -> tuple:
        return (self.route, *self.fallbacks)

    def lower_output(self, tokens: int, reason: str) -> None:
        """Ask the upstream for at most ``tokens`` per choice (the client asked for more)."""
        self.max_tokens = tokens
        self.lowered = reason
        self.payload[self.limit_field] = tokens


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_messages(messages) -> None:
    if messages is None:
        raise bad_request("'messages' is required.", param="messages", code="missing_field")
    if not isinstance(messages, list):
        raise bad_request(
            "'messages' must be an array of message objects.", param="messages", code="invalid_type"
        )
    if not messages:
        raise bad_request("'messages' must not be empty.", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_request(f"'{where}' must be an object.", param=where, code="invalid_type")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise bad_request(
                f"'{where}.role' must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role"
            )
        content = message.get("content")
        if content is None:
            if role in {"assistant", "function"} or "tool_calls" in message:
                continue
            raise bad_request(
                f"'{where}.content' is required.", param=f"{where}.content", code="missing_field"
            )
        if isinstance(content, list):
            if not all(isinstance(part, dict) for part in content):
                raise bad_request(
                    f"'{where}.content' parts must be objects.",
                    param=f"{where}.content",
                    code="invalid_type",
                )
        elif not isinstance(content, str):
            raise bad_request(
                f"'{where}.content' must be a string or an array of content parts.",
                param=f"{where}.content",
                code="invalid_type",
            )


def _check_range(body: dict, name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not _is_number(value):
        raise bad_request(f"'{name}' must be a number.", param=name, code="invalid_type")
    if not low <= value <= high:
        raise bad_request(f"'{name}' must be between {low:g} and {high:g}.", param=name)


# Fields that change what the provider bills, or keep data at the provider under the operator's
# account: forwarded only with the values priced here (DESIGN.md "Money": forward only what the
# gateway can price), refused with a 400 naming the field otherwise.
SERVICE_TIERS = (None, "auto", "default")


def _check_priced(body: dict) -> None:
    tier = body.get("service_tier")
    if tier not in SERVICE_TIERS:
        raise bad_request(
            f"'service_tier': {tier!r} is billed differently by the provider and is not "
            "available through OpenCodex; use auto or default.",
            param="service_tier",
            code="unsupported_parameter",
        )
    if body.get("store") not in (None, False):
        raise bad_request(
            "'store': OpenCodex does not keep completions at the provider; send store: false "
            "or leave it out.",
            param="store",
            code="unsupported_parameter",
        )
    if body.get("web_search_options") is not None:
        raise bad_request(
            "'web_search_options': web search is billed per call by the provider and is not "
            "available through OpenCodex.",
            param="web_search_options",
            code="unsupported_parameter",
        )
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        raise bad_request(
            "Audio output is billed at audio prices by the provider and is not available "
            "through OpenCodex.",
            param="audio" if body.get("audio") is not None else "modalities",
            code="unsupported_parameter",
        )


MAX_FALLBACKS = 3


def _fallbacks(models, primary: str, routes: dict) -> tuple:
    """The client's fallback models (OpenRouter's ``models``): public ids, each available,
    tried in order after ``model``; the primary itself and repeats are skipped."""
    if models is None:
        return ()
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise bad_request("'models' must be an array of model ids.", param="models")
    out, seen = [], {primary}
    for index, name in enumerate(models):
        if name in seen:
            continue
        seen.add(name)
        route = routes.get(name)
        if route is None:
            raise ApiError(
                400,
                f"The model '{name}' in 'models' does not exist or is not available.",
                code="model_not_found",
                param=f"models[{index}]",
            )
        out.append(route)
    if len(out) > MAX_FALLBACKS:
        raise bad_request(
            f"'models' may name at most {MAX_FALLBACKS} models besides 'model'.", param="models"
        )
    return tuple(out)


# The fields a client routes with (OpenRouter's): ours to act on, never sent to a provider.
ROUTING_FIELDS = ("models", "provider")
SORTS = ("price", "latency", "throughput")
PRICE_LIMITS = ("prompt", "completion", "request")
MAX_PROVIDERS = 20


@dataclass(frozen=True)
class Preferences:
    """What the client asked of the providers that serve it (OpenRouter's ``provider``):
    ``order`` tried first and in that order, ``only`` and ``ignore`` to allow and deny,
    ``allow_fallbacks: false`` to use none but those in ``order``, ``sort`` by price (the model
    and its fallbacks, cheapest first), latency or throughput (measured per deployment), and a
    ``max_price`` per 1M prompt and completion tokens and per request, in US$."""

    order: tuple = ()
    only: frozenset | None = None
    ignore: frozenset = frozenset()
    allow_fallbacks: bool = True
    sort: str | None = None
    max_price: tuple = ()  # (field, µcr) pairs: prompt and completion per 1M tokens, request

    def allows(self, provider: str) -> bool:
        if self.only is not None and provider not in self.only:
            return False
        if provider in self.ignore:
            return False
        return self.allow_fallbacks or not self.order or provider in self.order

    def within_price(self, route: Route) -> bool:
        prices = {
            "prompt": route.input_price,
            "completion": route.output_price,
            "request": route.request_price,
        }
        return all(prices[name] <= limit for name, limit in self.max_price)

    def narrow(self, candidates: tuple) -> tuple:
        """The candidate models within ``max_price``, each with only the deployments of the
        providers allowed (a model with none left is dropped), sorted by price if asked."""
        out = []
        for route in candidates:
            if not self.within_price(route):
                continue
            if not route.deployments:  # served by its provider alone (or the demo)
                if self.allows("demo" if route.demo else route.provider):
                    out.append(route)
                continue
            kept = tuple(t for t in route.deployments if self.allows(t.provider))
            if len(kept) == len(route.deployments):
                out.append(route)
            elif kept:
                first = kept[0]
                out.append(
                    replace(
                        route,
                        deployments=kept,
                        provider=first.provider,
                        base_url=first.base_url,
                        api_key=first.api_key,
                        upstream_id=first.upstream_id,
                    )
                )
        if self.sort == "price":  # a stable sort: equal prices keep the client's order
            out.sort(key=lambda r: (r.input_price + r.output_price, r.request_price))
        return tuple(out)


def _slugs(value, where: str) -> tuple:
    if (
        not isinstance(value, list)
        or len(value) > MAX_PROVIDERS
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise bad_request(
            f"'{where}' must be an array of up to {MAX_PROVIDERS} provider names.", param=where
        )
    return tuple(value)


def _preferences(value) -> Preferences | None:
    """The ``provider`` object, checked: every field known and of its type."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("'provider' must be an object.", param="provider", code="invalid_type")
    known = ("order", "only", "ignore", "allow_fallbacks", "sort", "max_price")
    for name in value:
        if name not in known:
            raise bad_request(
                f"'provider.{name}' is not supported; 'provider' may have {', '.join(known)}.",
                param=f"provider.{name}",
                code="unsupported_parameter",
            )
    fields = {}
    for name in ("order", "only", "ignore"):
        if value.get(name) is not None:
            fields[name] = _slugs(value[name], f"provider.{name}")
    if "only" in fields:
        fields["only"] = frozenset(fields["only"])
    if "ignore" in fields:
        fields["ignore"] = frozenset(fields["ignore"])
    allow = value.get("allow_fallbacks")
    if allow is not None:
        if not isinstance(allow, bool):
            raise bad_request(
                "'provider.allow_fallbacks' must be true or false.",
                param="provider.allow_fallbacks",
                code="invalid_type",
            )
        fields["allow_fallbacks"] = allow
    sort = value.get("sort")
    if sort is not None:
        if sort not in SORTS:
            raise bad_request(
                f"'provider.sort' must be one of {', '.join(SORTS)}.", param="provider.sort"
            )
        fields["sort"] = sort
    limits = value.get("max_price")
    if limits is not None:
        if not isinstance(limits, dict) or not limits:
            raise bad_request(
                "'provider.max_price' must be an object such as {\"prompt\": 1, "
                "\"completion\": 2} (US$ per 1M tokens; 'request': US$ per request).",
                param="provider.max_price",
            )
        pairs = []
        for name, price in limits.items():
            where = f"provider.max_price.{name}"
            if name not in PRICE_LIMITS:
                raise bad_request(
                    f"'{where}' is not supported; 'max_price' may have {', '.join(PRICE_LIMITS)}.",
                    param=where,
                    code="unsupported_parameter",
                )
            try:
                amount = Decimal(str(price)) if _is_number(price) else None
            except InvalidOperation:
                amount = None
            if amount is None or not amount.is_finite() or amount < 0:
                raise bad_request(
                    f"'{where}' must be a number of US$ (0 or more).", param=where
                )  # fmt: skip
            # µcr per 1M tokens (per request for 'request'), rounded down: never above the limit.
            pairs.append((name, int(amount * MICRO_PER_DOLLAR)))
        fields["max_price"] = tuple(pairs)
    return Preferences(**fields)


def _narrowed(prefs: Preferences, route: Route, fallbacks: tuple) -> tuple:
    """(route, fallbacks) as the client's preferences leave them; 400 when nothing is left."""
    left = prefs.narrow((route, *fallbacks))
    if not left:
        providers = sorted(
            {t.provider for r in (route, *fallbacks) for t in r.deployments}
            | {("demo" if r.demo else r.provider) for r in (route, *fallbacks) if not r.deployments}
        )
        raise ApiError(
            400,
            f"No provider of '{route.public_id}'"
            + (" or its fallback models" if fallbacks else "")
            + " matches 'provider' (order, only, ignore, allow_fallbacks, max_price); "
            f"they are served by: {', '.join(providers)}.",
            code="no_provider_matches",
            param="provider",
        )
    return left[0], left[1:]


def validate_chat(body, routes: dict[str, Route], *, translated: bool = False) -> ChatRequest:
    """A chat completions request, checked and routed. ``translated``: it was translated from
    another protocol, so its output limit goes upstream under the model's own field."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_body")
    model = body.get("model")
    if model is None:
        raise bad_request("'model' is required.", param="model", code="missing_field")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' must be a model id string.", param="model", code="invalid_type")
    _check_messages(body.get("messages"))
    _check_range(body, "temperature", 0, 2)
    _check_range(body, "top_p", 0, 1)
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false.", param="stream", code="invalid_type")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise bad_request(
            "'stream_options' must be an object.", param="stream_options", code="invalid_type"
        )
    stop = body.get("stop")
    if (
        stop is not None
        and not isinstance(stop, str)
        and (
            not isinstance(stop, list)
            or not all(isinstance(s, str) for s in stop)
            or len(stop) > MAX_STOP_SEQUENCES
        )
    ):
        raise bad_request(
            f"'stop' must be a string or an array of up to {MAX_STOP_SEQUENCES} strings.",
            param="stop",
        )
    _check_priced(body)
    choices = body.get("n")
    if choices is None:
        choices = 1
    elif not _is_int(choices) or not 1 <= choices <= MAX_CHOICES:
        raise bad_request(f"'n' must be an integer from 1 to {MAX_CHOICES}.", param="n")

    route = routes.get(model)
    if route is None:
        raise ApiError(
            400,
            f"The model '{model}' does not exist or is not available. "
            "GET /v1/models lists the models you can use.",
            code="model_not_found",
            param="model",
        )

    fallbacks = _fallbacks(body.get("models"), model, routes)
    prefs = _preferences(body.get("provider"))
    if prefs is not None:
        route, fallbacks = _narrowed(prefs, route, fallbacks)
    payload = dict(body)
    for name in ROUTING_FIELDS:  # ours to act on, not the provider's
        payload.pop(name, None)
    payload["model"] = route.upstream_id
    # The client's output limit, sent upstream as exactly one field: the one the client used, or
    # the model's own when it sent both (with the smaller value). None is added on its behalf.
    sent = {}
    for name in ("max_tokens", "max_completion_tokens"):
        value = payload.pop(name, None)
        if value is None:
            continue
        if not _is_int(value) or value < 1:
            raise bad_request(f"'{name}' must be a positive integer.", param=name)
        sent[name] = value
    limit_field = route.max_tokens_param
    if len(sent) == 1 and not translated:
        limit_field = next(iter(sent))
    lowered = ""
    most = min(r.max_output for r in (route, *fallbacks))  # what every candidate can give
    if sent:
        max_tokens = min(sent.values())
        if max_tokens > most:  # more than the model can give: ask for its most
            max_tokens, lowered = most, "model_limit"
    else:
        max_tokens = most  # the worst case the hold must cover
    # Always sent: a provider's own default may exceed what the hold covers.
    payload[limit_field] = max_tokens
    include_usage = bool(stream_options and stream_options.get("include_usage"))
    if stream:
        payload["stream_options"] = {**(stream_options or {}), "include_usage": True}
    return ChatRequest(
        route=route,
        messages=body["messages"],
        stream=stream,
        include_usage=include_usage,
        max_tokens=max_tokens,
        choices=choices,
        payload=payload,
        limit_field=limit_field,
        lowered=lowered,
        fallbacks=fallbacks,
        prefs=prefs,
    )
