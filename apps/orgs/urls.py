from django.urls import path

from . import views

app_name = "orgs"

urlpatterns = [
    path("new/", views.create, name="create"),
    path("switch/", views.switch, name="switch"),
    path("settings/", views.org_settings, name="settings"),
    path("settings/general/", views.settings_save, name="settings_save"),
    path("settings/billing/", views.billing_details_save, name="billing_details"),
    path("settings/transfer/", views.transfer, name="transfer"),
    path("settings/delete/", views.delete, name="delete"),
    path("leave/", views.leave, name="leave"),
    path("members/", views.members, name="members"),
    path("members/<int:user_id>/role/", views.member_role, name="member_role"),
    path("members/<int:user_id>/limits/", views.member_limits, name="member_limits"),
    path("members/<int:user_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/accept/<str:token>/", views.accept, name="accept"),
    path("usage/", views.usage_by_member, name="usage"),
]
