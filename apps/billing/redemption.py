"""Redemption codes: batches created by staff, codes redeemed once for credits.

A code is ``ocx-redeem-`` + 24 random base62 characters + a 6-character base62 CRC32 checksum of
them (the API keys' scheme: a mistyped code is told apart offline, without a database lookup).
Only an HMAC-SHA256 digest of each code is stored (keyed by the server's key secret), with its
last 4 characters; the plaintext exists once, in the CSV the batch's creation returns.

Redeeming locks the code's row, so any number of simultaneous attempts with one code credit it
once; a batch that allows one code per account says so with a unique key per (batch, account).
Failed attempts are counted per account and per client address (apps.core.ratelimit): past the
limit every attempt is refused unseen, so codes cannot be guessed by trying many."""

import csv
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import ratelimit
from apps.core.errors import ServiceError
from apps.core.money import MICRO, format_credits
from apps.credits.models import LedgerEntry
from apps.credits.services import credits_grant
from apps.keys.tokens import ALPHABET, checksum

from .models import RedemptionBatch, RedemptionCode

PREFIX = "ocx-redeem-"
BODY_LENGTH = 24
CHECKSUM_LENGTH = 6
CODE_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
_ALPHABET_SET = frozenset(ALPHABET)
MAX_CREDITS_EACH = 1_000_000  # credits


class RedemptionRefused(ServiceError):
    """A code that cannot be redeemed; ``reason`` names why (the message is for the user)."""

    code = "redemption_refused"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def code_generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return PREFIX + body + checksum(body)


def code_well_formed(presented: str) -> bool:
    """The prefix, the length, the alphabet and the checksum: an offline check."""
    if len(presented) != CODE_LENGTH or not presented.startswith(PREFIX):
        return False
    rest = presented[len(PREFIX) :]
    if not _ALPHABET_SET.issuperset(rest):
        return False
    return hmac.compare_digest(checksum(rest[:BODY_LENGTH]), rest[BODY_LENGTH:])


def code_digest(code: str) -> str:
    return hmac.new(
        settings.API_KEY_HMAC_SECRET.encode(), f"redeem:{code}".encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class NewBatch:
    """A batch just created, with its codes in plaintext: the only time they exist."""

    batch: RedemptionBatch
    codes: list[str]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code", "credits", "expires_at", "batch", "reseller"])
        expires = self.batch.expires_at.isoformat() if self.batch.expires_at else ""
        credits = format_credits(self.batch.credits_each)
        for code in self.codes:
            writer.writerow([code, credits, expires, self.batch.pk, self.batch.reseller])
        return out.getvalue()


def redemption_batch_create(
    *,
    count: int,
    credits_each: int,
    expires_at: datetime | None,
    one_per_account: bool,
    reseller: str = "",
    note: str = "",
    created_by_id: int | None = None,
    create_token=None,
) -> NewBatch:
    """Create ``count`` codes worth ``credits_each`` µcr each; returns them in plaintext.
    ``create_token`` names the form: a second submission of it creates nothing."""
    if not isinstance(count, int) or not 1 <= count <= settings.REDEEM_BATCH_MAX_CODES:
        raise ServiceError(f"A batch has from 1 to {settings.REDEEM_BATCH_MAX_CODES:,} codes.")
    if not isinstance(credits_each, int) or not 0 < credits_each <= MAX_CREDITS_EACH * MICRO:
        raise ServiceError(f"A code is worth more than 0 and at most {MAX_CREDITS_EACH:,} credits.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry must be in the future.")
    submitted = ServiceError("This form was submitted already: its batch exists.")
    if create_token is not None and RedemptionBatch.objects.filter(create_token=create_token):
        raise submitted
    codes = [code_generate() for _ in range(count)]
    try:
        with transaction.atomic():
            batch = RedemptionBatch.objects.create(
                create_token=create_token,
                count=count,
                credits_each=credits_each,
                expires_at=expires_at,
                one_per_account=one_per_account,
                reseller=reseller.strip(),
                note=note.strip(),
                created_by_id=created_by_id,
            )
            RedemptionCode.objects.bulk_create(
                [
                    RedemptionCode(batch=batch, digest=code_digest(code), last4=code[-4:])
                    for code in codes
                ],
                batch_size=1000,
            )
    except IntegrityError:  # the same form submitted twice at once
        raise submitted from None
    return NewBatch(batch=batch, codes=codes)


def redemption_batch_void(*, batch_id: int, actor_id: int | None) -> int:
    """Stop the batch's unredeemed codes from working (redeemed ones keep their credits).
    Returns the number of codes that can no longer be redeemed."""
    with transaction.atomic():
        batch = RedemptionBatch.objects.select_for_update().get(pk=batch_id)
        if batch.voided_at is None:
            batch.voided_at = timezone.now()
            batch.voided_by_id = actor_id
            batch.save(update_fields=["voided_at", "voided_by"])
        return batch.codes.filter(redeemed_at__isnull=True).count()


def _refuse(reason: str) -> RedemptionRefused:
    messages = {
        "malformed": _(
            "That is not a redemption code: codes start with ocx-redeem- and are 41 characters "
            "long. Check that it was copied completely."
        ),
        "unknown": _("This code does not exist. Check that it was copied completely."),
        "used": _("This code has already been used."),
        "yours": _("You have already redeemed this code."),
        "expired": _("This code has expired."),
        "voided": _("This code has been withdrawn and can no longer be redeemed."),
        "once": _("You have already redeemed a code of this batch: one per account."),
        "rate_limited": _(
            "Too many attempts with codes that did not work. Please try again later."
        ),
    }
    return RedemptionRefused(reason, messages[reason])


def _limits(user_id: int, ip: str | None) -> list[tuple[str, str, int]]:
    limits = [("redeem-account", str(user_id), settings.REDEEM_FAILURES_PER_ACCOUNT)]
    if ip:
        limits.append(("redeem-ip", ip, settings.REDEEM_FAILURES_PER_IP))
    return limits


def redemption_redeem(*, user_id: int, code: str, ip: str | None) -> RedemptionCode:
    """Redeem ``code`` for the user: its batch's credits, once, with a ``redemption`` ledger
    entry naming the batch (a grant of its own kind: not a top-up, not the sign-up grant).
    Raises RedemptionRefused (used, expired, voided, unknown, or too many failed attempts from
    this account or address)."""
    code = (code or "").strip()
    limits = _limits(user_id, ip)
    counted = []
    for scope, ident, limit in limits:  # counted first: simultaneous attempts cannot slip by
        counted.append((scope, ident))
        if not ratelimit.attempt(scope, ident, limit=limit, window=settings.REDEEM_WINDOW_SECONDS):
            for done in counted[:-1]:
                ratelimit.give_back(*done)  # not tried: only the refusing limit keeps it
            raise _refuse("rate_limited")
    try:
        redeemed = _redeem(user_id=user_id, code=code)
    except RedemptionRefused:
        raise  # a failure: it stays counted
    except Exception:
        for done in counted:
            ratelimit.give_back(*done)
        raise
    for done in counted:
        ratelimit.give_back(*done)
    return redeemed


def _redeem(*, user_id: int, code: str) -> RedemptionCode:
    if not code_well_formed(code):
        raise _refuse("malformed")
    with transaction.atomic():
        found = (
            RedemptionCode.objects.select_for_update(of=("self",))
            .select_related("batch")
            .filter(digest=code_digest(code))
            .first()
        )
        if found is None:
            raise _refuse("unknown")
        batch = found.batch
        if found.redeemed_at is not None:
            raise _refuse("yours" if found.redeemed_by_id == user_id else "used")
        if batch.voided_at is not None:
            raise _refuse("voided")
        if batch.expires_at is not None and batch.expires_at <= timezone.now():
            raise _refuse("expired")
        found.redeemed_by_id = user_id
        found.redeemed_at = timezone.now()
        found.once_key = f"{batch.pk}:{user_id}" if batch.one_per_account else None
        try:
            with transaction.atomic():
                found.save(update_fields=["redeemed_by", "redeemed_at", "once_key"])
        except IntegrityError:
            raise _refuse("once") from None
        credits_grant(
            user_id=user_id,
            amount=batch.credits_each,
            kind=LedgerEntry.Kind.REDEMPTION,
            reference=f"redeem:{found.pk}",
            memo=f"Redemption code …{found.last4}, {batch.label}",
        )
        return found
