"""API routes: reactions on messages, status posts and rooms."""

from django.urls import path

from community.reactions.api import views

urlpatterns = [
    path(
        "messages/<int:pk>/reactions/",
        views.MessageReactionsView.as_view(),
        name="message-reactions",
    ),
    path(
        "posts/<int:pk>/reactions/",
        views.StatusPostReactionsView.as_view(),
        name="status-post-reactions",
    ),
    path("rooms/<int:pk>/reactions/", views.RoomReactionsView.as_view(), name="room-reactions"),
]
