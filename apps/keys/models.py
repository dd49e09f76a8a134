from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

SPEND_WINDOWS = [("day", _("per day")), ("week", _("per week")), ("month", _("per month"))]


class ApiKey(models.Model):
    """An API key. The secret itself is never stored: only its HMAC digest and what is needed to
    recognise it on a page (``sk-live-abcd…wxyz``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True, help_text="HMAC-SHA256 of the secret")
    prefix = models.CharField(max_length=16, help_text="sk-live- and the first 4 characters")
    last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    credit_limit = models.BigIntegerField(
        null=True, blank=True, help_text="µcr this key may spend in all; empty = no limit"
    )
    spent = models.BigIntegerField(default=0, help_text="µcr spent through this key")
    held = models.BigIntegerField(
        default=0, help_text="µcr of the credit limit reserved by requests in flight"
    )
    rpm_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="requests per minute; empty = the default"
    )
    # Guardrails (issue #21): what a key may be used for. They belong to the key, not to its
    # owner, so a key of an organization's account takes the same fields.
    tpm_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="tokens per minute (prompt + output); empty = no limit"
    )
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="public model ids this key may use; empty = all"
    )
    allowed_ips = models.JSONField(
        default=list,
        blank=True,
        help_text="IPv4/IPv6 addresses or CIDR networks this key may be used from; empty = any",
    )
    # A spend limit per window (a day, a week from Monday, a calendar month, in the owner's time
    # zone), beside the total ``credit_limit``. Like the credit limit it lives on the budget key
    # of a rotated line. ``window_spent`` is what requests that started at or after
    # ``window_start`` were charged; a hold in a later window starts the count afresh.
    spend_limit = models.BigIntegerField(
        null=True, blank=True, help_text="µcr this key may spend per window; empty = no limit"
    )
    spend_window = models.CharField(
        max_length=5, blank=True, default="", choices=SPEND_WINDOWS, help_text="the window"
    )
    window_start = models.DateTimeField(
        null=True, blank=True, help_text="the start of the window window_spent counts"
    )
    window_spent = models.BigIntegerField(default=0, help_text="µcr charged in that window")
    budget_key = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the key whose credit limit and spending this one shares (set by rotation)",
    )
    # Teams (issue #21): who made the key (an organization's member; the owner for a personal
    # key) and the member's spend cap and model allowlist it shares with their other keys.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the person who created the key",
    )
    spend_cap = models.ForeignKey(
        "credits.SpendCap",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="keys",
        help_text="the cap and model allowlist shared with the creator's other keys",
    )
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successor"
    )
    # One per rendered create form, so a double-submitted form makes one key.
    create_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "create_token"], name="keys_apikey_one_per_form"
            ),
            models.CheckConstraint(condition=models.Q(held__gte=0), name="keys_held_nonneg"),
            models.CheckConstraint(
                condition=models.Q(spend_limit__isnull=True, spend_window="")
                | models.Q(spend_limit__gt=0, spend_window__in=["day", "week", "month"]),
                name="keys_spend_limit_has_window",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.last4}"

    @cached_property
    def rotating_to(self) -> "ApiKey | None":
        """The key that replaces this one while it is rotated, or None: ``successor`` without
        the exception a reverse one-to-one raises when there is none (which a template
        catches at some 20 µs a time, three times a row of the keys list)."""
        try:
            return self.successor
        except ApiKey.DoesNotExist:
            return None

    def status_at(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        return self.status_at()

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def budget(self) -> "ApiKey":
        """The key that carries this key's credit limit and spending: itself, or for a rotated
        key the first key of its line, so old and new keys share one budget."""
        return self.budget_key or self

    @property
    def budget_limit(self) -> int | None:
        return self.budget.credit_limit

    @property
    def budget_spent(self) -> int:
        return self.budget.spent

    @property
    def budget_spend_limit(self) -> int | None:
        return self.budget.spend_limit

    @property
    def budget_spend_window(self) -> str:
        return self.budget.spend_window

    @property
    def remaining_credit(self) -> int | None:
        """What requests through this key may still spend (None: no limit)."""
        budget = self.budget
        if budget.credit_limit is None:
            return None
        return max(budget.credit_limit - budget.spent - budget.held, 0)


class ApiKeyEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        ROTATED = "rotated", _("Rotated")
        REVOKED = "revoked", _("Revoked")
        UPDATED = "updated", _("Limits changed")

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} {self.key_id}"
