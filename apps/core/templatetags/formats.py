"""The site's one formatting rule for money, numbers and times, used by every template:
``{% load formats %}`` then ``|credits``, ``|usd``, ``|tokens``, ``|day``, ``|when``, ``|iso`` and
``{% time_zone %}``. Numbers are grouped by the active language's rule (en and zh: ``1,234.5``);
times are shown in the active time zone (the account's, see ``AccountTimeZoneMiddleware``)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import formats, timezone
from django.utils.dateformat import format as date_format

register = template.Library()

DATETIME = "Y-m-d H:i"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _grouped(value, places: int) -> str:
    """The active language's decimal separator, thousands grouped by three (Django's zh-hans
    formats do not group at all; the site groups in both languages: ``128,000``). Python's
    own grouping: what ``django.utils.numberformat`` gives for these (it cuts extra decimals
    where this rounds; callers pass values already rounded to ``places``), at a tenth of the
    cost, which a page of 50 log rows with 8 numbers each notices."""
    if value == 0:
        value = abs(value)  # never "-0.00"
    text = f"{value:,.{places}f}" if places else f"{int(value):,}"
    separator = formats.get_format("DECIMAL_SEPARATOR")
    return text if separator == "." else text.replace(".", separator)


def _number(value: Decimal, *, least: int, most: int) -> str:
    """``value`` rounded to ``most`` decimals, trailing zeros dropped down to ``least``."""
    value = value.quantize(Decimal(1).scaleb(-most), rounding=ROUND_HALF_UP)
    text = f"{value:f}"
    places = most
    while places > least and text.endswith("0"):
        text, places = text[:-1], places - 1
    text = text.rstrip(".")
    return _grouped(Decimal(text), places)


@register.filter
def credits(micro):
    """µcr as credits: grouped, 2 to 4 decimals (``500.00``, ``0.0123``, ``1,234.50``). In
    whole numbers of ten-thousandths (a page of log rows formats some 400 amounts)."""
    if micro is None or micro == "":
        return ""
    micro = int(micro)
    tenths = (abs(micro) + 50) // 100  # ten-thousandths of a credit, half up
    whole, fraction = divmod(tenths, 10_000)
    decimals = f"{fraction:04d}"
    if decimals[3] == "0":
        decimals = decimals[:2] if decimals[2] == "0" else decimals[:3]
    sign = "-" if micro < 0 and tenths else ""
    separator = formats.get_format("DECIMAL_SEPARATOR")
    return f"{sign}{whole:,}{separator}{decimals}"


@register.filter
def usd(amount):
    """US dollars (a number of dollars), cents always shown, exact to 6 decimals (prices per
    1M tokens can be fractions of a cent): ``$1.10``, ``$0.01875``, ``$1,000.00``."""
    value = _decimal(amount)
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return f"{sign}${_number(abs(value), least=2, most=6)}"


@register.filter
def tokens(count):
    """A token count or context length, grouped: ``128,000``."""
    if type(count) is int:
        return f"{count:,}"
    value = _decimal(count)
    if value is None:
        return ""
    return _grouped(int(value), 0)


def _local(value):
    if value is None or value == "":
        return None
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def when(value):
    """A moment, in the active time zone: ``2026-12-05 16:41`` (``DATETIME``, written out:
    Django's ``date`` filter parses its format on every call)."""
    value = _local(value)
    if value is None:
        return ""
    if not hasattr(value, "hour"):
        return date_format(value, DATETIME)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"


@register.filter
def day(value):
    """A date (or a moment's date in the active time zone): ``2026-12-05``."""
    value = _local(value)
    return "" if value is None else f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


@register.filter
def iso(value):
    """A moment for ``<time datetime>``, in the active time zone: what ``date:'c'`` gives
    (``2026-12-05T16:41:07.123456+08:00``) without parsing a format on every row."""
    value = _local(value)
    return "" if value is None else value.isoformat()


@register.simple_tag
def time_zone():
    """The name of the time zone times are shown in (``Asia/Shanghai``)."""
    return timezone.get_current_timezone_name()
