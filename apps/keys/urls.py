from django.urls import path

from . import views

app_name = "keys"
urlpatterns = [
    path("", views.key_list, name="list"),
    path("<int:key_id>/", views.key_detail, name="detail"),
    path("<int:key_id>/revoke/", views.key_revoke, name="revoke"),
    path("<int:key_id>/rotate/", views.key_rotate, name="rotate"),
]
