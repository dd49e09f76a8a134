from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("", views.billing_index, name="index"),
    path("checkout/", views.checkout, name="checkout"),
    path("currency/", views.currency, name="currency"),
    path("redeem/", views.redeem, name="redeem"),
    path("success/", views.success, name="success"),
    path("cancel/", views.cancel, name="cancel"),
    path("low-balance/", views.low_balance, name="low_balance"),
    path("budget/", views.budget, name="budget"),
    path("auto-top-up/", views.auto_topup, name="auto_topup"),
    path("card/", views.card, name="card"),
    path("card/saved/", views.card_saved, name="card_saved"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
