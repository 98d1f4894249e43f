"""Baselines served by the same ASGI server as Moim, only when ``BENCH_ENDPOINTS`` is on.

They are what Moim's numbers are divided by: a trivial Django JSON view, a minimal
Channels consumer that only does ``group_send`` (no database, no auth), and an HTTP
POST that only does that ``group_send`` (the floor under a REST send). Both use the core
channels-redis layer (``settings.BENCH_CHANNEL_LAYER``) whichever layer Moim is on.
"""

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

# The naive design (core layer) when the settings define it (Redis), whatever layer Moim
# runs on: Moim's ratio then shows what CHANNEL_LAYER_BACKEND buys.
_ALIAS = (
    settings.BENCH_CHANNEL_LAYER
    if settings.BENCH_CHANNEL_LAYER in settings.CHANNEL_LAYERS
    else "default"
)


def trivial_json(request):
    return JsonResponse({"ok": True})


@csrf_exempt
async def publish(request, group: str):
    """POST ``{"body": ...}``: hand the body to the minimal consumers of ``group``."""
    try:
        body = json.loads(request.body)["body"]
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest()
    await get_channel_layer(_ALIAS).group_send(f"bench.{group}", {"type": "fanout", "text": body})
    return JsonResponse({"ok": True}, status=201)


class MinimalFanoutConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = _ALIAS

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


urlpatterns = [
    path("bench/trivial", trivial_json),
    re_path(r"^bench/publish/(?P<group>\w+)$", publish),
]
websocket_urlpatterns = [re_path(r"^ws/bench/(?P<group>\w+)/$", MinimalFanoutConsumer.as_asgi())]
