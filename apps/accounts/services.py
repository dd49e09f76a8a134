from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.validators import validate_email
from django.db import transaction
from django.dispatch import Signal

from apps.audit import services as audit
from apps.billing import referrals
from apps.credits.services import account_ensure, credits_grant_signup

from .models import User

# Where the invite link keeps its code until the sign-up (apps.accounts.views.invite).
REFERRAL_SESSION_KEY = referrals.SESSION_KEY

# How long the prompts and answers of API requests may be kept, when the user turns it on.
CONTENT_DAYS = (0, 1, 7, 30)


def user_email_verified(*, user_id: int, email: str) -> None:
    """A user proved they own an e-mail address. The first time, they get the signup grant.

    Safe to call any number of times, concurrently too: the grant is given once per user and
    once per mailbox (a deleted account's address signing up again gets none).
    """
    credits_grant_signup(user_id=user_id, email=email)


def user_social_addresses_verified(*, user_id: int, emails: list[str]) -> None:
    """A provider (GitHub, Google) vouched for these addresses of the user: those the user has
    become verified (the provider proved ownership) and the first one earns the signup grant,
    as a confirmed e-mail would. Addresses the user does not have are ignored."""
    wanted = {(email or "").strip().lower() for email in emails} - {""}
    if not wanted:
        return
    account_ensure(user_id=user_id)
    for address in EmailAddress.objects.filter(user_id=user_id).order_by("-primary", "pk"):
        if address.email.lower() not in wanted:
            continue
        if not address.verified:
            address.verified = True
            address.save(update_fields=["verified"])
        user_email_verified(user_id=user_id, email=address.email)


def user_signed_up_referred(*, user_id: int, code: str) -> bool:
    """A new account signed up through an invite link (its code kept in the session): tie it
    to its inviter, once (self-referrals and unknown codes are ignored). The one place a tie is
    made."""
    return referrals.referral_tie(invitee_id=user_id, code=code) is not None


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
        user_email_verified(user_id=user.pk, email=email)
    return user, created


def _setting_changed(user_id: int, field: str, before, after, *, actor, ip) -> None:
    if before != after:
        audit.record(
            account_id=user_id,
            actor=actor,
            action="settings.changed",
            before={field: before},
            after={field: after},
            ip=ip,
        )


def _locked(user_id: int, field: str):
    return User.objects.select_for_update().filter(pk=user_id).values_list(field, flat=True)[0]


def user_language_set(*, user_id: int, language: str, actor=None, ip=None) -> None:
    """The language of the user's e-mails (one of settings.LANGUAGES; anything else is ignored)."""
    if language not in dict(settings.LANGUAGES):
        return
    with transaction.atomic():
        before = _locked(user_id, "language")
        User.objects.filter(pk=user_id).exclude(language=language).update(language=language)
        _setting_changed(user_id, "language", before, language, actor=actor, ip=ip)


def user_time_zone_set(*, user_id: int, time_zone: str, actor=None, ip=None) -> None:
    """The zone the user's days are counted in: charts, and the windows of keys' spend limits
    (the gateway sees the change on the next request)."""
    from apps.keys.services import api_keys_forget_user

    from .selectors import TIME_ZONES

    if time_zone not in TIME_ZONES:
        raise ValueError(f"Unknown time zone {time_zone!r}")
    with transaction.atomic():
        before = _locked(user_id, "time_zone")
        User.objects.filter(pk=user_id).update(time_zone=time_zone)
        _setting_changed(user_id, "time_zone", before, time_zone, actor=actor, ip=ip)
    api_keys_forget_user(user_id=user_id)


def user_content_storage_set(*, user_id: int, days: int, actor=None, ip=None) -> None:
    """Keep (``days`` > 0) or stop keeping the prompts and answers of the user's API requests.
    Turning it off also deletes what was kept. The gateway sees the change on the next request."""
    from apps.keys.services import api_keys_forget_user
    from apps.usage.services import content_keep_for

    if days not in CONTENT_DAYS:
        raise ValueError(f"days must be one of {CONTENT_DAYS}")
    with transaction.atomic():  # the lock a request's content write takes too
        before = _locked(user_id, "store_content_days")
        User.objects.filter(pk=user_id).update(store_content_days=days)  # locks the row
        content_keep_for(user_id=user_id, days=days)  # shorter keeps shorten what is kept
        _setting_changed(user_id, "store_content_days", before, days, actor=actor, ip=ip)
    api_keys_forget_user(user_id=user_id)


def user_profile_update(*, user_id: int, name: str, actor=None, ip=None) -> None:
    name = (name or "").strip()
    if len(name) > 150:
        raise ValueError("A name has at most 150 characters.")
    with transaction.atomic():
        before = _locked(user_id, "name")
        User.objects.filter(pk=user_id).update(name=name)
        _setting_changed(user_id, "profile_name", before, name, actor=actor, ip=ip)


DELETED_EMAIL_DOMAIN = "deleted.invalid"

# Sent inside user_delete's transaction before anything else: an app above this one (orgs)
# takes the person out of what they belong to, or raises a ServiceError to refuse (the last
# owner of an organization must hand it over first).
user_deleting = Signal()


def user_delete(*, user_id: int, actor=None, ip: str | None = None) -> None:
    """Close a user's account for good.

    Their API keys are revoked (the gateway refuses them from the next request) and every piece
    of personal data goes: e-mail addresses, name, password, two-factor authenticators, sessions.
    The user row stays, anonymised and inactive, because the money records point at it: the
    credit account, its ledger, usage and payments are kept unchanged (balance = sum of the
    ledger still holds). Safe to call twice.
    """
    from allauth.mfa.models import Authenticator

    from apps.billing.services import auto_topup_close_account, billing_forget_user
    from apps.keys.services import api_keys_close_account
    from apps.usage.services import content_forget_user
    from apps.webhooks.services import webhook_endpoints_forget_user

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        user_deleting.send(sender=User, user_id=user.pk)
        if user.is_active or not user.email.endswith(f"@{DELETED_EMAIL_DOMAIN}"):
            # Recorded first, while the actor still has their address (the log keeps it).
            audit.record(account_id=user.pk, actor=actor, action="account.deleted", ip=ip)
        webhook_endpoints_forget_user(user_id=user.pk)  # first: nothing below is sent anywhere
        api_keys_close_account(user_id=user.pk)
        customer_id = auto_topup_close_account(user_id=user.pk)  # the card is never charged again
        addresses = set(EmailAddress.objects.filter(user=user).values_list("email", flat=True))
        billing_forget_user(
            user_id=user.pk, emails=addresses | {user.email}, customer_id=customer_id
        )
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        content_forget_user(user_id=user.pk)  # prompts and answers, if any were kept
        user.email = f"deleted-user-{user.pk}@{DELETED_EMAIL_DOMAIN}"
        user.name = ""
        user.time_zone = "UTC"
        user.store_content_days = 0
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.last_login = None
        user.save()
        user.groups.clear()
        user.user_permissions.clear()
        # Browsers signed in elsewhere are out too (their sessions carry a hash of the old
        # password, which no longer verifies, and the user is inactive), and the session rows
        # that name the user go.
        sessions_forget_user(user_id=user.pk)


def sessions_forget_user(*, user_id: int) -> int:
    """Delete the stored sessions of a user (the database session backend keeps them until
    they expire). Reads every live session once: for account deletion, not a hot path."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    mine = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).only("pk", "session_data")
    for session in live.iterator(chunk_size=2000):
        try:
            data = session.get_decoded()
        except Exception:  # noqa: S112 - a session that does not decode names nobody
            continue
        if str(data.get("_auth_user_id")) == str(user_id):
            mine.append(session.pk)
    return Session.objects.filter(pk__in=mine).delete()[0]
