from django.urls import path

from community.api import media

urlpatterns: list = [
    path("uploads/", media.UploadListView.as_view(), name="upload-list"),
    path("uploads/<int:asset_id>/", media.UploadDetailView.as_view(), name="upload-detail"),
    path("media/<uuid:key>/<str:variant>/", media.MediaFileView.as_view(), name="media-file"),
    # Until chat's message endpoint takes multipart and hands it to post_media_message.
    path(
        "rooms/<int:room_id>/messages/",
        media.RoomMediaMessageView.as_view(),
        name="room-media-messages",
    ),
]
