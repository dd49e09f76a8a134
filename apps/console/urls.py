from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("playground/", views.playground, name="playground"),
    path("playground/chat/", views.playground_chat, name="playground_chat"),
    path("models/", views.model_list, name="models"),
    # Model ids may hold "/" and "." (e.g. "openai/gpt-4.1").
    path("models/<path:model_id>/", views.model_detail, name="model"),
    path("usage/requests/find/", views.request_search, name="request_search"),
    path("usage/requests/<str:request_id>/", views.request_detail, name="request_detail"),
]
