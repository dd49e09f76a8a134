from allauth.account.signals import email_confirmed, user_signed_up
from allauth.socialaccount.signals import social_account_added
from django.dispatch import receiver

from .services import (
    REFERRAL_SESSION_KEY,
    user_email_verified,
    user_signed_up_referred,
    user_social_addresses_verified,
)


@receiver(email_confirmed, dispatch_uid="accounts.email_confirmed.signup_grant")
def on_email_confirmed(sender, request, email_address, **kwargs):
    user_email_verified(user_id=email_address.user_id, email=email_address.email)


@receiver(user_signed_up, dispatch_uid="accounts.user_signed_up.referral")
def on_user_signed_up(sender, request, user, **kwargs):
    """Every sign-up (e-mail or social) ends here: the invite code the browser came with, if
    any, ties the new account to its inviter."""
    session = getattr(request, "session", None)
    code = session.pop(REFERRAL_SESSION_KEY, None) if session is not None else None
    if code:
        user_signed_up_referred(user_id=user.pk, code=code)


@receiver(social_account_added, dispatch_uid="accounts.social_account_added.verify")
def on_social_account_added(sender, request, sociallogin, **kwargs):
    """A provider was linked to an existing account (by its verified e-mail address, or from
    the account's page): the addresses the provider verified are verified here too. allauth
    has already taken the password off an account whose matching address was unverified (so
    whoever signed up with someone else's address is locked out), before this runs."""
    from .adapters import verified_emails

    user_social_addresses_verified(user_id=sociallogin.user.pk, emails=verified_emails(sociallogin))
