from django.urls import path

from community.chat.consumers import RoomConsumer
from community.notifications.consumers import MeConsumer

websocket_urlpatterns: list = [
    path("ws/rooms/<int:room_id>/", RoomConsumer.as_asgi()),
    path("ws/me/", MeConsumer.as_asgi()),
]
