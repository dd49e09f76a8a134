from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("", views.billing_index, name="index"),
    path("checkout/", views.checkout, name="checkout"),
    path("success/", views.success, name="success"),
    path("cancel/", views.cancel, name="cancel"),
    path("low-balance/", views.low_balance, name="low_balance"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
