"""The web pages of community, one include per feature package."""

from django.urls import include, path

urlpatterns = [
    # Moderation first: its member sanctions share the rooms' member-action URL shape.
    path("", include("community.moderation.urls")),
    path("", include("community.chat.urls")),
    path("", include("community.rooms.urls")),
    path("", include("community.notifications.urls")),
    path("", include("community.push.urls")),
]
