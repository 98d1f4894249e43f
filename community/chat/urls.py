"""Web pages of the chat: Chats (the signed-in home) and a room's chat screen."""

from django.urls import path

from community.chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/<int:room_id>/", views.room_page, name="room-detail"),
]
