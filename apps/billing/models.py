from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.money import MICRO


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
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    credits = models.BigIntegerField(help_text="µcr bought")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    receipt_url = models.URLField(max_length=500, blank=True)
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
        return f"{self.amount_cents / 100:.2f} {self.currency.upper()} ({self.status})"

    @property
    def amount_dollars(self) -> str:
        return f"{self.amount_cents / 100:,.2f}"

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

    def __str__(self):
        return f"Billing profile of {self.user}"
