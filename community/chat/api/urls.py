"""API routes: messages of a room (text and media posts), read markers, one message."""

from django.urls import path

from community.chat.api import views

urlpatterns = [
    # JSON posts a text message; multipart (a ``file``) an image or video message.
    path(
        "rooms/<int:room_id>/messages/",
        views.RoomMessagesView.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read/", views.ReadMarkerView.as_view(), name="room-read"),
    path("me/chats/", views.MyChatsView.as_view(), name="me-chats"),
    path("messages/<int:message_id>/", views.MessageDetailView.as_view(), name="message-detail"),
]
