from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from apps.accounts import views as account_views
from apps.core import views as core_views
from apps.usage import urls as usage_urls

# Staff sign in through allauth like everyone else: its two-factor step and rate limits apply
# (Django's own admin login form would skip both).
admin.site.login = secure_admin_login(admin.site.login)

# Usage's pages, plus the old address of the time zone form under its old name
# (usage:time_zone): the view is accounts' (usage may not import accounts).
usage_patterns = [
    *usage_urls.urlpatterns,
    path("time-zone/", account_views.usage_time_zone, name="time_zone"),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("dashboard/", account_views.dashboard, name="dashboard"),
    path("invite/<str:code>/", account_views.invite, name="invite"),
    path("account/", account_views.account_settings, name="account_settings"),
    path("account/delete/", account_views.account_delete, name="account_delete"),
    path("account/webhooks/", include("apps.webhooks.urls")),
    path("account/audit/", include("apps.audit.urls")),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("support/", core_views.support, name="support"),
    path("terms/", core_views.legal_page, {"name": "terms"}, name="terms"),
    path("privacy/", core_views.legal_page, {"name": "privacy"}, name="privacy"),
    path("keys/", include("apps.keys.urls")),
    path("billing/", include("apps.billing.urls")),
    path("usage/", include((usage_patterns, usage_urls.app_name))),
    path("docs/", include("apps.docs.urls")),
    path("org/", include("apps.orgs.urls")),
    path("", include("apps.console.urls")),  # playground, models, request details
    # Django's set_language, which also remembers a signed-in user's choice for e-mails.
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    # The verify-email page's "send it again" and "wrong address?" (before allauth's
    # confirm-email/<key>/, which would take them for keys).
    path(
        "accounts/confirm-email/resend/",
        account_views.verification_resend,
        name="account_verification_resend",
    ),
    path(
        "accounts/confirm-email/change/",
        account_views.verification_change,
        name="account_verification_change",
    ),
    path("accounts/", include("allauth.urls")),
    path("admin/console/", include("apps.staff.urls")),  # the staff console (staff only)
    path("admin/", admin.site.urls),
]
