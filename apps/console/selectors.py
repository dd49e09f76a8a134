"""What the console pages read: the catalog as a price list, a model's recent traffic, one
request of the user's."""

import hashlib
import statistics
from dataclasses import dataclass, replace
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Q, Sum
from django.utils import timezone

from apps.catalog.models import Model, PriceChange
from apps.catalog.pricing import price_per_million_dollars
from apps.catalog.selectors import Route, catalog_routes
from apps.usage.models import UsageHour, UsageRecord
from apps.usage.selectors import deployment_shown  # noqa: F401  (the request page's)

# Median latencies are computed from at most this many of a model's latest requests.
LATENCY_SAMPLE = 2000
STATS_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Price:
    """A price per 1M tokens (or per request) in µcr; templates format it with the site's
    filters: ``{{ p.credits|credits }}`` and ``{{ p.usd|usd }}``."""

    micro: int

    @classmethod
    def of(cls, micro: int) -> "Price":
        return cls(int(micro))

    @property
    def credits(self) -> int:
        return self.micro  # µcr per 1M tokens = credits per 1M tokens, in µcr

    @property
    def usd(self):
        return price_per_million_dollars(self.micro)


@dataclass(frozen=True)
class ModelCard:
    id: str
    name: str
    family: str
    provider: str
    context_length: int
    max_output: int
    input: Price
    cached_input: Price
    output: Price
    cache_write: Price | None  # only where it differs from the input price
    request: Price | None  # µcr per request, where the model has one
    demo: bool
    price_changed_at: object = None  # when a price of it last changed (the price history)
    provider_slug: str = ""
    description: str = ""
    description_zh: str = ""
    modalities: tuple[str, ...] = ()  # read besides text: image, audio, file
    protocols: tuple[str, ...] = ("chat",)  # spoken natively (others are translated)
    latency_ms: int | None = None  # median over its latest successful requests (the browser's)

    @property
    def summary(self) -> str:
        """The description in the page's language (English when there is none in Chinese)."""
        from django.utils.translation import get_language

        if self.description_zh and (get_language() or "").startswith("zh"):
            return self.description_zh
        return self.description


def _card(route: Route, model: Model | None) -> ModelCard:
    writes = route.write_price != route.input_price
    return ModelCard(
        id=route.public_id,
        name=(model.display_name if model else "") or route.public_id,
        family=route.family,
        provider=model.provider.name if model else route.provider,
        context_length=route.context_length,
        max_output=route.max_output,
        input=Price.of(route.input_price),
        cached_input=Price.of(route.cached_price),
        output=Price.of(route.output_price),
        cache_write=Price.of(route.write_price) if writes else None,
        request=Price.of(route.request_price) if route.request_price else None,
        demo=route.demo,
        provider_slug=model.provider.slug if model else route.provider,
        description=model.description if model else "",
        description_zh=model.description_zh if model else "",
        modalities=tuple(model.modalities or ()) if model else (),
        protocols=("chat", *_native(route, model)),
    )


def _native(route: Route, model: Model | None) -> tuple[str, ...]:
    """The protocols besides chat a model's requests pass through in untranslated: its route's;
    on the demo upstream (no provider key here), its provider's, as in production."""
    if route.demo and model is not None:
        return tuple(p for p in ("messages", "responses") if p in (model.provider.protocols or ()))
    return tuple(route.protocols)


def model_cards() -> list[ModelCard]:
    """Every model a request may use now, by family then id (two queries)."""
    routes = catalog_routes()
    models = {
        m.public_id: m
        for m in Model.objects.filter(public_id__in=routes).select_related("provider")
    }
    cards = [_card(r, models.get(r.public_id)) for r in routes.values()]
    return sorted(cards, key=lambda c: (c.family, c.id))


def model_card(public_id: str) -> ModelCard | None:
    route = catalog_routes().get(public_id)
    if route is None:
        return None
    model = Model.objects.select_related("provider").filter(public_id=public_id).first()
    card = _card(route, model)
    if model is not None:
        last = PriceChange.objects.filter(model=model).values_list("changed_at", flat=True)
        card = replace(card, price_changed_at=last.first())
    return card


@dataclass(frozen=True)
class Window:
    requests: int = 0
    errors: int = 0
    tokens: int = 0
    median_latency_ms: int | None = None
    median_ttft_ms: int | None = None
    sampled: int = 0  # requests the medians were computed from

    @property
    def error_rate(self) -> float:
        return round(100 * self.errors / self.requests, 1) if self.requests else 0.0


@dataclass(frozen=True)
class ModelStats:
    day: Window
    week: Window
    daily: list[tuple[object, int]]  # (date, requests) for each of the last 7 days, oldest first
    sample_limit: int = LATENCY_SAMPLE

    @property
    def peak(self) -> int:
        return max((n for _, n in self.daily), default=0)


def _median(values: list[int]) -> int | None:
    return round(statistics.median(values)) if values else None


def model_stats(public_id: str, *, now=None) -> ModelStats:
    """A model's traffic over every account: requests, errors and tokens over the last 24 hours
    and 7 days from the hourly rollups, and median latency and time to first token of its
    latest successful requests (at most ``LATENCY_SAMPLE`` records, read newest first).
    Cached for a minute."""
    cache_key = "console:model-stats:" + hashlib.sha256(public_id.encode()).hexdigest()[:32]
    cached_ok = now is None  # a given "now" (tests, backfills) is neither read nor kept
    if cached_ok:
        cached = cache.get(cache_key)
        if cached is not None:
            return cached
    now = now or timezone.now()
    day_ago, week_ago = now - timedelta(hours=24), now - timedelta(days=7)
    hour_start = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    week_start = (now - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    rollups = UsageHour.objects.filter(model=public_id, hour__gte=week_start)
    in_day = Q(hour__gte=hour_start)
    totals = rollups.aggregate(
        day_requests=Sum("requests", filter=in_day),
        day_errors=Sum("errors", filter=in_day),
        day_prompt=Sum("prompt_tokens", filter=in_day),
        day_completion=Sum("completion_tokens", filter=in_day),
        week_requests=Sum("requests"),
        week_errors=Sum("errors"),
        week_prompt=Sum("prompt_tokens"),
        week_completion=Sum("completion_tokens"),
    )
    by_day: dict = {}
    for hour, requests in rollups.values_list("hour", "requests"):
        by_day[hour.date()] = by_day.get(hour.date(), 0) + requests
    today = now.date()
    daily = [
        (today - timedelta(days=back), by_day.get(today - timedelta(days=back), 0))
        for back in range(6, -1, -1)
    ]
    sample = list(
        UsageRecord.objects.filter(model=public_id, created_at__gte=week_ago, status__lt=400)
        .order_by("-created_at")
        .values_list("created_at", "latency_ms", "ttft_ms", "stream")[:LATENCY_SAMPLE]
    )

    def window(prefix: str, since) -> Window:
        rows = [r for r in sample if r[0] >= since]
        return Window(
            requests=totals[f"{prefix}_requests"] or 0,
            errors=totals[f"{prefix}_errors"] or 0,
            tokens=(totals[f"{prefix}_prompt"] or 0) + (totals[f"{prefix}_completion"] or 0),
            median_latency_ms=_median([r[1] for r in rows]),
            median_ttft_ms=_median([r[2] for r in rows if r[3] and r[2]]),
            sampled=len(rows),
        )

    stats = ModelStats(day=window("day", day_ago), week=window("week", week_ago), daily=daily)
    if cached_ok:
        cache.set(cache_key, stats, STATS_CACHE_SECONDS)
    return stats


def playground_models() -> list[dict]:
    """The models the playground offers: id, output limit and whether the demo answers it."""
    return [
        {"id": r.public_id, "max_output": r.max_output, "demo": r.demo, "family": r.family}
        for r in sorted(catalog_routes().values(), key=lambda r: (r.family, r.public_id))
    ]


def route_for(public_id: str) -> Route | None:
    return catalog_routes().get(public_id)


def usage_record_for_user(*, user_id: int, request_id: str) -> UsageRecord:
    """One of the user's requests by its id, or ``UsageRecord.DoesNotExist`` (also for anybody
    else's: it is not there at all)."""
    # By the request id alone (its index answers whatever the statistics say; a filter on the
    # user too can tempt the planner into walking the user's index), then the owner checked.
    found = UsageRecord.objects.select_related("api_key").filter(request_id=request_id).order_by()
    mine = [r for r in found[:10] if r.user_id == user_id]
    record = max(mine, key=lambda r: r.created_at, default=None)
    if record is None:
        raise UsageRecord.DoesNotExist(request_id)
    return record


def usage_content_for_user(*, user_id: int, request_id: str):
    """The kept prompt and answer of the user's request, while they are kept (else None):
    (request body, answer) as indented JSON."""
    import json

    from django.utils import timezone

    from apps.usage.models import UsageContent

    content = (
        UsageContent.objects.filter(
            user_id=user_id,
            request_id=request_id,
            expires_at__gt=timezone.now(),
            user__store_content_days__gt=0,  # never shown while keeping is off
        )
        .order_by("-created_at")
        .first()
    )
    if content is None:
        return None
    return {
        "request": json.dumps(content.request, indent=2, ensure_ascii=False),
        "response": json.dumps(content.response, indent=2, ensure_ascii=False)
        if content.response is not None
        else "",
        "expires_at": content.expires_at,
    }
