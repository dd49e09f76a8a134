from django.contrib import admin

from .models import WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Customers' endpoints, to look at (their owners manage them; secrets stay sealed)."""

    list_display = ["url", "user", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled", "disabled_reason"]
    search_fields = ["url", "user__email"]
    list_select_related = ["user"]
    exclude = ["secret_sealed", "previous_secret_sealed", "lease_token"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request):
        return False
