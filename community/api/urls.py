from django.urls import include, path

from community.api import messages

# One include per area; each helper adds its own line.
urlpatterns: list = [
    path("", include("community.api.room_urls")),
    path(
        "rooms/<int:room_id>/messages/",
        messages.RoomMessagesView.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read/", messages.ReadMarkerView.as_view(), name="room-read"),
    path("messages/<int:message_id>/", messages.MessageDetailView.as_view(), name="message-detail"),
]
