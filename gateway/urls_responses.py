from __future__ import annotations

from django.urls import path

from gateway import views_responses

urlpatterns = [
    path("v1/responses", views_responses.responses, name="gateway-responses"),
    path("v1/responses/<str:response_id>", views_responses.retrieve, name="gateway-responses-retrieve"),
]
