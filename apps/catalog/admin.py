from django import forms
from django.contrib import admin

from .models import Model, Provider
from .services import catalog_key_variables

# Where a provider's requests go and which secret they carry come from the catalog file; in the
# admin only superusers may change them (each change is in the admin's history), and only to a
# variable the file declares.
GUARDED = ["base_url", "api_key_env", "protocols"]


class ProviderForm(forms.ModelForm):
    base_url = forms.URLField(max_length=300, assume_scheme="https")

    class Meta:
        model = Provider
        fields = ["slug", "name", "base_url", "api_key_env", "enabled", "protocols"]

    def clean_api_key_env(self):
        name = self.cleaned_data.get("api_key_env", "")
        allowed = catalog_key_variables()
        if name and name not in allowed:
            raise forms.ValidationError(
                f"Only the key variables the catalog file declares: {', '.join(sorted(allowed))}."
            )
        return name


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["slug", "name", "base_url", "api_key_env", "enabled"]
    list_editable = ["enabled"]

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else GUARDED


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
