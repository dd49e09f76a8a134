from django.contrib import admin, messages

from apps.audit.client import client_ip
from apps.audit.services import staff_actions
from apps.core.money import format_credits

from .models import ApiKey, ApiKeyEvent
from .services import api_key_revoke


class ApiKeyEventInline(admin.TabularInline):
    model = ApiKeyEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "detail"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "masked", "user", "status", "created_at", "last_used_at", "spent_"]
    list_select_related = ["user", "budget_key"]
    search_fields = ["name", "prefix", "user__email"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    inlines = [ApiKeyEventInline]
    actions = ["revoke_selected"]
    exclude = ["digest", "create_token"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Spent (credits)")
    def spent_(self, obj):
        return format_credits(obj.budget_spent)

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        with staff_actions():
            for key in queryset:
                api_key_revoke(
                    user_id=key.user_id,
                    key_id=key.pk,
                    actor_id=request.user.pk,
                    ip=client_ip(request),
                )
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
