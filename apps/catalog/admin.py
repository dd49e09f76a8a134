from django.contrib import admin

from .models import Model, Provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "base_url", "api_key_env", "enabled"]
    list_editable = ["enabled"]


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "provider",
        "upstream_id",
        "input_price",
        "output_price",
        "context_length",
        "max_output",
        "enabled",
    ]
    list_filter = ["provider", "family", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["public_id", "upstream_id"]
