from __future__ import annotations

from django.urls import path

from gateway import views

urlpatterns = [
    path("v1/messages", views.messages, name="gateway-messages"),
    path("v1/messages/count_tokens", views.count_tokens, name="gateway-count-tokens"),
    path("v1/chat/completions", views.chat_completions, name="gateway-chat-completions"),
]
