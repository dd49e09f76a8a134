from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.template.response import TemplateResponse

from apps.core.errors import ServiceError
from apps.core.money import format_credits

from .forms import RedemptionBatchForm
from .models import (
    AutoTopUp,
    AutoTopUpAttempt,
    BillingProfile,
    BudgetAlert,
    Payment,
    RedemptionBatch,
    RedemptionCode,
    Referral,
    ReferralCommission,
    Referrer,
    StripeEvent,
)
from .redemption import code_digest, redemption_batch_create, redemption_batch_void
from .referrals import referrer_suspend


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "user",
        "amount",
        "currency",
        "credits_whole",
        "payment_method",
        "status",
        "refunded",
        "automatic",
    ]
    list_filter = ["status", "currency", "payment_method", "automatic"]
    search_fields = ["user__email", "checkout_session_id", "payment_intent_id", "invoice_id"]
    list_select_related = ["user"]

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj):
        return obj.amount_display

    @admin.display(description="Credits", ordering="credits")
    def credits_whole(self, obj):
        return f"{obj.credits_whole:,}"

    @admin.display(description="Refunded", ordering="amount_refunded_cents")
    def refunded(self, obj):
        return obj.refunded_display if obj.amount_refunded_cents else ""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(PaymentAdmin):
    list_display = ["created_at", "type", "event_id", "status", "error"]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "type"]
    list_select_related = []


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "low_balance_threshold", "low_balance_notified"]
    search_fields = ["user__email"]


@admin.register(AutoTopUp)
class AutoTopUpAdmin(admin.ModelAdmin):
    """Saved payment methods: Stripe's ids and the card's brand and last 4 digits only."""

    list_display = [
        "user",
        "enabled",
        "card_brand",
        "card_last4",
        "threshold",
        "amount_cents",
        "failures",
        "updated_at",
    ]
    list_filter = ["enabled", "card_brand"]
    search_fields = ["user__email", "customer_id", "payment_method_id"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "customer_id",
        "payment_method_id",
        "card_brand",
        "card_last4",
        "failures",
        "failed_total",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(AutoTopUpAttempt)
class AutoTopUpAttemptAdmin(PaymentAdmin):
    list_display = ["created_at", "user", "amount_cents", "status", "payment_intent_id", "error"]
    list_filter = ["status"]
    search_fields = ["user__email", "payment_intent_id", "idempotency_key"]
    list_select_related = ["user"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(PaymentAdmin):
    list_display = ["created_at", "account", "month", "level"]
    list_filter = ["level", "month"]
    search_fields = ["account__user__email"]
    list_select_related = ["account__user"]


@admin.register(RedemptionBatch)
class RedemptionBatchAdmin(admin.ModelAdmin):
    """Batches of redemption codes. Adding one downloads its codes as CSV, the only time they
    exist in plaintext; "Void" stops a batch's unredeemed codes."""

    list_display = [
        "id",
        "created_at",
        "reseller",
        "count",
        "credits_each_display",
        "redeemed",
        "expires_at",
        "one_per_account",
        "voided_at",
    ]
    list_filter = ["one_per_account", ("voided_at", admin.EmptyFieldListFilter)]
    search_fields = ["reseller", "note"]
    actions = ["void_selected"]
    readonly_fields = [
        "count",
        "credits_each_display",
        "redeemed",
        "expires_at",
        "one_per_account",
        "reseller",
        "created_by",
        "created_at",
        "voided_at",
        "voided_by",
    ]
    fields = [*readonly_fields, "note"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_redeemed=Count("codes", filter=Q(codes__redeemed_at__isnull=False)))
        )

    @admin.display(description="Credits each", ordering="credits_each")
    def credits_each_display(self, obj):
        return format_credits(obj.credits_each)

    @admin.display(description="Redeemed", ordering="n_redeemed")
    def redeemed(self, obj):
        return getattr(obj, "n_redeemed", None)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Void the selected batches (their unredeemed codes stop working)")
    def void_selected(self, request, queryset):
        stopped = sum(
            redemption_batch_void(batch_id=batch.pk, actor_id=request.user.pk) for batch in queryset
        )
        self.message_user(
            request,
            f"Voided {queryset.count()} batch(es): {stopped} unredeemed code(s) no longer work.",
            messages.SUCCESS,
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RedemptionBatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                new = redemption_batch_create(
                    count=data["count"],
                    credits_each=form.credits_micro,
                    expires_at=data["expires_at"],
                    one_per_account=data["one_per_account"],
                    reseller=data["reseller"],
                    note=data["note"],
                    created_by_id=request.user.pk,
                    create_token=data["token"],
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                # The codes exist in plaintext only in this response: nothing else keeps them.
                return HttpResponse(
                    new.csv(),
                    content_type="text/csv; charset=utf-8",
                    headers={
                        "Content-Disposition": (
                            f'attachment; filename="redemption-batch-{new.batch.pk}.csv"'
                        ),
                        "Cache-Control": "no-store",
                    },
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Create redemption codes",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/redemptionbatch/create.html", context)


@admin.register(RedemptionCode)
class RedemptionCodeAdmin(admin.ModelAdmin):
    """Codes by batch and who redeemed them. Search with a whole code to find it (by its
    digest: the codes themselves are not stored)."""

    list_display = ["id", "masked", "batch", "redeemed_by", "redeemed_at"]
    list_filter = [("redeemed_at", admin.EmptyFieldListFilter)]
    search_fields = ["redeemed_by__email"]
    list_select_related = ["batch", "redeemed_by"]
    raw_id_fields = ["batch"]

    @admin.display(description="Code")
    def masked(self, obj):
        return f"ocx-redeem-…{obj.last4}"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term.startswith("ocx-redeem-"):
            return queryset.filter(digest=code_digest(term)), False
        return super().get_search_results(request, queryset, search_term)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Referrer)
class ReferrerAdmin(admin.ModelAdmin):
    """Invite codes. Suspending a referrer stops new commissions; those posted stay."""

    list_display = ["user", "code", "invitees", "suspended", "suspended_at", "created_at"]
    list_filter = ["suspended"]
    search_fields = ["user__email", "code"]
    list_select_related = ["user"]
    actions = ["suspend_selected", "resume_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_invitees=Count("referrals"))

    @admin.display(description="Invitees", ordering="n_invitees")
    def invitees(self, obj):
        return getattr(obj, "n_invitees", None)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Suspend the selected referrers (no new commissions)")
    def suspend_selected(self, request, queryset):
        for referrer in queryset:
            referrer_suspend(referrer_id=referrer.pk, suspended=True)
        self.message_user(request, f"Suspended {queryset.count()} referrer(s).", messages.SUCCESS)

    @admin.action(description="Resume the selected referrers")
    def resume_selected(self, request, queryset):
        for referrer in queryset:
            referrer_suspend(referrer_id=referrer.pk, suspended=False)
        self.message_user(request, f"Resumed {queryset.count()} referrer(s).", messages.SUCCESS)


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["invitee", "referrer", "created_at"]
    search_fields = ["invitee__email", "referrer__user__email", "referrer__code"]
    list_select_related = ["invitee", "referrer__user"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReferralCommission)
class ReferralCommissionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "referral", "payment", "amount_display", "taken_back_display"]
    list_select_related = ["referral__invitee", "referral__referrer__user", "payment"]
    search_fields = ["referral__invitee__email", "referral__referrer__user__email"]

    @admin.display(description="Commission", ordering="amount")
    def amount_display(self, obj):
        return format_credits(obj.amount)

    @admin.display(description="Taken back", ordering="taken_back")
    def taken_back_display(self, obj):
        return format_credits(obj.taken_back)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
