from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction

from apps.audit import services as audit
from apps.audit.client import client_ip
from apps.core.money import format_credits
from apps.keys.services import api_keys_forget_user

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "name",
        "balance_credits",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    ]
    list_select_related = ["credit_account"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "language")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(description="Balance (credits)", ordering="credit_account__balance")
    def balance_credits(self, obj):
        account = getattr(obj, "credit_account", None)  # a missing one is an AttributeError
        return format_credits(account.balance) if account is not None else "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            with audit.staff_actions():
                audit.record(
                    account_id=obj.pk,
                    actor=request.user,
                    action="account.reactivated" if obj.is_active else "account.deactivated",
                    before={"is_active": not obj.is_active},
                    after={"is_active": obj.is_active},
                    ip=client_ip(request),
                )
            # A deactivated user's keys stop at once, not when their cached facts expire.
            user_id = obj.pk
            transaction.on_commit(lambda: api_keys_forget_user(user_id=user_id))
