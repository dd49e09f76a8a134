from django.contrib import admin

from . import actions
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, to read: nobody adds, changes or deletes an event here (nor anywhere:
    the model and a database trigger refuse too)."""

    list_display = ["created_at", "account", "actor_label", "action", "target", "ip"]
    list_filter = ["action"]
    search_fields = ["account__email", "actor_label", "target", "action"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    readonly_fields = [*(f.name for f in AuditEvent._meta.fields), "changes"]
    fields = readonly_fields

    @admin.display(description="Changes")
    def changes(self, obj):
        return actions.changes_text(obj)

    def get_actions(self, request):
        return {}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
