from django.contrib import admin

from .models import AutoTopUp, AutoTopUpAttempt, BillingProfile, BudgetAlert, Payment, StripeEvent


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
