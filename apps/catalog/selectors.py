import os
from dataclasses import dataclass

from django.conf import settings

from .models import Model


@dataclass(frozen=True)
class Route:
    """Where a public model is served from right now, and what it costs."""

    public_id: str
    upstream_id: str
    base_url: str
    api_key: str | None
    provider: str
    family: str
    input_price: int  # µcr per 1M tokens
    output_price: int
    context_length: int
    max_output: int
    created: int
    demo: bool = False
    cached_input_price: int | None = None  # µcr per 1M cached input tokens; None: input price
    cache_write_price: int | None = None  # µcr per 1M tokens written to a prompt cache
    # µcr per 1M tokens written to a 1-hour cache (Anthropic bills them at twice the input price)
    cache_write_long_price: int | None = None
    request_price: int = 0  # µcr per request
    max_tokens_param: str = "max_tokens"
    protocols: tuple[str, ...] = ()  # spoken natively besides chat: passed through untranslated

    @property
    def cached_price(self) -> int:
        return self.input_price if self.cached_input_price is None else self.cached_input_price

    @property
    def write_price(self) -> int:
        return self.input_price if self.cache_write_price is None else self.cache_write_price

    @property
    def long_write_price(self) -> int:
        if self.cache_write_long_price is not None:
            return self.cache_write_long_price
        return max(2 * self.input_price, self.write_price)


def catalog_routes() -> dict[str, Route]:
    """The models a request may use, by public id.

    A model whose provider's API key variable is set goes to that provider. Otherwise, on the
    embedded default (``DEMO_UPSTREAM_ENABLED``) the built-in demo upstream answers it; in
    production it is absent.
    """
    routes = {}
    demo_url = settings.DEMO_UPSTREAM_BASE_URL.rstrip("/")
    models = Model.objects.filter(enabled=True, provider__enabled=True).select_related("provider")
    for model in models:
        provider = model.provider
        api_key = os.environ.get(provider.api_key_env) if provider.api_key_env else None
        common = {
            "public_id": model.public_id,
            "provider": provider.slug,
            "family": model.family,
            "input_price": model.input_price,
            "output_price": model.output_price,
            "context_length": model.context_length,
            "max_output": model.max_output,
            "created": int(model.created_at.timestamp()),
            "cached_input_price": model.cached_input_price,
            "cache_write_price": model.cache_write_price,
            "cache_write_long_price": model.cache_write_long_price,
            "request_price": model.request_price,
            "max_tokens_param": model.max_tokens_param,
        }
        if api_key or not provider.api_key_env:
            routes[model.public_id] = Route(
                upstream_id=model.upstream_id,
                base_url=provider.base_url.rstrip("/"),
                api_key=api_key,
                protocols=tuple(provider.protocols or ()),
                **common,
            )
        elif settings.DEMO_UPSTREAM_ENABLED:
            routes[model.public_id] = Route(
                upstream_id=model.public_id, base_url=demo_url, api_key=None, demo=True, **common
            )
    return routes


def catalog_ready() -> None:
    """The readiness probe of the catalog: at least one model can be sold."""
    if not Model.objects.filter(enabled=True).exists():
        raise LookupError("no enabled model: run manage.py sync_catalog")
