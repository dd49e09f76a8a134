from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("<int:endpoint_id>/", views.endpoint_detail, name="detail"),
    path("<int:endpoint_id>/log/", views.endpoint_log, name="log"),
    path("<int:endpoint_id>/enable/", views.endpoint_enable, name="enable"),
    path("<int:endpoint_id>/test/", views.endpoint_test, name="test"),
    path("<int:endpoint_id>/roll-secret/", views.endpoint_roll_secret, name="roll_secret"),
    path("<int:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
]
