"""Integer money helpers: 1 credit = 1,000,000 micro-credits (µcr). No floats, ever."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICRO = 1_000_000
CREDITS_PER_DOLLAR = 100  # 1 credit = US$0.01
DISPLAY_PLACES = Decimal("0.0001")
# Amounts must fit a 64-bit integer of µcr with room to spare.
MAX_CREDITS_DIGITS = 12  # below 10**12 credits


def credits_to_micro(value: Decimal | int | str) -> int:
    """Exact conversion of a credit amount (at most 6 decimal places) to µcr.

    Raises ``ValueError`` for anything that is not a finite number with at most 6 decimals.
    """
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if amount and amount.adjusted() >= MAX_CREDITS_DIGITS:
        raise ValueError(f"{value!r} is too large")
    micro = amount * MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"{value!r} has more than 6 decimal places")
    return int(micro)


def micro_to_credits(micro: int) -> Decimal:
    return Decimal(int(micro)) / MICRO


def format_credits(micro: int, *, places: Decimal = DISPLAY_PLACES) -> str:
    """``500_000_000`` → ``"500.0000"``; ``1_234_567_890_000`` → ``"1,234,567.8900"``."""
    value = micro_to_credits(micro).quantize(places, rounding=ROUND_HALF_UP)
    return f"{value:,}"
