from django.urls import include, path

# One include per area; each helper adds its own line.
urlpatterns: list = [
    # Moderation first: its kick/ban/unban/mute routes carry the audit log and the
    # socket effects, and win over any same-path route below.
    path("", include("community.api.moderation_urls")),
    path("", include("community.api.room_urls")),
]
