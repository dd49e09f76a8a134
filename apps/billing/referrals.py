"""Referrals: each user's invite code, the tie of a new account to its inviter (once, at sign-up),
and the inviter's commission on the invitee's paid top-ups.

The commission is ``REFERRAL_PERCENT`` of the credits a paid top-up (Checkout or auto top-up)
bought, for ``REFERRAL_MONTHS`` after the invitee signed up, at most
``REFERRAL_MONTHLY_CAP_CREDITS`` per inviter and UTC month. It is posted in the transaction that
marks the payment paid, once per payment (ledger reference ``referral:<payment>``), and taken back
in proportion when that payment is refunded or disputed (given back if the dispute is won).
Sign-up grants and redemption codes are not payments: never commissioned. A suspended referrer
earns nothing new; what was posted stays."""

import datetime
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits.models import LedgerEntry, month_of
from apps.credits.services import address_fingerprint, credits_grant, credits_take_back

from .models import Payment, Referral, ReferralCommission, Referrer

Kind = LedgerEntry.Kind
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)
CODE_LENGTH = 10
SESSION_KEY = "referral_code"


def add_months(moment: datetime.datetime, months: int) -> datetime.datetime:
    """``moment`` ``months`` calendar months later (the 31st becomes the month's last day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def referrer_ensure(*, user_id: int) -> Referrer:
    """The user's invite code, created the first time it is asked for."""
    referrer = Referrer.objects.filter(user_id=user_id).first()
    if referrer is not None:
        return referrer
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                return Referrer.objects.create(user_id=user_id, code=code)
        except IntegrityError:  # created concurrently, or (rarely) the code is taken
            referrer = Referrer.objects.filter(user_id=user_id).first()
            if referrer is not None:
                return referrer
    raise RuntimeError("could not pick a free invite code")


def code_normalize(code: str | None) -> str:
    code = (code or "").strip().lower()
    return code if 0 < len(code) <= 32 and code.isalnum() else ""


def referral_tie(*, invitee_id: int, code: str | None) -> Referral | None:
    """Tie a new account to the inviter whose code it signed up through. Once: a second tie
    (another code, the same code again) changes nothing. Refused (None) for an unknown code and
    for a self-referral (the inviter's own account, or the same mailbox)."""
    from django.contrib.auth import get_user_model

    code = code_normalize(code)
    if not code:
        return None
    referrer = Referrer.objects.select_related("user").filter(code=code).first()
    if referrer is None or referrer.user_id == invitee_id or not referrer.user.is_active:
        return None  # unknown, the inviter's own account, or a closed account's link
    invitee = get_user_model().objects.filter(pk=invitee_id).first()
    if invitee is None:
        return None
    if address_fingerprint(invitee.email) == address_fingerprint(referrer.user.email):
        return None  # the inviter's own mailbox under another spelling
    existing = Referral.objects.filter(invitee_id=invitee_id).first()
    if existing is not None:
        return None
    try:
        with transaction.atomic():
            return Referral.objects.create(referrer=referrer, invitee_id=invitee_id)
    except IntegrityError:  # tied concurrently: the first tie stays
        return None


def referrer_suspend(*, referrer_id: int, suspended: bool) -> None:
    """Stop (or resume) a referrer's new commissions; those posted stay."""
    Referrer.objects.filter(pk=referrer_id).update(
        suspended=suspended, suspended_at=timezone.now() if suspended else None
    )


def _month_posted(referrer_id: int, month: datetime.date) -> int:
    posted = ReferralCommission.objects.filter(
        referral__referrer_id=referrer_id, month=month
    ).aggregate(total=Sum("amount"))["total"]
    return posted or 0


def referral_commission_post(*, payment: Payment) -> ReferralCommission | None:
    """The inviter's commission on a payment just credited: once per payment (call inside the
    transaction that marks it paid). Nothing when the payer was not invited, the period is
    over, the referrer is suspended (or closed their account), or the month's cap is reached."""
    referral = Referral.objects.filter(invitee_id=payment.user_id).first()
    if referral is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        # One commission at a time per referrer: the monthly cap holds under concurrency.
        referrer = (
            Referrer.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=referral.referrer_id)
        )
        if referrer.suspended or not referrer.user.is_active:
            return None  # suspended by staff, or the inviter closed their account
        if now >= add_months(referral.created_at, settings.REFERRAL_MONTHS):
            return None
        if ReferralCommission.objects.filter(payment=payment).exists():
            return None
        month = month_of(now)
        room = settings.REFERRAL_MONTHLY_CAP_CREDITS * MICRO - _month_posted(referrer.pk, month)
        amount = min(payment.credits * settings.REFERRAL_PERCENT // 100, room)
        if amount <= 0:
            return None
        entry = credits_grant(
            user_id=referrer.user_id,
            amount=amount,
            kind=Kind.REFERRAL,
            reference=f"referral:{payment.pk}",
            memo=f"Referral commission on a top-up of {payment.amount_display}",
        )
        if entry is None:
            return None
        return ReferralCommission.objects.create(
            referral=referral, payment=payment, amount=amount, month=month
        )


def referral_commission_take_back(*, payment: Payment, cents: int, reference: str) -> int:
    """Take back the part of a payment's commission that ``cents`` of it refunded or disputed
    was worth (once per ``reference``; never more than is left). Returns the µcr taken back."""
    commission = (
        ReferralCommission.objects.select_for_update(of=("self",))
        .select_related("referral__referrer")
        .filter(payment=payment)
        .first()
    )
    if commission is None or cents <= 0:
        return 0
    share = commission.amount * cents // payment.amount_cents
    amount = min(share, commission.amount - commission.taken_back)
    if amount <= 0:
        return 0
    entry = credits_take_back(
        user_id=commission.referral.referrer.user_id,
        amount=amount,
        kind=Kind.REFERRAL,
        reference=f"referral-back:{reference}",
        memo=f"Referral commission taken back ({payment.amount_display} top-up)",
    )
    if entry is None:
        return 0
    ReferralCommission.objects.filter(pk=commission.pk).update(
        taken_back=commission.taken_back + amount
    )
    return amount


def referral_commission_restore(*, payment: Payment, reference: str) -> int:
    """Give back what the take-back ``reference`` took (a dispute won). Once."""
    taken = LedgerEntry.objects.filter(reference=f"referral-back:{reference}").first()
    commission = ReferralCommission.objects.select_for_update().filter(payment=payment).first()
    if taken is None or commission is None:
        return 0
    entry = credits_grant(
        user_id=commission.referral.referrer.user_id,
        amount=-taken.amount,
        kind=Kind.REFERRAL,
        reference=f"referral-restored:{reference}",
        memo="Referral commission restored (dispute won)",
    )
    if entry is None:
        return 0
    ReferralCommission.objects.filter(pk=commission.pk).update(
        taken_back=commission.taken_back + taken.amount
    )
    return -taken.amount


def email_mask(email: str) -> str:
    """``a***@e***.com``: enough for the inviter to recognise, not to read the address."""
    local, _, domain = (email or "").partition("@")
    name, dot, tld = domain.rpartition(".")
    if not name:
        name, dot, tld = domain, "", ""
    return f"{local[:1]}***@{name[:1]}***{dot}{tld}"


def referral_summary(*, user_id: int) -> dict:
    """What the billing page shows an inviter: the invite code, the invitees (masked), each
    one's net commission, and the total earned (net of take-backs)."""
    referrer = referrer_ensure(user_id=user_id)
    referrals = (
        Referral.objects.filter(referrer=referrer)
        .select_related("invitee")
        .annotate(posted=Sum("commissions__amount"), back=Sum("commissions__taken_back"))
    )
    invitees = [
        {
            "email": email_mask(r.invitee.email),
            "joined": r.created_at,
            "until": add_months(r.created_at, settings.REFERRAL_MONTHS),
            "earned": (r.posted or 0) - (r.back or 0),
        }
        for r in referrals[:100]
    ]
    earned = LedgerEntry.objects.filter(account__user_id=user_id, kind=Kind.REFERRAL).aggregate(
        total=Sum("amount")
    )["total"]
    return {
        "referrer": referrer,
        "invitees": invitees,
        "count": referrals.count() if len(invitees) >= 100 else len(invitees),
        "earned": earned or 0,
        "percent": settings.REFERRAL_PERCENT,
        "months": settings.REFERRAL_MONTHS,
        "cap": settings.REFERRAL_MONTHLY_CAP_CREDITS * MICRO,
    }
