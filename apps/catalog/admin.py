from django import forms
from django.contrib import admin

from .guard import PRICE_FIELDS, price_diffs
from .models import Deployment, Model, PriceChange, Provider
from .selectors import deployment_cooldowns
from .services import COST_FIELDS, catalog_key_variables

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


class ModelForm(forms.ModelForm):
    """Prices edited here pass the same guard rails as sync_catalog (guard.py): a change below
    an upstream cost, or by more than the factor, needs "apply anyway" ticked."""

    force_prices = forms.BooleanField(
        required=False,
        label="Apply price changes anyway",
        help_text="Needed for a change below an upstream cost or by more than "
        "CATALOG_PRICE_FACTOR; it is kept in the price history as forced.",
    )

    class Meta:
        model = Model
        fields = [
            "public_id", "provider", "upstream_id", "display_name", "family", *PRICE_FIELDS,
            "max_tokens_param", "context_length", "max_output", "enabled",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        self.price_diffs = []
        if self.instance.pk is None or self.errors:
            return cleaned
        stored = Model.objects.get(pk=self.instance.pk)
        old = {name: getattr(stored, name) for name in PRICE_FIELDS}
        new = {name: cleaned.get(name) for name in PRICE_FIELDS}
        deployments = [
            {**{f: getattr(d, f) for f in COST_FIELDS.values()}, "label": d.label}
            for d in stored.deployments.select_related("provider")
        ]
        self.price_diffs = price_diffs(stored.public_id, old, new, deployments)
        refused = [d for d in self.price_diffs if d.refused]
        if refused and not cleaned.get("force_prices"):
            raise forms.ValidationError(
                ["Refused by the price guard rails (tick “Apply price changes anyway”):"]
                + [str(d) for d in refused]
            )
        return cleaned


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    form = ModelForm
    inlines = [DeploymentInline]
    actions = ["sync_from_file"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        PriceChange.objects.bulk_create(
            PriceChange(
                model=obj,
                field=d.field,
                old=d.old,
                new=d.new,
                changed_by=f"admin: {request.user.get_username()}"[:200],
                forced=d.refused,
                reasons="; ".join(d.reasons),
            )
            for d in getattr(form, "price_diffs", [])
        )

    @admin.action(description="Sync from the catalog file (shows the price changes first)")
    def sync_from_file(self, request, queryset):
        """First a page with the file's price changes (a dry run: what the guard rails refuse
        and why); nothing is written until it is confirmed there, refused changes only with
        "force"."""
        from django.conf import settings
        from django.contrib import messages
        from django.contrib.admin import helpers
        from django.template.response import TemplateResponse

        from .services import CatalogError, PriceGuardError, catalog_sync

        path = settings.OPENCODEX_CATALOG
        if not request.POST.get("apply"):
            try:
                report = catalog_sync(path=path, dry_run=True)
            except CatalogError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            context = {
                **self.admin_site.each_context(request),
                "title": "Sync from the catalog file",
                "opts": self.model._meta,
                "path": path,
                "changes": [d for d in report.prices if d.old is not None],
                "refused": report.refused,
                "factor": settings.CATALOG_PRICE_FACTOR,
                "queryset": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/catalog/model/sync_catalog.html", context)
        force = bool(request.POST.get("force"))
        actor = f"admin: {request.user.get_username()}"
        try:
            report = catalog_sync(path=path, actor=actor, force=force)
        except PriceGuardError as exc:
            for diff in exc.report.refused:
                self.message_user(request, str(diff), messages.ERROR)
            self.message_user(
                request, "Nothing was written: tick “force” to apply them.", messages.WARNING
            )
            return None
        except CatalogError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        for diff in report.prices:
            if diff.old is not None:
                forced = " (forced)" if diff.refused else ""
                self.message_user(request, f"{diff}{forced}", messages.INFO)
        self.message_user(
            request,
            f"Synced: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.disabled)} disabled.",
            messages.SUCCESS,
        )
        return None

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


@admin.register(PriceChange)
class PriceChangeAdmin(admin.ModelAdmin):
    """The price history: read only, never changed or deleted here."""

    list_display = ["changed_at", "model", "field", "old", "new", "changed_by", "forced"]
    list_filter = ["field", "forced"]
    search_fields = ["model__public_id", "changed_by"]
    list_select_related = ["model"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
