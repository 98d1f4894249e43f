"""Moim's channel layer: channels-redis's core layer with a configurable receive block.

channels-redis waits for messages with a ``BZPOPMIN`` of a fixed 5 seconds; with a
client socket timeout below that, every idle wait would end in a timeout. Blocking for
less (``receive_block_seconds``, a fraction of the socket timeout) keeps the socket
timeout short enough to notice a frozen Redis in seconds. Settings build its config
with ``config.redis_clients.channel_layer_settings``.
"""

import asyncio

from channels_redis.core import RedisChannelLayer as CoreRedisChannelLayer


class RedisChannelLayer(CoreRedisChannelLayer):
    def __init__(self, *, receive_block_seconds: float = 1.0, **config):
        super().__init__(**config)
        self.brpop_timeout = receive_block_seconds

    async def receive(self, channel):
        """As the core layer, but the message's removal from the in-flight backup queue
        finishes before the message is handed over. The core layer leaves it to a
        background task, which a short-lived event loop (``async_to_sync`` from sync
        code: tasks, commands, tests) cancels at exit; the next receive then puts the
        message back and delivers it twice."""
        message = await super().receive(channel)
        if self.receive_cleaners:
            await asyncio.wait(self.receive_cleaners[:])
        return message
