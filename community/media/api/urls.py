"""API routes: uploads and media files."""

from django.urls import path

from community.media.api import views

urlpatterns = [
    path("uploads/", views.UploadListView.as_view(), name="upload-list"),
    path("uploads/<int:asset_id>/", views.UploadDetailView.as_view(), name="upload-detail"),
    path("uploads/<int:asset_id>/use/", views.UploadUseView.as_view(), name="upload-use"),
    path("media/<uuid:key>/<str:variant>/", views.MediaFileView.as_view(), name="media-file"),
]
