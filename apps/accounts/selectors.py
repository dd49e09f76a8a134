# The time zones live in apps.core (usage counts days in them too); accounts reads them here.
from apps.core.timezones import TIME_ZONES as TIME_ZONES
from apps.core.timezones import user_time_zone as user_time_zone


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
