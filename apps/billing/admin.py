from django.contrib import admin

from .models import BillingProfile, Payment, StripeEvent


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "amount_cents", "currency", "credits", "status"]
    list_filter = ["status", "currency"]
    search_fields = ["user__email", "checkout_session_id", "payment_intent_id"]
    list_select_related = ["user"]

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
