"""Ledger memos are written once, in English, by the system; pages show them in the reader's
language. Fixed memos are looked up; memos with an amount or a code in them are matched by
their pattern and the captured parts put into the translation."""

import re

from django.utils.translation import gettext_lazy as _

FIXED = {
    "Welcome credits": _("Welcome credits"),
    "Payment disputed": _("Payment disputed"),
    "Dispute won": _("Dispute won"),
    "Referral commission restored (dispute won)": _("Referral commission restored (dispute won)"),
}
PATTERNS = [
    (re.compile(r"^Top-up (?P<amount>.+)$"), _("Top-up %(amount)s")),
    (re.compile(r"^Auto top-up (?P<amount>.+)$"), _("Auto top-up %(amount)s")),
    (re.compile(r"^Refund of (?P<amount>.+)$"), _("Refund of %(amount)s")),
    (
        re.compile(r"^Referral commission on a top-up of (?P<amount>.+)$"),
        _("Referral commission on a top-up of %(amount)s"),
    ),
    (
        re.compile(r"^Referral commission taken back \((?P<amount>.+) top-up\)$"),
        _("Referral commission taken back (%(amount)s top-up)"),
    ),
    (
        re.compile(r"^Redemption code …(?P<last4>\w+), (?P<label>.*)$"),
        _("Redemption code …%(last4)s, %(label)s"),
    ),
]


def memo_display(memo: str) -> str:
    """The memo in the active language (others, e.g. a staff member's reason, as they are)."""
    memo = memo or ""
    if memo in FIXED:
        return str(FIXED[memo])
    for pattern, template in PATTERNS:
        match = pattern.match(memo)
        if match:
            return str(template) % match.groupdict()
    return memo
