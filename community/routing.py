from django.urls import path

from community.consumers import RoomConsumer
from community.me_consumer import MeConsumer

websocket_urlpatterns: list = [
    path("ws/rooms/<int:room_id>/", RoomConsumer.as_asgi()),
    path("ws/me/", MeConsumer.as_asgi()),
]
