"""Customer webhooks: the endpoints a user registers, the events that happened to the account
(an outbox written in the same transaction as what they describe), one delivery per event and
endpoint (its ``webhook-id`` stays the same over every retry), and each attempt's outcome."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# The events an endpoint may subscribe to, in the order the settings page lists them (what each
# one's ``data`` holds: docs/webhooks).
EVENT_TYPES = {
    "balance.low": _("The balance fell below your low-balance warning level."),
    "budget.threshold": _("This month's usage passed 50 %, 80 % or 100 % of the monthly budget."),
    "key.created": _("An API key was created (also the successor of a rotated key)."),
    "key.rotated": _("An API key was rotated: it stops working after its grace period."),
    "key.revoked": _("An API key was revoked."),
    "key.expired": _("An API key reached its expiry time."),
    "payment.succeeded": _("A top-up (or an automatic top-up) was paid and credited."),
    "payment.refunded": _("A payment was refunded and its credits taken back."),
    "auto_topup.failed": _("An automatic top-up could not charge the saved card."),
}
TEST_EVENT = "webhook.test"  # sent by "Send test event" to one endpoint, whatever it subscribes


class WebhookEndpoint(models.Model):
    """A URL that receives the account's events, signed with its own secret (sealed at rest:
    apps.core.sealed, a key derived from SECRET_KEY). Disabled endpoints get no new events."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=500)
    description = models.CharField(max_length=100, blank=True)
    event_types = models.JSONField(default=list, help_text="the event types it receives")
    secret_sealed = models.TextField(help_text="whsec_… sealed (Fernet), never stored readable")
    # After "roll secret" the old secret keeps signing beside the new one for a while, so the
    # receiver can switch without dropping deliveries.
    previous_secret_sealed = models.TextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)

    class Disabled(models.TextChoices):
        BY_USER = "user", _("Turned off by you")
        FAILING = "failing", _("Turned off: its deliveries kept failing for a day")

    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=10, choices=Disabled.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One sender at a time per endpoint (so deliveries go out in order): whoever set the token
    # sends until the lease runs out or it lets go.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self):
        return f"{self.url} ({'on' if self.enabled else 'off'})"


class WebhookEvent(models.Model):
    """Something that happened to an account, recorded once (``reference``, when given, makes a
    repeated emission a no-op) with the exact body every delivery sends."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events"
    )
    type = models.CharField(max_length=40)
    reference = models.CharField(max_length=200, unique=True, null=True, blank=True)
    body = models.TextField(help_text="the JSON sent, byte for byte the same on every attempt")
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return f"{self.type} #{self.pk}"


class WebhookDelivery(models.Model):
    """One event for one endpoint. Pending ones go out in id order per endpoint: a later one
    waits while an earlier one waits for its retry."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, unique=True, help_text="the webhook-id header")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhooks_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "id"],
                condition=models.Q(status="pending"),
                name="webhooks_delivery_pending",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhooks_delivery_due",
            ),
        ]

    def __str__(self):
        return f"{self.message_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, for the endpoint's log: status, latency, what answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-attempted_at", "-id"])]

    def __str__(self):
        return f"{self.delivery_id} at {self.attempted_at}: {self.status_code or self.error}"
