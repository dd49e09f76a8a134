from django.db import models


class Provider(models.Model):
    """An OpenAI-compatible upstream. Its API key is read from an environment variable."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    base_url = models.URLField(max_length=300, help_text="OpenAI-compatible, e.g. …/v1")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable with the key"
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


class Model(models.Model):
    """A model we sell. Prices are µcr per 1,000,000 tokens (1 credit = 1,000,000 µcr)."""

    public_id = models.CharField(max_length=100, unique=True)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    upstream_id = models.CharField(max_length=200)
    display_name = models.CharField(max_length=100, blank=True)
    family = models.CharField(max_length=50, blank=True)
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
