from django.contrib import admin
from django.urls import path

from . import views

app_name = "staff"

# admin_view: staff only (is_active and is_staff), others sent to the admin's login, which is
# allauth's with its two-factor step (config/urls.py); never cached.
urlpatterns = [
    path("", admin.site.admin_view(views.console), name="console"),
    path("export/<slug:kind>.csv", admin.site.admin_view(views.export_csv), name="export"),
]
