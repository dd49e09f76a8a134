"""The sign-up this browser is waiting to verify, kept in its session: which address it signed
up with, and whether a verification e-mail really went out for it (allauth sends at most one
per address every few minutes and otherwise says nothing). The verify-email page tells the
truth from it, and offers "resend" and "wrong address?".

A sign-up with an address that already has an account makes no account (allauth mails that
address instead, so nobody learns which addresses have one); the session then keeps a hash of
the password typed, so that "wrong address?" works the same for both (an account is made for
the right address with it)."""

import re
import time

from allauth.account.internal.flows.email_verification import (
    send_verification_email_to_address,
)
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import translation

from apps.core.i18n import supported_language

from .models import User

SESSION_KEY = "ocx_pending_signup"
MAIL_KEY = "ocx_verification_mail"
VERIFICATION_MAILS = {
    "account/email/email_confirmation_signup",
    "account/email/email_confirmation",
    "account/email/account_already_exists",
}
MAX_CHANGES = 3  # "wrong address?" per sign-up


UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def cooldown_seconds() -> int:
    """The window of allauth's limit on verification e-mails per address ("1/180s/key")."""
    from allauth.account import app_settings

    rule = app_settings.RATE_LIMITS.get("confirm_email") or ""
    match = re.search(r"/(\d*)([smhd]?)/key", rule)
    if not match:
        return 0
    return int(match.group(1) or 1) * UNITS[match.group(2)]


def pending_signup_start(request, *, email: str, password: str = "", user_id=None) -> None:
    previous = request.session.get(SESSION_KEY) or {}
    entry = {
        "email": (email or "").lower(),
        "user_id": user_id,
        "password": "" if user_id else (make_password(password) if password else ""),
        "at": time.time(),
        "changes": previous.get("changes", 0) if previous.get("email") == email else 0,
    }
    request.session[SESSION_KEY] = entry


def verification_mail_sent(request, *, template_prefix: str, email: str) -> None:
    """Called by the account adapter for every e-mail it sends."""
    session = getattr(request, "session", None) if request is not None else None
    if session is not None and template_prefix in VERIFICATION_MAILS:
        session[MAIL_KEY] = {"email": (email or "").lower(), "at": time.time()}


def pending_signup_status(request) -> dict | None:
    """What the verify-email page shows: the address, whether a mail went out for the latest
    attempt, and the seconds until another one may be sent."""
    pending = request.session.get(SESSION_KEY)
    if not pending:
        return None
    mail = request.session.get(MAIL_KEY) or {}
    same = mail.get("email") == pending["email"]
    sent = same and mail.get("at", 0) >= pending["at"]
    wait = 0
    if same:
        wait = max(0, int(mail["at"] + cooldown_seconds() - time.time()) + 1)
    return {
        "email": pending["email"],
        "sent": sent,
        "wait_seconds": wait,
        "can_change": pending.get("changes", 0) < MAX_CHANGES,
    }


def _address_for(pending: dict) -> EmailAddress:
    if pending.get("user_id"):
        address = EmailAddress.objects.filter(
            user_id=pending["user_id"], email__iexact=pending["email"]
        ).first()
        if address is not None:
            return address
    return EmailAddress(user=None, email=pending["email"])  # allauth's "already exists" mail


def pending_signup_resend(request) -> bool:
    """Send the verification e-mail again (within allauth's limit: one per address every few
    minutes). True when a mail went out."""
    pending = request.session.get(SESSION_KEY)
    if not pending:
        return False
    address = _address_for(pending)
    if address.pk and address.verified:
        return False
    pending["at"] = time.time()
    request.session[SESSION_KEY] = pending
    return send_verification_email_to_address(request, address, signup=True)


def pending_signup_change(request, *, email: str) -> bool:
    """The sign-up's address was mistyped: use ``email`` instead, and send its verification
    e-mail (or, when it belongs to an account already, allauth's "you already have an account"
    e-mail). An account that has verified an address is never changed here."""
    pending = request.session.get(SESSION_KEY)
    if not pending or pending.get("changes", 0) >= MAX_CHANGES:
        return False
    email = email.lower()
    user_id = pending.get("user_id")
    if user_id and EmailAddress.objects.filter(user_id=user_id, verified=True).exists():
        return False
    taken = User.objects.filter(email__iexact=email).exclude(pk=user_id).exists() or (
        EmailAddress.objects.filter(email__iexact=email).exclude(user_id=user_id).exists()
    )
    with transaction.atomic():
        if taken:
            user_id = None
        elif user_id:
            User.objects.filter(pk=user_id).update(email=email)
            EmailAddress.objects.filter(user_id=user_id).delete()
            EmailAddress.objects.create(user_id=user_id, email=email, primary=True, verified=False)
        elif pending.get("password"):
            from apps.credits.services import account_ensure

            user = User.objects.create_user(
                email=email, language=supported_language(translation.get_language())
            )
            user.password = pending["password"]
            user.save(update_fields=["password"])
            account_ensure(user_id=user.pk)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
            user_id = user.pk
    pending.update(email=email, user_id=user_id, changes=pending.get("changes", 0) + 1)
    request.session[SESSION_KEY] = pending
    return pending_signup_resend(request)
