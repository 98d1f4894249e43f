from django.urls import include, path

from community.api import messages, reactions

# One include or block per area.
urlpatterns: list = [
    path("", include("community.api.moderation_urls")),
    path("", include("community.api.room_urls")),
    path(
        "rooms/<int:room_id>/messages/",
        messages.RoomMessagesView.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read/", messages.ReadMarkerView.as_view(), name="room-read"),
    path("messages/<int:message_id>/", messages.MessageDetailView.as_view(), name="message-detail"),
    path(
        "messages/<int:pk>/reactions/",
        reactions.MessageReactionsView.as_view(),
        name="message-reactions",
    ),
    path(
        "posts/<int:pk>/reactions/",
        reactions.StatusPostReactionsView.as_view(),
        name="status-post-reactions",
    ),
    path("rooms/<int:pk>/reactions/", reactions.RoomReactionsView.as_view(), name="room-reactions"),
]
