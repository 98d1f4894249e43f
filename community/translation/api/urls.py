"""API routes: translation of messages."""

from django.urls import path

from community.translation.api import views

urlpatterns = [
    path(
        "messages/<int:message_id>/translation/",
        views.MessageTranslationView.as_view(),
        name="message-translation",
    ),
]
