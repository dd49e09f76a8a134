"""Guard rails on sale prices: what a catalog change does to each price, and why it must not
happen without someone forcing it.

A change is refused (unless forced) when it sells a model below what one of its deployments
costs us upstream (for that part: input, output, cached input, cache writes), or when it moves
a price by more than ``CATALOG_PRICE_FACTOR`` (default ×3) either way, or to or from zero: the
typo that sells Claude at a hundredth of its cost. Every price that does change is kept in the
model's price history (``PriceChange``), forced or not. Requests already held keep the price
they were held at: the gateway prices a request with the route it admitted it with."""

from dataclasses import dataclass, field

from django.conf import settings

from .pricing import price_per_million_dollars

PRICE_FIELDS = (
    "input_price",
    "output_price",
    "cached_input_price",
    "cache_write_price",
    "cache_write_long_price",
    "request_price",
)
# The upstream cost each sale price is compared with (the deployment's own field, and the one it
# falls back to when that is not declared).
COST_OF = {
    "input_price": ("cost_input", None),
    "output_price": ("cost_output", None),
    "cached_input_price": ("cost_cached_input", "cost_input"),
    "cache_write_price": ("cost_cache_write", "cost_input"),
}
# A sale price left empty is charged at another (the cached price at the input price...).
FALLS_BACK_TO = {"cached_input_price": "input_price", "cache_write_price": "input_price"}


@dataclass
class PriceDiff:
    model: str
    field: str
    old: int | None  # None: the model is new, or the price was not set
    new: int | None
    reasons: list[str] = field(default_factory=list)  # why it is refused without force

    @property
    def refused(self) -> bool:
        return bool(self.reasons)

    def __str__(self) -> str:
        def usd(value):
            return "—" if value is None else f"${price_per_million_dollars(value)}"

        line = f"{self.model} {self.field}: {usd(self.old)} → {usd(self.new)}"
        return line + (f"  REFUSED: {'; '.join(self.reasons)}" if self.reasons else "")


def _effective(prices: dict, name: str) -> int | None:
    value = prices.get(name)
    if value is None and name in FALLS_BACK_TO:
        return prices.get(FALLS_BACK_TO[name])
    return value


def _cost(deployment: dict, name: str) -> int | None:
    own, fallback = COST_OF[name]
    value = deployment.get(own)
    return deployment.get(fallback) if value is None and fallback else value


def price_diffs(public_id: str, old: dict | None, new: dict, deployments: list[dict]):
    """The model's price changes (every field for a new model), each with the reasons it would
    be refused. ``old``/``new``: price fields (µcr); ``deployments``: their cost fields."""
    factor = settings.CATALOG_PRICE_FACTOR
    out = []
    for name in PRICE_FIELDS:
        before = None if old is None else old.get(name)
        after = new.get(name)
        if old is not None and before == after:
            continue
        if old is None and after is None:
            continue
        diff = PriceDiff(public_id, name, before, after)
        if before is not None and after is not None:
            if (before == 0) != (after == 0):
                diff.reasons.append("to or from zero")
            elif before and (after > before * factor or after * factor < before):
                diff.reasons.append(f"moves ×{after / before:.3g} (more than ×{factor:g})")
        sale = _effective(new, name)
        if name in COST_OF and sale is not None:
            for deployment in deployments:
                cost = _cost(deployment, name)
                if cost is not None and sale < cost:
                    diff.reasons.append(
                        f"below the upstream cost (${price_per_million_dollars(cost)}) of "
                        f"{deployment['label']}"
                    )
                    break
        out.append(diff)
    return out
