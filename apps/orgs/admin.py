from django.contrib import admin

from .models import Invitation, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "spend_cap", "created_at"]
    readonly_fields = ["user", "spend_cap", "created_at"]
    can_delete = False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "principal", "created_at", "deleted_at"]
    search_fields = ["name", "principal__email", "memberships__user__email"]
    readonly_fields = ["principal", "created_at", "deleted_at"]
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return False  # through the portal: the principal user and the owner come with it

    def has_delete_permission(self, request, obj=None):
        return False  # organization_delete keeps the money records


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at"]
    search_fields = ["email", "organization__name"]
    readonly_fields = ["organization", "email", "invited_by", "accepted_by", "created_at"]

    def has_add_permission(self, request):
        return False
