import os
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch

from .models import Deployment, Model


@dataclass(frozen=True)
class Target:
    """One deployment of a model, as the gateway calls it: the endpoint, the key, the model's
    id there, and where it stands in the pool (priority tier, 0 first; weight in its tier)."""

    name: str  # stable: provider:key variable:upstream id (cooldowns and stickiness use it)
    provider: str
    base_url: str
    api_key: str | None
    upstream_id: str
    protocols: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1
    rpm: int = 0  # requests per minute it may take (0: no limit of ours)
    tpm: int = 0  # tokens (input and output) per minute
    # What the upstream charges us, µcr per 1M tokens (None: not declared; cached reads and
    # cache writes fall back to the input price). Priced by pricing.upstream_usage_cost.
    cost_input: int | None = None
    cost_output: int | None = None
    cost_cached_input: int | None = None
    cost_cache_write: int | None = None


@dataclass(frozen=True)
class Route:
    """Where a public model is served from right now, and what it costs. ``deployments`` is
    the pool (its first entry's endpoint is the route's own ``base_url``/``api_key``)."""

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
    deployments: tuple[Target, ...] = ()

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


TARGET_COSTS = ("cost_input", "cost_output", "cost_cached_input", "cost_cache_write")


def _target(provider, upstream_id: str, env: str, priority=0, weight=1, rpm=0, tpm=0, costs=None):
    """The deployment as a target, or None while its key is not configured (or its provider is
    off)."""
    if not provider.enabled:
        return None
    api_key = os.environ.get(env) if env else None
    if env and not api_key:
        return None
    return Target(
        name=f"{provider.slug}:{env or '-'}:{upstream_id}",
        provider=provider.slug,
        base_url=provider.base_url.rstrip("/"),
        api_key=api_key,
        upstream_id=upstream_id,
        protocols=tuple(provider.protocols or ()),
        priority=priority,
        weight=weight,
        rpm=rpm or 0,
        tpm=tpm or 0,
        **(costs or {}),
    )


def _targets(model) -> tuple[Target, ...]:
    """The model's configured deployments, in the catalog's order (a database synced before
    deployments existed: one per key of the model's provider)."""
    rows = [d for d in model.deployments.all() if d.enabled]
    if not model.deployments.all():
        rows = None
    if rows is None:
        found = (
            _target(model.provider, model.upstream_id, env)
            for env in (model.provider.key_variables or [""])
        )
    else:
        found = (
            _target(
                d.provider,
                d.upstream_id,
                d.api_key_env,
                d.priority,
                d.weight,
                d.rpm,
                d.tpm,
                {name: getattr(d, name) for name in TARGET_COSTS},
            )
            for d in rows
        )
    return tuple(sorted((t for t in found if t is not None), key=lambda t: t.priority))


def catalog_routes(public_ids=None) -> dict[str, Route]:
    """The models a request may use, by public id (only those of ``public_ids`` if given: a
    page of the request log asks for the few models on it, not the whole catalog).

    A model whose provider's API key variable is set goes to that provider. Otherwise, on the
    embedded default (``DEMO_UPSTREAM_ENABLED``) the built-in demo upstream answers it; in
    production it is absent.
    """
    routes = {}
    demo_url = settings.DEMO_UPSTREAM_BASE_URL.rstrip("/")
    models = Model.objects.filter(enabled=True, provider__enabled=True).select_related("provider")
    if public_ids is not None:
        models = models.filter(public_id__in=list(public_ids))
    models = models.prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.select_related("provider"))
    )
    for model in models:
        provider = model.provider
        targets = _targets(model)
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
        if targets:
            first = targets[0]
            # A request is passed through natively only if every deployment speaks its protocol.
            native = set(first.protocols).intersection(*(t.protocols for t in targets))
            routes[model.public_id] = Route(
                upstream_id=first.upstream_id,
                base_url=first.base_url,
                api_key=first.api_key,
                protocols=tuple(p for p in first.protocols if p in native),
                deployments=targets,
                **{**common, "provider": first.provider},
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


# The gateway's router keeps a deployment's cooldown in Redis under this prefix (the value: the
# wall-clock time it ends; the key's TTL: what is left).
COOL_PREFIX = "ocx:cool:"
DISABLED_PREFIX = "ocx:disabled:"  # why a deployment is out of service (our key refused…)
_routing_redis = None


def routing_redis():
    """The shared routing state's Redis client for the portal and Celery (one per process;
    None without REDIS_URL)."""
    global _routing_redis
    if not settings.REDIS_URL:
        return None
    if _routing_redis is None:
        import redis

        _routing_redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5)
    return _routing_redis


def deployment_cooldowns(names: list[str]) -> dict[str, float]:
    """Seconds each deployment still cools down for, as every gateway process sees it (from
    Redis; empty without it, or while it is unreachable)."""
    client = routing_redis()
    if client is None or not names:
        return {}
    import redis

    try:
        with client.pipeline() as pipe:
            for name in names:
                pipe.pttl(COOL_PREFIX + name)
            left = pipe.execute()
    except (redis.RedisError, OSError):
        return {}
    return {name: ms / 1000 for name, ms in zip(names, left, strict=True) if ms and ms > 0}


def deployments_disabled() -> dict[str, str]:
    """Deployments the gateway took out of service (name → why), as Redis says."""
    client = routing_redis()
    if client is None:
        return {}
    import redis

    try:
        keys = list(client.scan_iter(match=DISABLED_PREFIX + "*", count=500))
        values = client.mget(keys) if keys else []
    except (redis.RedisError, OSError):
        return {}
    return {
        key.decode()[len(DISABLED_PREFIX) :]: value.decode()
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


def deployment_targets() -> dict[str, Target]:
    """Every configured deployment by name (the catalog's, with their keys)."""
    return {t.name: t for route in catalog_routes().values() for t in route.deployments}
