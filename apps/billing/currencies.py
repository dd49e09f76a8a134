"""What a top-up costs in the buyer's currency, and how they may pay it.

Prices are configured per currency (``settings.BILLING_CURRENCIES``), never converted at a live
rate: a pack buys the same credits in every currency at its own price there; any other amount is
a whole number of the currency's units, each buying a fixed whole number of credits
(``credits_per_unit``), so the credits are exact integers. Amounts are kept in the currency's
minor unit (cents, fen), as Stripe counts them."""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.money import MICRO

# Stripe's minor units per currency we can show; zero-decimal currencies (JPY…) are not offered.
SYMBOLS = {"usd": "US$", "hkd": "HK$", "cny": "¥"}
NAMES = {"usd": "USD", "hkd": "HKD", "cny": "CNY"}
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                "vnd", "vuv", "xaf", "xof", "xpf"}  # fmt: skip

# The currencies Stripe Checkout accepts each payment method in (its docs: Alipay's and WeChat
# Pay's "presentment currencies"); cards take every currency. Neither wallet can be saved for
# off-session charges (setup mode), so auto top-up stays card-only.
METHOD_CURRENCIES = {
    "card": None,
    "alipay": {"aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "myr", "nzd", "sgd", "usd"},
    "wechat_pay": {"aud", "cad", "chf", "cny", "dkk", "eur", "gbp", "hkd", "jpy", "nok", "sek",
                   "sgd", "usd"},
}  # fmt: skip
METHOD_NAMES = {"card": "Card", "alipay": "Alipay", "wechat_pay": "WeChat Pay"}


def _config() -> dict[str, dict]:
    currencies = settings.BILLING_CURRENCIES
    for code, config in currencies.items():
        if code != code.lower() or len(code) != 3 or code in ZERO_DECIMAL:
            raise ImproperlyConfigured(f"BILLING_CURRENCIES: {code!r} is not a 2-decimal code")
        if not isinstance(config.get("credits_per_unit"), int) or config["credits_per_unit"] < 1:
            raise ImproperlyConfigured(f"BILLING_CURRENCIES[{code!r}]: credits_per_unit")
        for credits, price in config.get("packs", {}).items():
            whole = isinstance(credits, int) and isinstance(price, int)
            if not (whole and credits > 0 and price > 0):
                raise ImproperlyConfigured(f"BILLING_CURRENCIES[{code!r}]: packs")
    return currencies


def currencies() -> list[str]:
    """The currencies a buyer may choose, the default first."""
    return list(_config())


def currency_valid(currency: str) -> bool:
    return currency in _config()


def currency_for_language(language: str | None) -> str:
    """The currency a buyer who never chose one sees: from the page's language (简体中文 → CNY),
    else the first configured."""
    chosen = settings.BILLING_LANGUAGE_CURRENCIES.get((language or "").lower())
    return chosen if currency_valid(chosen or "") else currencies()[0]


def payment_methods(currency: str) -> list[str]:
    """The Checkout payment methods offered in ``currency``: those configured that Stripe
    accepts in it, cards always first."""
    configured = _config()[currency].get("methods") or ["card"]
    allowed = [
        method
        for method in configured
        if method in METHOD_CURRENCIES
        and (METHOD_CURRENCIES[method] is None or currency in METHOD_CURRENCIES[method])
    ]
    return ["card", *[m for m in allowed if m != "card"]]


def money(minor: int, currency: str, *, whole: bool = False) -> str:
    """``money(8000, "hkd")`` → ``"HK$80.00"`` (``whole``: ``"HK$80"`` when there are no cents).
    Integer arithmetic only."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(int(minor)), 100)
    symbol = SYMBOLS.get(currency, f"{currency.upper()} ")
    if whole and not cents:
        return f"{sign}{symbol}{units:,}"
    return f"{sign}{symbol}{units:,}.{cents:02d}"


@dataclass(frozen=True)
class Pack:
    credits: int  # whole credits
    price: int  # minor units
    currency: str

    @property
    def price_display(self) -> str:
        return money(self.price, self.currency, whole=True)


def packs(currency: str) -> list[Pack]:
    return [
        Pack(credits=credits, price=price, currency=currency)
        for credits, price in sorted(_config()[currency].get("packs", {}).items())
    ]


def custom_range(currency: str) -> tuple[int, int, int]:
    """(lowest, highest whole units, credits per unit) for an amount of the buyer's choosing."""
    config = _config()[currency]
    return config["min"], config["max"], config["credits_per_unit"]


@dataclass(frozen=True)
class Quote:
    """What a top-up costs and buys: the amount in minor units and the credits in µcr."""

    currency: str
    amount: int
    credits: int

    @property
    def credits_whole(self) -> int:
        return self.credits // MICRO

    @property
    def amount_display(self) -> str:
        return money(self.amount, self.currency)


def quote(*, currency: str, pack: int | None = None, units: int | None = None) -> Quote:
    """The price of a pack (its credits) or of ``units`` whole units of the currency. Raises
    ValueError for an unknown currency or pack, or an amount out of range."""
    if not currency_valid(currency):
        raise ValueError(f"Top-ups are not sold in {currency!r}.")
    if pack is not None:
        price = _config()[currency].get("packs", {}).get(pack)
        if price is None:
            raise ValueError(f"There is no pack of {pack} credits.")
        return Quote(currency=currency, amount=price, credits=pack * MICRO)
    low, high, rate = custom_range(currency)
    if not isinstance(units, int) or isinstance(units, bool) or not low <= units <= high:
        lowest, highest = money(low * 100, currency, whole=True), money(high * 100, currency)
        raise ValueError(
            f"Top-ups in {NAMES.get(currency, currency.upper())} are whole amounts from "
            f"{lowest} to {highest}."
        )
    return Quote(currency=currency, amount=units * 100, credits=units * rate * MICRO)
