from allauth.account.signals import email_confirmed, user_signed_up
from django.dispatch import receiver

from .services import REFERRAL_SESSION_KEY, user_email_verified, user_signed_up_referred


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
