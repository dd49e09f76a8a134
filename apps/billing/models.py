from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.money import MICRO

from .currencies import money

# How a payment method is named on the pages (translated).
METHOD_LABELS = {"card": _("card"), "alipay": _("Alipay"), "wechat_pay": _("WeChat Pay")}


class Payment(models.Model):
    """A top-up through Stripe Checkout, created before the customer is sent to Stripe."""

    class Status(models.TextChoices):
        CREATED = "created", _("Awaiting payment")
        PENDING = "pending", _("Processing")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        MISMATCH = "mismatch", _("Amount mismatch (not credited)")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")
        DISPUTED = "disputed", _("Disputed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    amount_cents = models.PositiveIntegerField(
        help_text="in the currency's minor unit (cents, fen)"
    )
    currency = models.CharField(max_length=3)
    credits = models.BigIntegerField(help_text="µcr bought")
    payment_method = models.CharField(
        max_length=30, blank=True, help_text="how it was paid (card, alipay, wechat_pay)"
    )
    failure_reason = models.CharField(
        max_length=500, blank=True, help_text="why the payment failed, shown to the user"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    receipt_url = models.URLField(max_length=500, blank=True)
    invoice_id = models.CharField(max_length=255, blank=True)
    invoice_url = models.URLField(max_length=500, blank=True, help_text="hosted invoice page")
    invoice_pdf = models.URLField(max_length=500, blank=True)
    automatic = models.BooleanField(default=False, help_text="an auto top-up (off-session)")
    amount_refunded_cents = models.PositiveIntegerField(default=0)
    credits_refunded = models.BigIntegerField(
        default=0, help_text="µcr taken back for refunds: never more than were bought"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"{self.amount_display} {self.currency.upper()} ({self.status})"

    @property
    def amount_dollars(self) -> str:
        return f"{self.amount_cents / 100:,.2f}"

    @property
    def amount_display(self) -> str:
        """``HK$80.00``: the amount in its own currency."""
        return money(self.amount_cents, self.currency)

    @property
    def refunded_display(self) -> str:
        return money(self.amount_refunded_cents, self.currency)

    @property
    def payment_method_display(self) -> str:
        label = METHOD_LABELS.get(self.payment_method, self.payment_method.replace("_", " "))
        return str(label)[:1].upper() + str(label)[1:]

    @property
    def credits_whole(self) -> int:
        return self.credits // MICRO


class StripeEvent(models.Model):
    """Every webhook event received, once, with what handling it did."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    payload = models.JSONField()
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.type} {self.event_id} ({self.status})"


class BillingProfile(models.Model):
    """Per-user billing preferences: the low-balance warning."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_profile"
    )
    low_balance_threshold = models.BigIntegerField(default=50 * MICRO, help_text="µcr")
    low_balance_notified = models.BooleanField(default=False)
    currency = models.CharField(
        max_length=3,
        blank=True,
        help_text="the currency chosen on the billing page; empty: from the page's language",
    )

    def __str__(self):
        return f"Billing profile of {self.user}"


class AutoTopUp(models.Model):
    """Automatic top-ups with a card saved through Stripe: we keep Stripe's ids, and the card's
    brand and last 4 digits to show, nothing more."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auto_topup"
    )
    enabled = models.BooleanField(default=False)
    threshold = models.BigIntegerField(default=100 * MICRO, help_text="µcr; charge below this")
    amount_cents = models.PositiveIntegerField(default=2000)
    customer_id = models.CharField(max_length=255, blank=True, help_text="Stripe customer")
    payment_method_id = models.CharField(max_length=255, blank=True, help_text="Stripe card")
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    failures = models.PositiveIntegerField(
        default=0, help_text="failed charges in a row (reset by a success or a new card)"
    )
    failed_total = models.PositiveIntegerField(
        default=0, help_text="failed charges ever: names the next try of a dip (never reset)"
    )
    notice = models.CharField(
        max_length=500, blank=True, help_text="why auto top-up was turned off, for the user"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "auto top-up (payment method)"

    def __str__(self):
        return f"Auto top-up of {self.user} ({'on' if self.enabled else 'off'})"

    @property
    def has_card(self) -> bool:
        return bool(self.customer_id and self.payment_method_id)

    @property
    def amount_dollars(self) -> int:
        return self.amount_cents // 100


class AutoTopUpAttempt(models.Model):
    """One automatic charge (or a charge the daily cap stopped), with its outcome."""

    class Status(models.TextChoices):
        STARTED = "started", _("Started")
        SUCCEEDED = "succeeded", _("Succeeded")
        PROCESSING = "processing", _("Processing")
        DECLINED = "declined", _("Declined")
        AUTHENTICATION_REQUIRED = "authentication_required", _("Authentication required")
        FAILED = "failed", _("Failed")
        CAPPED = "capped", _("Daily cap reached")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="auto_topup_attempts"
    )
    idempotency_key = models.CharField(
        max_length=200, unique=True, null=True, blank=True, help_text="the dip it is for"
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment_intent_id = models.CharField(max_length=255, blank=True)
    amount_cents = models.PositiveIntegerField()
    balance = models.BigIntegerField(help_text="µcr when the dip was seen")
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.STARTED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"Auto top-up {self.amount_cents / 100:.2f} of {self.user} ({self.status})"


class BudgetAlert(models.Model):
    """One monthly-budget alert sent: at most once per account, month and level."""

    account = models.ForeignKey(
        "credits.Account", on_delete=models.CASCADE, related_name="budget_alerts"
    )
    month = models.DateField()
    level = models.PositiveSmallIntegerField(help_text="percent of the budget")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "month", "level"], name="billing_budget_alert_once"
            )
        ]

    def __str__(self):
        return f"Budget alert {self.level}% {self.month:%Y-%m} for account {self.account_id}"


class RedemptionBatch(models.Model):
    """Codes created together by staff (for a reseller, a promotion…), each worth the same
    credits. Only digests of the codes are kept: the plaintext exists once, in the CSV the
    creation returns."""

    credits_each = models.BigIntegerField(help_text="µcr each code grants")
    count = models.PositiveIntegerField(help_text="codes created")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="codes stop working then; empty = never"
    )
    one_per_account = models.BooleanField(
        default=False, help_text="an account may redeem at most one code of this batch"
    )
    reseller = models.CharField(max_length=100, blank=True, help_text="who sells or gives them")
    note = models.TextField(blank=True, help_text="for staff only")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    create_token = models.UUIDField(
        unique=True, null=True, blank=True, editable=False, help_text="the form that created it"
    )
    voided_at = models.DateTimeField(
        null=True, blank=True, help_text="voided: its unredeemed codes no longer work"
    )
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "redemption batches"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credits_each__gt=0), name="billing_redemption_credits_positive"
            )
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        """How the ledger and the admin name the batch: ``batch 12 (Reseller)``."""
        return f"batch {self.pk}" + (f" ({self.reseller})" if self.reseller else "")


class RedemptionCode(models.Model):
    """One code of a batch: its HMAC digest, the last 4 characters to recognise it, and who
    redeemed it, once."""

    batch = models.ForeignKey(RedemptionBatch, on_delete=models.PROTECT, related_name="codes")
    digest = models.CharField(max_length=64, unique=True, help_text="HMAC-SHA256 of the code")
    last4 = models.CharField(max_length=4)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="redemptions",
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # "<batch>:<user>" when the batch allows one code per account: the unique index refuses a
    # second, also when two codes are redeemed at once.
    once_key = models.CharField(max_length=50, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"ocx-redeem-…{self.last4} ({self.batch.label})"


class Referrer(models.Model):
    """A user's invite code. Staff may suspend a referrer: no new commissions (those posted
    stay)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrer"
    )
    code = models.CharField(max_length=32, unique=True, help_text="what the invite link carries")
    suspended = models.BooleanField(default=False, help_text="earns no new commissions")
    suspended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Referrer {self.user} ({self.code})"


class Referral(models.Model):
    """An account created through an invite link, tied to its inviter once, for good."""

    referrer = models.ForeignKey(Referrer, on_delete=models.PROTECT, related_name="referrals")
    invitee = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.invitee} invited by {self.referrer.user}"


class ReferralCommission(models.Model):
    """The commission one paid top-up earned the inviter (its ledger entry is
    ``referral:<payment>``), and how much of it refunds and disputes took back."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="commissions")
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="referral_commission"
    )
    amount = models.BigIntegerField(help_text="µcr posted to the inviter")
    taken_back = models.BigIntegerField(default=0, help_text="µcr taken back since")
    month = models.DateField(help_text="the UTC month it counts in for the monthly cap")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["referral", "month"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="billing_commission_positive"
            )
        ]

    def __str__(self):
        return f"Commission {self.amount} µcr for payment {self.payment_id}"
