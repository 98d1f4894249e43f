"""API routes: link previews."""

from django.urls import path

from community.links.api import views

urlpatterns = [
    path("link-preview/", views.LinkPreviewView.as_view(), name="link-preview"),
    path(
        "link-previews/<uuid:key>/image/",
        views.LinkPreviewImageView.as_view(),
        name="link-preview-image",
    ),
]
