from django.urls import path

from community.api import media, messages

urlpatterns: list = [
    # JSON posts a text message; multipart (a ``file``) an image or video message.
    path(
        "rooms/<int:room_id>/messages/",
        messages.RoomMessagesView.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read/", messages.ReadMarkerView.as_view(), name="room-read"),
    path("messages/<int:message_id>/", messages.MessageDetailView.as_view(), name="message-detail"),
    path("uploads/", media.UploadListView.as_view(), name="upload-list"),
    path("uploads/<int:asset_id>/", media.UploadDetailView.as_view(), name="upload-detail"),
    path("uploads/<int:asset_id>/use/", media.UploadUseView.as_view(), name="upload-use"),
    path("media/<uuid:key>/<str:variant>/", media.MediaFileView.as_view(), name="media-file"),
]
