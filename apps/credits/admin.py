from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.audit.client import client_ip
from apps.audit.services import staff_actions
from apps.core.errors import ServiceError
from apps.core.money import format_credits

from .forms import AdjustCreditsForm
from .models import Account, Hold, LedgerEntry
from .services import credits_account_suspend, credits_adjust


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "balance_credits", "held_credits", "suspended", "updated_at"]
    list_display += ["adjust_link"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    actions = ["adjust_selected", "suspend_selected", "resume_selected"]

    def _suspend(self, request, queryset, *, suspended: bool) -> None:
        with staff_actions():
            for account in queryset:
                credits_account_suspend(
                    user_id=account.user_id,
                    suspended=suspended,
                    actor=request.user,
                    ip=client_ip(request),
                )
        state = "suspended" if suspended else "resumed"
        self.message_user(request, f"API access {state}: {queryset.count()} account(s).")

    @admin.action(description="Suspend API access", permissions=["change"])
    def suspend_selected(self, request, queryset):
        self._suspend(request, queryset, suspended=True)

    @admin.action(description="Resume API access", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._suspend(request, queryset, suspended=False)

    @admin.display(description="Balance (credits)", ordering="balance")
    def balance_credits(self, obj):
        return format_credits(obj.balance)

    @admin.display(description="Held (credits)", ordering="held")
    def held_credits(self, obj):
        return format_credits(obj.held)

    @admin.display(description="")
    def adjust_link(self, obj):
        url = reverse("admin:credits_account_adjust", args=[obj.pk])
        return format_html('<a href="{}">Grant or deduct…</a>', url)

    @admin.action(description="Grant or deduct credits (one account)")
    def adjust_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one account.", messages.WARNING)
            return None
        return redirect("admin:credits_account_adjust", queryset.get().pk)

    def get_urls(self):
        return [
            path(
                "<int:account_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="credits_account_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, account_id):
        account = get_object_or_404(Account.objects.select_related("user"), pk=account_id)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        form = AdjustCreditsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with staff_actions():
                    credits_adjust(
                        user_id=account.user_id,
                        amount=form.amount_micro,
                        reason=form.cleaned_data["reason"],
                        actor_id=request.user.pk,
                        reference=f"adjustment:{form.cleaned_data['token']}",
                        ip=client_ip(request),
                    )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Adjusted {account.user} by {form.cleaned_data['amount']} credits.",
                    messages.SUCCESS,
                )
                return redirect("admin:credits_account_change", account.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Grant or deduct credits: {account.user}",
            "account": account,
            "form": form,
            "opts": self.model._meta,
            "balance": format_credits(account.balance),
            "available": format_credits(account.available),
        }
        return TemplateResponse(request, "admin/credits/account/adjust.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "amount_credits", "reference", "memo"]
    list_filter = ["kind"]
    search_fields = ["reference", "account__user__email", "memo"]
    list_select_related = ["account__user"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Overrun (credits)")
    def overrun(self, obj):
        return format_credits(obj.charged - obj.amount) if obj.charged > obj.amount else ""

    @admin.display(description="Amount (credits)", ordering="amount")
    def amount_credits(self, obj):
        return format_credits(obj.amount)


class OverrunFilter(admin.SimpleListFilter):
    """Requests that cost more than their hold: the provider billed beyond the estimate."""

    title = "overrun"
    parameter_name = "overrun"

    def lookups(self, request, model_admin):
        return [("yes", "Charged more than held")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=Hold.Status.SETTLED, charged__gt=F("amount"))
        return queryset


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["reference", "account", "amount", "charged", "overrun", "status", "created_at"]
    list_filter = [OverrunFilter, "status"]
    search_fields = ["reference", "account__user__email"]
    list_select_related = ["account__user"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Overrun (credits)")
    def overrun(self, obj):
        return format_credits(obj.charged - obj.amount) if obj.charged > obj.amount else ""
