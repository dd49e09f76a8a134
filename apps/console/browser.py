"""The model browser: the catalog's cards searched, filtered and sorted from GET parameters
(a link keeps them; htmx swaps the results). The catalog is small (tens of models): the cards
are filtered in memory, after the two queries of ``selectors.model_cards``; latencies come from
one bounded, cached sample of the latest requests."""

from dataclasses import dataclass, replace
from datetime import timedelta

from django import forms
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.usage.models import UsageRecord

from .selectors import ModelCard

LATENCY_CACHE_KEY = "console:model-latencies"
LATENCY_CACHE_SECONDS = 300
# The latest successful requests of the last day the medians are taken from (newest first by
# id, an index of every partition).
LATENCY_SAMPLE = 5000

CONTEXT_CHOICES = [(32_000, "32K"), (128_000, "128K"), (200_000, "200K"), (1_000_000, "1M")]
# Dollars per 1M input tokens, at most.
PRICE_CHOICES = [("0.25", "$0.25"), ("1", "$1"), ("3", "$3"), ("10", "$10")]


class ModelBrowserForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label=_("Search"))
    provider = forms.ChoiceField(required=False, label=_("Provider"))
    context = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label=_("Context"),
        choices=[("", _("Any length"))]
        + [(v, _("at least %(n)s") % {"n": label}) for v, label in CONTEXT_CHOICES],
    )
    price = forms.ChoiceField(
        required=False,
        label=_("Input price / 1M"),
        choices=[("", _("Any price"))]
        + [(v, _("at most %(price)s") % {"price": label}) for v, label in PRICE_CHOICES],
    )
    modality = forms.ChoiceField(
        required=False,
        label=_("Reads"),
        choices=[
            ("", _("Any input")),
            ("image", _("Images")),
            ("audio", _("Audio")),
            ("file", _("Files")),
        ],
    )
    protocol = forms.ChoiceField(
        required=False,
        label=_("Native protocol"),
        choices=[
            ("", _("Any protocol")),
            ("messages", _("Anthropic Messages")),
            ("responses", _("OpenAI Responses")),
        ],
    )
    sort = forms.ChoiceField(
        required=False,
        label=_("Sort by"),
        choices=[
            ("", _("Family")),
            ("price", _("Price: lowest first")),
            ("-price", _("Price: highest first")),
            ("-context", _("Context: longest first")),
            ("latency", _("Latency: fastest first")),
        ],
    )

    def __init__(self, *args, providers: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [("", _("All providers")), *providers]

    def values(self) -> dict:
        return self.cleaned_data if self.is_bound and self.is_valid() else {}


@dataclass(frozen=True)
class Browse:
    cards: list[ModelCard]
    total: int  # models before the filters


def model_latencies() -> dict[str, int]:
    """Median latency (ms) of each model over its latest successful requests of the last day,
    from one sample of at most ``LATENCY_SAMPLE`` records; cached for five minutes."""
    found = cache.get(LATENCY_CACHE_KEY)
    if found is not None:
        return found
    rows = (
        UsageRecord.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=1), status__lt=400
        )
        .order_by("-id")
        .values_list("model", "latency_ms")[:LATENCY_SAMPLE]
    )
    times: dict[str, list[int]] = {}
    for model, ms in rows:
        times.setdefault(model, []).append(ms)
    found = {model: sorted(v)[len(v) // 2] for model, v in times.items()}
    cache.set(LATENCY_CACHE_KEY, found, LATENCY_CACHE_SECONDS)
    return found


def _matches(card: ModelCard, words: list[str]) -> bool:
    text = " ".join(
        (card.id, card.name, card.family, card.provider, card.description, card.description_zh)
    ).lower()
    return all(word in text for word in words)


def browse(cards: list[ModelCard], values: dict) -> Browse:
    """The cards the browser's ``values`` keep, in their order."""
    from decimal import Decimal

    from apps.catalog.pricing import dollars_per_million_to_micro

    latencies = model_latencies()
    cards = [replace(c, latency_ms=latencies.get(c.id)) for c in cards]
    total = len(cards)
    words = (values.get("q") or "").lower().split()
    if words:
        cards = [c for c in cards if _matches(c, words)]
    if values.get("provider"):
        cards = [c for c in cards if c.provider_slug == values["provider"]]
    if values.get("context"):
        cards = [c for c in cards if c.context_length >= values["context"]]
    if values.get("price"):
        most = dollars_per_million_to_micro(Decimal(values["price"]))
        cards = [c for c in cards if c.input.micro <= most]
    if values.get("modality"):
        cards = [c for c in cards if values["modality"] in c.modalities]
    if values.get("protocol"):
        cards = [c for c in cards if values["protocol"] in c.protocols]
    sort = values.get("sort")
    if sort in ("price", "-price"):
        cards.sort(key=lambda c: (c.input.micro, c.output.micro, c.id))
        if sort == "-price":
            cards.reverse()
    elif sort == "-context":
        cards.sort(key=lambda c: (-c.context_length, c.id))
    elif sort == "latency":  # unmeasured models last
        cards.sort(key=lambda c: (c.latency_ms is None, c.latency_ms or 0, c.id))
    return Browse(cards=cards, total=total)
