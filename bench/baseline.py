"""Baselines served by the same ASGI server as Moim, only when ``BENCH_ENDPOINTS`` is on.

They are what Moim's numbers are divided by: a trivial Django JSON view, and a minimal
Channels consumer that only does ``group_send`` (no database, no auth).
"""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import JsonResponse
from django.urls import path, re_path


def trivial_json(request):
    return JsonResponse({"ok": True})


class MinimalFanoutConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = f"bench.{self.scope['url_route']['kwargs']['group']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(self.group, {"type": "fanout", "text": text_data})

    async def fanout(self, message):
        await self.send(text_data=message["text"])


urlpatterns = [path("bench/trivial", trivial_json)]
websocket_urlpatterns = [re_path(r"^ws/bench/(?P<group>\w+)/$", MinimalFanoutConsumer.as_asgi())]
