"""The web pages of community, one include per feature package."""

from django.urls import include, path

urlpatterns = [
    path("", include("community.rooms.urls")),
    path("", include("community.moderation.urls")),
    path("", include("community.notifications.urls")),
]
