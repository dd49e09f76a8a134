"""Issue #24, 12: one formatting rule for credits, dollars, token counts and times, localised
(en, zh-hans), used by the templates."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from apps.core.templatetags.formats import credits, day, tokens, usd, when


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (500_000_000, "500.00"),
        (1_234_567_890_000, "1,234,567.89"),
        (12_300, "0.0123"),
        (1_500_000, "1.50"),
        (-250_000, "-0.25"),
        (0, "0.00"),
        (1, "0.00"),
        (None, ""),
    ],
)
def test_credits(micro, text):
    assert credits(micro) == text


@pytest.mark.parametrize(
    ("dollars", "text"),
    [
        (Decimal("1.1"), "$1.10"),
        (Decimal("0.01875"), "$0.01875"),
        (Decimal("3"), "$3.00"),
        (Decimal("1000"), "$1,000.00"),
        (Decimal("0.005"), "$0.005"),
        (None, ""),
    ],
)
def test_usd(dollars, text):
    assert usd(dollars) == text


def test_tokens_and_the_same_in_chinese():
    assert tokens(128000) == "128,000"
    with translation.override("zh-hans"):
        assert tokens(128000) == "128,000" and credits(1_234_500_000) == "1,234.50"
        assert usd(Decimal("1.1")) == "$1.10"


def test_times_in_the_active_zone():
    moment = datetime.datetime(2026, 1, 15, 20, 30, tzinfo=datetime.UTC)
    assert when(moment) == "2026-01-15 20:30" and day(moment) == "2026-01-15"
    with timezone.override(ZoneInfo("Asia/Shanghai")):
        assert when(moment) == "2026-01-16 04:30" and day(moment) == "2026-01-16"
        out = Template("{% load formats %}{% time_zone %}").render(Context())
        assert out == "Asia/Shanghai"
    assert day(datetime.date(2026, 2, 3)) == "2026-02-03"


def test_the_old_library_name_has_the_same_filters():
    out = Template("{% load money %}{{ n|credits }} {{ d|usd }} {{ t|tokens }}").render(
        Context({"n": 2_000_000, "d": Decimal("0.5"), "t": 2048})
    )
    assert out == "2.00 $0.50 2,048"


@pytest.mark.django_db
def test_pages_use_the_rule_in_both_languages(owner_client, owner):
    from django.urls import reverse

    from apps.credits.services import credits_grant_signup

    credits_grant_signup(user_id=owner.pk)
    for language, footer in (("en", "Times are shown in UTC"), ("zh-hans", "时间按 UTC 显示")):
        body = owner_client.get(
            reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()
        assert 'data-testid="balance">500.00 ' in body and "500.0000" not in body
        assert footer in body


@pytest.mark.parametrize(
    "value",
    [Decimal("-0.0000"), Decimal("1234567.8912"), Decimal("-1234.5"), Decimal("0.01875"), 0, 7],
)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_grouping_is_djangos_rule_with_thousands(value, language):
    """The fast grouping gives what Django's numberformat gives with forced grouping by three."""
    from django.utils import formats, numberformat

    from apps.core.templatetags.formats import _grouped

    places = max(-Decimal(value).as_tuple().exponent, 0)
    with translation.override(language):
        expected = numberformat.format(
            value,
            formats.get_format("DECIMAL_SEPARATOR"),
            places,
            grouping=3,
            thousand_sep=",",
            force_grouping=True,
        )
        assert _grouped(value, places) == expected


@pytest.mark.parametrize(
    "micro",
    [
        0,
        1,
        49,
        50,
        99,
        149,
        150,
        5_000,
        12_300,
        123_456,
        1_000_000,
        1_500_000,
        999_999_950,
        1_234_567_890_000,
        -1,
        -50,
        -250_000,
        -1_234_567,
        10**17 + 12_345,
    ],
)
def test_credits_is_the_decimal_rule(micro):
    """The integer arithmetic gives what rounding the Decimal half up to 4 places, then
    dropping zeros down to 2, gives (the rule's definition, kept here as the reference)."""
    from apps.core.money import micro_to_credits
    from apps.core.templatetags.formats import _number

    assert credits(micro) == _number(micro_to_credits(micro), least=2, most=4)
