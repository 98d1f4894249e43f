from django.urls import path

from community.api import messages

urlpatterns: list = [
    path(
        "rooms/<int:room_id>/messages/",
        messages.RoomMessagesView.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read/", messages.ReadMarkerView.as_view(), name="room-read"),
    path("messages/<int:message_id>/", messages.MessageDetailView.as_view(), name="message-detail"),
]
