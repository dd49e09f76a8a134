from django import forms
from django.contrib import admin

from .models import Deployment, Model, Provider
from .selectors import deployment_cooldowns
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


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    fields = ["provider", "upstream_id", "api_key_env", "priority", "weight", "enabled"]
    readonly_fields = ["provider", "upstream_id", "api_key_env"]  # from the catalog file
    can_delete = False


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """The pools: each deployment's place (tier, weight), whether staff let it serve, and
    whether the gateway is cooling it down right now (a 429's Retry-After, a refused key)."""

    list_display = [
        "model", "provider", "upstream_id", "api_key_env", "priority", "weight", "enabled",
        "cooling",
    ]  # fmt: skip
    list_filter = ["provider", "enabled", "priority"]
    list_editable = ["enabled", "priority", "weight"]
    actions = ["test_now"]

    @admin.action(description="Test now (one token; back in service if it answers)")
    def test_now(self, request, queryset):
        from django.contrib import messages

        from .selectors import deployment_targets
        from .services import deployment_enable, deployment_probe

        targets = deployment_targets()
        for deployment in queryset.select_related("provider"):
            target = targets.get(deployment.label)
            if target is None:
                self.message_user(
                    request, f"{deployment.label}: not configured (no key)", messages.WARNING
                )
                continue
            answered, detail = deployment_probe(target=target)
            if answered:
                deployment_enable(name=deployment.label)
            level = messages.SUCCESS if answered else messages.ERROR
            self.message_user(request, f"{deployment.label}: {detail}", level)

    list_select_related = ["model", "provider"]
    readonly_fields = ["model", "provider", "upstream_id", "api_key_env"]
    search_fields = ["model__public_id", "upstream_id", "api_key_env"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model", "provider")

    def changelist_view(self, request, extra_context=None):
        self._cooling = None  # read once per page, for every row
        return super().changelist_view(request, extra_context)

    @admin.display(description="cooling down")
    def cooling(self, obj):
        if getattr(self, "_cooling", None) is None:
            names = [d.label for d in Deployment.objects.select_related("provider")]
            self._cooling = deployment_cooldowns(names)
        left = self._cooling.get(obj.label)
        return f"{left:.0f} s" if left else "—"


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    inlines = [DeploymentInline]
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
