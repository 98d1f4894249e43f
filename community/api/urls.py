"""The community API (under /api/v1/), one include per feature package."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("community.moderation.api.urls")),
    path("", include("community.rooms.api.urls")),
    path("", include("community.chat.api.urls")),
    path("", include("community.notifications.api.urls")),
    path("", include("community.push.api.urls")),
    path("", include("community.reactions.api.urls")),
    path("", include("community.media.api.urls")),
    path("", include("community.links.api.urls")),
    path("", include("community.polls.api.urls")),
    path("", include("community.meetups.api.urls")),
    path("", include("community.translation.api.urls")),
]
