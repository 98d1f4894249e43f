"""The pub/sub layer's receive loop logs as itself, never as the socket that started it."""

import asyncio

import pytest
from django.conf import settings

from config import logs
from config.channel_layer import RedisPubSubChannelLayer, _PubSubShard
from config.redis_clients import channel_layer_settings

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")


async def test_the_shards_receive_loop_does_not_carry_the_first_subscribers_request_id(
    monkeypatch,
):
    seen = []
    started = asyncio.Event()
    original = _PubSubShard._do_receiving

    async def receiving(shard):
        seen.append(logs.current_request_id())
        started.set()
        await original(shard)

    monkeypatch.setattr(_PubSubShard, "_do_receiving", receiving)
    config = channel_layer_settings(
        [settings.REDIS_URL],
        backend="pubsub",
        prefix="moim-context-test",
        capacity=100,
        receive_block_seconds=1.0,
        socket_timeout=2.0,
        connect_timeout=2.0,
    )["CONFIG"]
    layer = RedisPubSubChannelLayer(**config)
    try:
        with logs.bound(request_id="socket-request-0001"):
            channel = await layer.new_channel()
            await layer.group_add("room.context", channel)
            assert logs.current_request_id() == "socket-request-0001"
        await asyncio.wait_for(started.wait(), 5)
        assert seen == [None]
    finally:
        await layer.flush()
