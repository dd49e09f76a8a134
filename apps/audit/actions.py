"""What the log's codes and fields mean in words, and how their values read: the page and the
CSV show these (the stored event keeps the code and the raw values)."""

from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.templatetags.formats import credits, when

ACTIONS = {
    "key.created": gettext_lazy("API key created"),
    "key.rotated": gettext_lazy("API key rotated"),
    "key.revoked": gettext_lazy("API key revoked"),
    "key.limits_changed": gettext_lazy("API key settings changed"),
    "budget.changed": gettext_lazy("Monthly budget changed"),
    "card.saved": gettext_lazy("Card saved"),
    "card.removed": gettext_lazy("Card removed"),
    "auto_topup.changed": gettext_lazy("Auto top-up changed"),
    "topup.succeeded": gettext_lazy("Top-up credited"),
    "refund.issued": gettext_lazy("Refund taken back"),
    "credits.adjusted": gettext_lazy("Credits granted or deducted by staff"),
    "settings.changed": gettext_lazy("Settings changed"),
    "account.suspended": gettext_lazy("API access suspended"),
    "account.resumed": gettext_lazy("API access resumed"),
    "account.deactivated": gettext_lazy("Account deactivated"),
    "account.reactivated": gettext_lazy("Account reactivated"),
    "account.deleted": gettext_lazy("Account deleted"),
    "member.invited": gettext_lazy("Member invited"),
    "member.role_changed": gettext_lazy("Member's role changed"),
    "member.removed": gettext_lazy("Member removed"),
    "member.left": gettext_lazy("Member left"),
    "member.joined": gettext_lazy("Member joined"),
    "member.limits_changed": gettext_lazy("Member's cap or models changed"),
    "invitation.revoked": gettext_lazy("Invitation withdrawn"),
    "ownership.transferred": gettext_lazy("Ownership transferred"),
    "organization.created": gettext_lazy("Organization created"),
    "organization.changed": gettext_lazy("Organization settings changed"),
    "organization.deleted": gettext_lazy("Organization deleted"),
}

FIELDS = {
    "monthly_limit": gettext_lazy("Monthly cap"),
    "keys_revoked": gettext_lazy("Keys revoked"),
    "billing_name": gettext_lazy("Billing name"),
    "billing_address": gettext_lazy("Billing address"),
    "tax_id": gettext_lazy("Tax ID"),
    "name": gettext_lazy("Name"),
    "expires_at": gettext_lazy("Expires"),
    "credit_limit": gettext_lazy("Credit limit"),
    "rpm_limit": gettext_lazy("Requests per minute"),
    "tpm_limit": gettext_lazy("Tokens per minute"),
    "spend_limit": gettext_lazy("Spend limit"),
    "spend_window": gettext_lazy("Spend window"),
    "allowed_models": gettext_lazy("Allowed models"),
    "allowed_ips": gettext_lazy("Allowed IP addresses"),
    "successor": gettext_lazy("Successor"),
    "rotated_from": gettext_lazy("Rotated from"),
    "monthly_budget": gettext_lazy("Monthly budget"),
    "low_balance_threshold": gettext_lazy("Low-balance warning"),
    "enabled": gettext_lazy("On"),
    "threshold": gettext_lazy("Threshold"),
    "dollars": gettext_lazy("Amount (US$)"),
    "card": gettext_lazy("Card"),
    "amount": gettext_lazy("Amount"),
    "credits": gettext_lazy("Credits"),
    "reason": gettext_lazy("Reason"),
    "suspended": gettext_lazy("Suspended"),
    "is_active": gettext_lazy("Active"),
    "time_zone": gettext_lazy("Time zone"),
    "language": gettext_lazy("Language"),
    "profile_name": gettext_lazy("Profile name"),
    "store_content_days": gettext_lazy("Keep prompts and answers (days)"),
    "email": gettext_lazy("E-mail"),
    "role": gettext_lazy("Role"),
}

# Values in µcr, shown as credits.
MONEY = {"credit_limit", "spend_limit", "monthly_budget", "low_balance_threshold", "threshold"}
MONEY |= {"credits"}


def action_label(code: str) -> str:
    return str(ACTIONS.get(code, code))


def field_label(field: str) -> str:
    return str(FIELDS.get(field, field))


def value_text(field: str, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field in MONEY and isinstance(value, int):
        return credits(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and field.endswith("_at"):
        try:
            return when(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def changes(event) -> list[tuple[str, str, str | None]]:
    """(field, before, after) for each field the event names, in words; ``before`` is None
    where the event has only the new values (something created)."""
    before, after = event.before or {}, event.after or {}
    rows = []
    for field in [*before, *(f for f in after if f not in before)]:
        old = value_text(field, before.get(field)) if field in before else None
        new = value_text(field, after.get(field))
        rows.append((field_label(field), old, new))
    return rows


def changes_text(event) -> str:
    return "; ".join(
        f"{label}: {new}" if old is None else f"{label}: {old} → {new}"
        for label, old, new in changes(event)
    )
