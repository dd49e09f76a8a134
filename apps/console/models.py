from django.db import models
from django.utils import timezone


class PlaygroundKey(models.Model):
    """Marks an API key as the playground's: minted for one user by the portal, short-lived, its
    secret kept only on the server (in the cache, until the key expires). The key itself is an
    ordinary ``keys.ApiKey`` so the gateway's holds, limits and usage records apply unchanged."""

    api_key = models.OneToOneField(
        "keys.ApiKey", on_delete=models.CASCADE, primary_key=True, related_name="playground"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"playground {self.api_key_id}"
