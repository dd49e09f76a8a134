from django.urls import path

from . import views

app_name = "usage"
urlpatterns = [
    path("", views.usage_index, name="index"),
    path("requests/", views.request_log, name="requests"),
    path("requests.csv", views.export_requests, name="export_requests"),
    path("hourly.csv", views.export_hours, name="export_hours"),
]
