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

    async def _brpop_with_clean(self, index, channel, timeout):
        """As the core layer, but a cancellation is never lost.

        On Python 3.11, ``asyncio.timeout`` (which redis-py wraps around every read when
        a socket timeout is set) can turn a cancellation that arrives as the read ends
        into ``TimeoutError``; redis-py then retries the blocking pop and channels-redis
        loops on, so a consumer being shut down (a closed socket, a test's teardown)
        keeps waiting for messages for ever. A cancel still pending once the pop
        returns is raised here instead."""
        try:
            return await super()._brpop_with_clean(index, channel, timeout)
        finally:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

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
