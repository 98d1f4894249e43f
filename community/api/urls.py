from django.urls import include, path

# One include per area; each helper adds its own line.
urlpatterns: list = [
    path("", include("community.api.room_urls")),
]
