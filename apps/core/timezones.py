"""Time zones a user may choose, and the one a user's days are counted in (any app may ask;
the user's choice is stored on ``accounts.User.time_zone``)."""

from zoneinfo import ZoneInfo, available_timezones

TIME_ZONES = frozenset(available_timezones() - {"localtime"})


def user_time_zone(user) -> ZoneInfo:
    """The user's time zone for day boundaries (UTC when unset or unknown)."""
    return ZoneInfo(user.time_zone if user.time_zone in TIME_ZONES else "UTC")
