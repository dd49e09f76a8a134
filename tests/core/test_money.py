from decimal import Decimal

import pytest

from apps.core.money import MICRO, credits_to_micro, format_credits


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500", 500 * MICRO),
        ("0.000001", 1),
        ("-12.5", -12_500_000),
        (Decimal("1.25"), 1_250_000),
        (7, 7 * MICRO),
    ],
)
def test_credits_to_micro_is_exact(value, expected):
    assert credits_to_micro(value) == expected


@pytest.mark.parametrize("value", ["abc", "", "1e999999999", "NaN", "Infinity", "0.0000001"])
def test_credits_to_micro_rejects_non_amounts(value):
    with pytest.raises(ValueError):
        credits_to_micro(value)


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (500 * MICRO, "500.0000"),
        (0, "0.0000"),
        (1, "0.0000"),
        (50, "0.0001"),
        (-1_234_567_890_000, "-1,234,567.8900"),
    ],
)
def test_format_credits(micro, text):
    assert format_credits(micro) == text
