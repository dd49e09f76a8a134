from django.conf import settings
from django.db import models


class UsageRecord(models.Model):
    """One API request: what it used, what it cost, how it ended.

    On PostgreSQL the table is partitioned by day of ``created_at`` (apps/usage/partitions.py):
    its primary key is (id, created_at) and a request id is unique with its time. Until the
    rollup has counted it (``position`` below the cursor), a record's cost is also the pending
    part of its account's ledger (see apps/usage/rollup.py).
    """

    request_id = models.CharField(max_length=64)
    # No single-column indexes: (user, created_at, id) and (api_key, created_at) below serve
    # every lookup by user or key, and partitions serve time ranges; each index is a write on
    # every request (the request log's filters add two, and three on failed requests only).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="usage_records",
        db_index=False,
    )
    api_key = models.ForeignKey(
        "keys.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    model = models.CharField(max_length=100, help_text="public model id")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(
        default=0, help_text="prompt tokens read from the provider's cache (part of prompt_tokens)"
    )
    cache_write_tokens = models.PositiveIntegerField(
        default=0, help_text="prompt tokens written to the provider's cache (part of prompt_tokens)"
    )
    reasoning_tokens = models.PositiveIntegerField(
        default=0, help_text="reasoning tokens (part of completion_tokens)"
    )
    protocol = models.CharField(
        max_length=10, default="chat", help_text="chat, messages or responses"
    )
    cost = models.BigIntegerField(default=0, help_text="µcr charged")
    upstream_cost = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="µcr the upstream charges us for the same usage (empty: unknown)",
    )
    status = models.PositiveSmallIntegerField(help_text="HTTP status returned to the client")
    error_code = models.CharField(max_length=50, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    deployment = models.CharField(
        max_length=300, blank=True, default="", help_text="the deployment that answered"
    )
    attempts = models.JSONField(
        default=list, blank=True, help_text="[deployment, status, ms] of each upstream attempt"
    )
    ttft_ms = models.PositiveIntegerField(
        default=0, help_text="time to the first byte of the answer (ms); 0 when none was sent"
    )
    stream = models.BooleanField(default=False)
    usage_counted = models.BooleanField(
        default=False, help_text="tokens were counted by us (the upstream sent no usage)"
    )
    created_at = models.DateTimeField()
    # PostgreSQL: the id of the transaction that wrote the record (pg_current_xact_id(), the
    # column's default). The rollup reads records by it, up to the oldest transaction still
    # running, so a record that commits late is still counted, exactly once. SQLite (one writer
    # at a time, ids in commit order) uses the id instead and leaves this 0.
    txid = models.BigIntegerField(db_default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["request_id", "created_at"], name="usage_record_request_unique"
            )
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"]),
            models.Index(fields=["api_key", "-created_at"]),
            # The request log's filters (apps/usage/selectors.py, LogFilter): by model, by
            # protocol, and failed requests alone (a few, so a small partial index).
            models.Index(fields=["user", "model", "-created_at", "-id"], name="usage_log_model"),
            models.Index(
                fields=["user", "protocol", "-created_at", "-id"], name="usage_log_protocol"
            ),
            models.Index(
                fields=["user", "-created_at", "-id"],
                condition=models.Q(status__gte=400),
                name="usage_log_errors",
            ),
            models.Index(
                fields=["user", "status", "-created_at", "-id"],
                condition=models.Q(status__gte=400),
                name="usage_log_error_status",
            ),
            models.Index(
                fields=["user", "model", "-created_at", "-id"],
                condition=models.Q(status__gte=400),
                name="usage_log_error_model",
            ),
        ]

    def __str__(self):
        return f"{self.request_id} {self.model} {self.status}"


class UsageHour(models.Model):
    """Hourly rollup of UsageRecord per user, key and model: what the charts read."""

    hour = models.DateTimeField(help_text="start of the hour, UTC")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_hours"
    )
    key_id = models.BigIntegerField(default=0, help_text="API key id; 0 when the key is gone")
    model = models.CharField(max_length=100)
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cost = models.BigIntegerField(default=0, help_text="µcr")
    upstream_cost = models.BigIntegerField(
        default=0, db_default=0, help_text="µcr, of the records whose upstream cost is known"
    )
    unknown_cost = models.PositiveIntegerField(
        default=0, db_default=0, help_text="records whose upstream cost is unknown"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "user", "key_id", "model"], name="usage_hour_unique_bucket"
            )
        ]
        indexes = [models.Index(fields=["user", "hour"])]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h {self.model} ×{self.requests}"


class DeploymentHour(models.Model):
    """Hourly rollup of UsageRecord per model and serving deployment (no user dimension):
    what the staff console reads for revenue, upstream cost and margin by provider and
    deployment. Written by the same rollup run as UsageHour."""

    hour = models.DateTimeField(help_text="start of the hour, UTC")
    model = models.CharField(max_length=100)
    deployment = models.CharField(max_length=300, blank=True, help_text="empty: none answered")
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    cost = models.BigIntegerField(default=0, help_text="µcr charged")
    upstream_cost = models.BigIntegerField(default=0, help_text="µcr, where known")
    unknown_cost = models.PositiveIntegerField(
        default=0, help_text="records whose upstream cost is unknown"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "model", "deployment"], name="deployment_hour_unique_bucket"
            )
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h {self.deployment or '-'} ×{self.requests}"


class UsageDay(models.Model):
    """Daily rollup of UsageRecord per user (no key or model): what the staff console reads for
    its top customers and active accounts over weeks (``UsageHour`` holds a row per user, key,
    model and hour: millions a month). Written by the same rollup run as UsageHour; a rebuild
    recomputes the days it touches from UsageHour."""

    day = models.DateTimeField(help_text="start of the UTC day")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_days"
    )
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    cost = models.BigIntegerField(default=0, help_text="µcr charged")
    upstream_cost = models.BigIntegerField(default=0, help_text="µcr, where known")
    unknown_cost = models.PositiveIntegerField(
        default=0, help_text="records whose upstream cost is unknown"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "user"], name="usage_day_unique_bucket")
        ]

    def __str__(self):
        return f"{self.day:%Y-%m-%d} user {self.user_id} ×{self.requests}"


class UsageCursor(models.Model):
    """How far the rollup has read the records: every record below ``position`` (a txid on
    PostgreSQL, an id on SQLite) is in the hourly rollups and in its account's ledger."""

    name = models.CharField(max_length=30, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} at {self.position}"


class UsageContent(models.Model):
    """The prompt and the answer of one API request, kept only when its user turned that on
    (``User.store_content_days``), until ``expires_at``."""

    request_id = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_contents"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    request = models.JSONField(help_text="the request body as the client sent it")
    response = models.JSONField(
        null=True, blank=True, help_text="the answer: the response body, or a stream's text"
    )
    size = models.PositiveIntegerField(
        default=0, help_text="bytes kept (media replaced by their type and size), for the quota"
    )

    def __str__(self):
        return f"content of {self.request_id}"
