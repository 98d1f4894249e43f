"""Moim's channel layer: channels-redis's core layer with a configurable receive block.

channels-redis waits for messages with a ``BZPOPMIN`` of a fixed 5 seconds; with a
client socket timeout below that, every idle wait would end in a timeout. Blocking for
less (``receive_block_seconds``, a fraction of the socket timeout) keeps the socket
timeout short enough to notice a frozen Redis in seconds. Settings build its config
with ``config.redis_clients.channel_layer_settings``.
"""

from channels_redis.core import RedisChannelLayer as CoreRedisChannelLayer


class RedisChannelLayer(CoreRedisChannelLayer):
    def __init__(self, *, receive_block_seconds: float = 1.0, **config):
        super().__init__(**config)
        self.brpop_timeout = receive_block_seconds
