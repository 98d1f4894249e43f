from django.urls import include, path

from community.api import media, messages, notifications, reactions

# One include per area; each helper adds its own line.
urlpatterns: list = [
    path("", include("community.api.moderation_urls")),
    path("", include("community.api.room_urls")),
    # JSON posts a text message; multipart (a ``file``) an image or video message.
    path(
        "rooms/<int:room_id>/messages/",
        messages.RoomMessagesView.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read/", messages.ReadMarkerView.as_view(), name="room-read"),
    path("messages/<int:message_id>/", messages.MessageDetailView.as_view(), name="message-detail"),
    # Notifications, unread counts, my rooms and preferences.
    path("notifications/", notifications.NotificationListView.as_view(), name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        notifications.NotificationReadView.as_view(),
        name="notification-read",
    ),
    path(
        "notifications/read-all/",
        notifications.NotificationReadAllView.as_view(),
        name="notifications-read-all",
    ),
    path("me/unread/", notifications.UnreadCountsView.as_view(), name="me-unread"),
    path("me/rooms/", notifications.MyRoomsView.as_view(), name="me-rooms"),
    path(
        "me/notification-settings/",
        notifications.NotificationSettingsView.as_view(),
        name="me-notification-settings",
    ),
    path(
        "rooms/<int:room_id>/notifications/",
        notifications.RoomNotificationLevelView.as_view(),
        name="room-notification-level",
    ),
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
    path("uploads/", media.UploadListView.as_view(), name="upload-list"),
    path("uploads/<int:asset_id>/", media.UploadDetailView.as_view(), name="upload-detail"),
    path("uploads/<int:asset_id>/use/", media.UploadUseView.as_view(), name="upload-use"),
    path("media/<uuid:key>/<str:variant>/", media.MediaFileView.as_view(), name="media-file"),
]
