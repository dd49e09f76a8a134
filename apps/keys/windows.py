"""The windows a key's spend limit counts in: a day, a week (from Monday) or a calendar month,
each starting at midnight in the owner's time zone.

The gateway asks for the current windows' starts on every request of a limited key, so they are
computed once per time zone and kept until the next local midnight (a few microseconds, then a
dictionary lookup). The hold passes all three starts; the key's row says which one it counts in,
so a key whose window changed a moment ago is never counted against the wrong one.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apps.core.timezones import TIME_ZONES

WINDOWS = ("day", "week", "month")


@dataclass(frozen=True)
class Starts:
    day: datetime
    week: datetime
    month: datetime
    until: float  # unix time of the next local midnight: the starts hold until then

    def of(self, window: str) -> datetime:
        return getattr(self, window)


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name if name in TIME_ZONES else "UTC")


def _midnight(day, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def compute(tz_name: str | None, now: datetime) -> Starts:
    tz = zone(tz_name)
    today = now.astimezone(tz).date()
    return Starts(
        day=_midnight(today, tz),
        week=_midnight(today - timedelta(days=today.weekday()), tz),
        month=_midnight(today.replace(day=1), tz),
        until=_midnight(today + timedelta(days=1), tz).timestamp(),
    )


_memo: dict[str, Starts] = {}


def starts(tz_name: str | None, now: datetime) -> Starts:
    """The current day's, week's and month's starts in ``tz_name`` (memoised to midnight)."""
    found = _memo.get(tz_name or "")
    stamp = now.timestamp()
    if found is None or stamp >= found.until or stamp < found.day.timestamp():
        found = compute(tz_name, now)
        if len(_memo) > 1000:
            _memo.clear()
        _memo[tz_name or ""] = found
    return found


def next_start(window: str, tz_name: str | None, now: datetime) -> datetime:
    """When the window ``now`` is in ends (the next one starts), in the owner's time zone."""
    tz = zone(tz_name)
    today = now.astimezone(tz).date()
    if window == "day":
        day = today + timedelta(days=1)
    elif window == "week":
        day = today + timedelta(days=7 - today.weekday())
    else:
        day = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(day, time.min, tzinfo=tz)
