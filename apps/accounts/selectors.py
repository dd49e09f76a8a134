from zoneinfo import ZoneInfo, available_timezones

TIME_ZONES = frozenset(available_timezones() - {"localtime"})


def user_time_zone(user) -> ZoneInfo:
    """The user's time zone for day boundaries (UTC when unset or unknown)."""
    return ZoneInfo(user.time_zone if user.time_zone in TIME_ZONES else "UTC")


def sign_in_methods(*, user_id: int) -> dict:
    """The user's e-mail addresses (primary first) and kinds of second factor, for /account/."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    return {
        "emails": list(EmailAddress.objects.filter(user_id=user_id).order_by("-primary", "email")),
        "mfa_types": sorted(
            Authenticator.objects.filter(user_id=user_id).values_list("type", flat=True).distinct()
        ),
    }
