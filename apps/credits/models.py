"""Money. Amounts are integers in micro-credits (µcr): 1 credit = 1,000,000 µcr = US$0.01.

``Account.balance`` is a cache of the sum of the account's ``LedgerEntry`` rows, updated in the
same transaction as each entry; ``Account.held`` is the sum of its active ``Hold`` rows.
"""

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def month_of(moment: datetime.datetime) -> datetime.date:
    """The first day of the UTC month ``moment`` is in: the month a budget counts."""
    moment = moment.astimezone(datetime.UTC)
    return datetime.date(moment.year, moment.month, 1)


class Account(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0, help_text="µcr; equals the sum of the ledger")
    held = models.BigIntegerField(default=0, help_text="µcr reserved by in-flight requests")
    suspended = models.BooleanField(
        default=False, help_text="refuse API requests (a payment dispute is open)"
    )
    # The monthly budget (null: none). ``month_spent`` is what was charged in the UTC month
    # starting ``budget_month``; a hold needs month_spent (this month's) + held + amount to fit.
    monthly_budget = models.BigIntegerField(
        null=True, blank=True, help_text="µcr a UTC month may cost; empty = no limit"
    )
    budget_month = models.DateField(
        null=True, blank=True, help_text="the first day of the month month_spent counts"
    )
    month_spent = models.BigIntegerField(default=0, help_text="µcr charged in budget_month")
    budget_reached_month = models.DateField(
        null=True,
        blank=True,
        help_text="the month a request was last refused for the budget (its 100 % alert is due)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(held__gte=0), name="credits_held_nonneg")
        ]

    def __str__(self):
        return f"Account of {self.user}"

    @property
    def available(self) -> int:
        return self.balance - self.held

    def spent_in(self, month) -> int:
        """µcr charged in ``month`` (its first day), as far as settlements counted it."""
        return self.month_spent if self.budget_month == month else 0


class SpendCap(models.Model):
    """A spending cap shared by a group of keys of one account, and the models they may use.

    An organization gives each member one (every key the member creates in the organization
    points at it), so a member's monthly cap and model allowlist hold across all their keys.
    Like the account's budget it counts a UTC month: ``month_spent`` is what requests through
    its keys were charged in the month starting ``month``; ``held`` is what requests in flight
    reserved. A hold needs month_spent (this month's) + held + amount ≤ ``monthly_limit``, taken
    in the same transaction as the account's hold (lock order: account, cap, key).
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="spend_caps")
    monthly_limit = models.BigIntegerField(
        null=True, blank=True, help_text="µcr the keys may spend per UTC month; empty = no cap"
    )
    month = models.DateField(
        null=True, blank=True, help_text="the first day of the month month_spent counts"
    )
    month_spent = models.BigIntegerField(default=0, help_text="µcr charged in month")
    held = models.BigIntegerField(default=0, help_text="µcr reserved by requests in flight")
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="public model ids the keys may use; empty = all"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(held__gte=0), name="credits_cap_held_nonneg"),
            models.CheckConstraint(
                condition=models.Q(monthly_limit__isnull=True) | models.Q(monthly_limit__gte=0),
                name="credits_cap_limit_nonneg",
            ),
        ]

    def __str__(self):
        return f"Spend cap {self.pk} of {self.account}"

    def spent_in(self, month) -> int:
        return self.month_spent if self.month == month else 0


class LedgerEntry(models.Model):
    """An append-only record of one change to an account's balance."""

    class Kind(models.TextChoices):
        SIGNUP_GRANT = "signup_grant", _("Signup grant")
        TOPUP = "topup", _("Top-up")
        USAGE = "usage", _("Usage")
        REFUND = "refund", _("Refund")
        DISPUTE = "dispute", _("Dispute")
        ADJUSTMENT = "adjustment", _("Adjustment")
        REDEMPTION = "redemption", _("Redemption code")
        REFERRAL = "referral", _("Referral commission")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(help_text="µcr, signed")
    balance_after = models.BigIntegerField(help_text="µcr, the account's balance after this")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=200, unique=True)
    memo = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member behind an adjustment",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-created_at", "-id"])]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} {self.amount} µcr ({self.reference})"


class Hold(models.Model):
    """Credits reserved for one in-flight request, until it is settled or released."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SETTLED = "settled", _("Settled")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Expired")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    reference = models.CharField(max_length=200, unique=True)
    amount = models.BigIntegerField(help_text="µcr reserved")
    charged = models.BigIntegerField(default=0, help_text="µcr charged at settlement")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Set when the hold also reserves part of an API key's credit limit (apps.keys owns that
    # reservation; credits only carries the tag so the request's settlement can find it).
    api_key_id = models.BigIntegerField(null=True, blank=True)
    # Set when the hold also reserves part of a SpendCap (a member's monthly cap), so every
    # path that closes the hold gives the cap its reservation back and counts the charge.
    spend_cap_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credits_hold_positive"),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="active"),
                name="credits_hold_active_exp",
            )
        ]

    def __str__(self):
        return f"Hold {self.reference} {self.amount} µcr ({self.status})"
