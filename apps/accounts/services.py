from allauth.account.models import EmailAddress
from django.core.validators import validate_email
from django.db import transaction

from apps.credits.services import account_ensure, credits_grant_signup

from .models import User


def user_email_verified(*, user_id: int) -> None:
    """A user proved they own an e-mail address. The first time, they get the signup grant.

    Safe to call any number of times, concurrently too: the grant is keyed by the user.
    """
    credits_grant_signup(user_id=user_id)


def user_get_or_create_verified(*, email: str) -> tuple[User, bool]:
    """The user with this e-mail address, created if needed, with the address marked verified.

    For operators (``createapikey``): the usual first-verification grant applies exactly once.
    """
    email = User.objects.normalize_email((email or "").strip()).lower()
    validate_email(email)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        created = user is None
        if created:
            user = User.objects.create_user(email=email, password=None)
        account_ensure(user_id=user.pk)
        address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
        if address is None:
            EmailAddress.objects.create(
                user=user,
                email=email,
                verified=True,
                primary=not EmailAddress.objects.filter(user=user, primary=True).exists(),
            )
        elif not address.verified:
            address.verified = True
            address.save(update_fields=["verified"])
        user_email_verified(user_id=user.pk)
    return user, created


def user_time_zone_set(*, user_id: int, time_zone: str) -> None:
    from .selectors import TIME_ZONES

    if time_zone not in TIME_ZONES:
        raise ValueError(f"Unknown time zone {time_zone!r}")
    User.objects.filter(pk=user_id).update(time_zone=time_zone)
