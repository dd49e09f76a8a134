from django.db import models


class Provider(models.Model):
    """An OpenAI-compatible upstream. Its API key is read from an environment variable."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    base_url = models.URLField(max_length=300, help_text="OpenAI-compatible, e.g. …/v1")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable with the key"
    )
    api_key_envs = models.JSONField(
        default=list,
        blank=True,
        help_text="several keys: the environment variables, each key a deployment of the "
        "provider's models (instead of api_key_env)",
    )
    enabled = models.BooleanField(default=True)
    protocols = models.JSONField(
        default=list,
        blank=True,
        help_text='wire protocols it speaks natively besides chat, e.g. ["messages"]: requests '
        "in those protocols pass through untranslated",
    )

    def __str__(self):
        return self.name

    @property
    def key_variables(self) -> list[str]:
        """The environment variables of this provider's keys, in order (empty: no key)."""
        return list(self.api_key_envs or ([self.api_key_env] if self.api_key_env else []))


class Model(models.Model):
    """A model we sell. Prices are µcr per 1,000,000 tokens (1 credit = 1,000,000 µcr)."""

    public_id = models.CharField(max_length=100, unique=True)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    upstream_id = models.CharField(max_length=200)
    display_name = models.CharField(max_length=100, blank=True)
    family = models.CharField(max_length=50, blank=True)
    description = models.TextField(
        blank=True, help_text="a sentence or two for the model browser: what it is good at"
    )
    description_zh = models.TextField(blank=True, help_text="the description in Chinese")
    modalities = models.JSONField(
        default=list,
        blank=True,
        help_text='what it reads besides text, e.g. ["image"] (empty: text only)',
    )
    input_price = models.BigIntegerField(help_text="µcr per 1M input tokens")
    output_price = models.BigIntegerField(help_text="µcr per 1M output tokens")
    cached_input_price = models.BigIntegerField(
        null=True, blank=True, help_text="µcr per 1M cached input tokens read (empty: input price)"
    )
    cache_write_price = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="µcr per 1M input tokens written to the cache (empty: input)",
    )
    cache_write_long_price = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="µcr per 1M input tokens written to a 1-hour cache (empty: twice the input)",
    )
    request_price = models.BigIntegerField(default=0, help_text="µcr per request, if any")
    max_tokens_param = models.CharField(
        max_length=30,
        default="max_tokens",
        choices=[("max_tokens", "max_tokens"), ("max_completion_tokens", "max_completion_tokens")],
        help_text="the output-limit field this model takes when the gateway has to send one",
    )
    context_length = models.PositiveIntegerField()
    max_output = models.PositiveIntegerField(help_text="the most output tokens per request")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family", "public_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(input_price__gte=0, output_price__gte=0, request_price__gte=0),
                name="catalog_model_prices_nonneg",
            )
        ]

    def __str__(self):
        return self.public_id


class Deployment(models.Model):
    """One way to serve a model: a provider endpoint, its model id there, one key (the
    environment variable that holds it), a priority tier (0 is tried first, then 1, …) and a
    weight inside its tier. Loaded from the catalog file; staff may disable one here."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="deployments")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="deployments")
    upstream_id = models.CharField(max_length=200)
    api_key_env = models.CharField(max_length=100, blank=True)
    priority = models.PositiveSmallIntegerField(default=0, help_text="0 first, then 1, …")
    weight = models.PositiveIntegerField(default=1, help_text="share of traffic in its tier")
    rpm = models.PositiveIntegerField(
        default=0, help_text="requests per minute it may take (0: no limit)"
    )
    # What the upstream charges us, µcr per 1M tokens (empty: not declared, margin unknown).
    cost_input = models.BigIntegerField(null=True, blank=True, help_text="upstream µcr / 1M in")
    cost_output = models.BigIntegerField(null=True, blank=True, help_text="upstream µcr / 1M out")
    cost_cached_input = models.BigIntegerField(
        null=True, blank=True, help_text="upstream µcr / 1M cached input (empty: its input)"
    )
    cost_cache_write = models.BigIntegerField(
        null=True, blank=True, help_text="upstream µcr / 1M cache writes (empty: its input)"
    )
    tpm = models.PositiveIntegerField(
        default=0, help_text="tokens (input and output) per minute it may take (0: no limit)"
    )
    position = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["model", "priority", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "provider", "api_key_env", "upstream_id"],
                name="catalog_deployment_unique",
            )
        ]

    def __str__(self):
        return f"{self.model} via {self.label}"

    @property
    def label(self) -> str:
        """A stable name: the provider, the key's variable and the upstream model."""
        return f"{self.provider.slug}:{self.api_key_env or '-'}:{self.upstream_id}"


class PriceChange(models.Model):
    """One price of a model changed: who, when, from what to what (kept forever). A change the
    guard rails refused is not here; one applied with force says so."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="price_changes")
    field = models.CharField(max_length=40)
    old = models.BigIntegerField(null=True)
    new = models.BigIntegerField(null=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    changed_by = models.CharField(max_length=200, help_text="sync_catalog, or the staff user")
    forced = models.BooleanField(default=False, help_text="applied past the guard rails")
    reasons = models.TextField(blank=True, help_text="why the guard rails would have refused it")

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.model} {self.field}: {self.old} → {self.new}"
