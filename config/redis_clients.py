"""How every Redis client Moim opens is configured: the cache, the channel layer and the
Celery broker. One builder each, used by the settings and by the fault tests (which point
them at a Redis of their own), so the timeouts under test are the production ones.

Every client gets a socket timeout and a connect timeout: without them a frozen Redis
(SIGSTOP, a full network buffer, a failover that drops packets) hangs each request or
socket that touches it for as long as the freeze lasts; with them the call fails after
a few seconds and the caller's fallback runs (throttles fail open, the broadcast hands
the room to the consumers' gap check, ``/healthz`` answers 503).

No Django imports here: the settings module imports it.
"""

from typing import Any


def client_timeouts(*, socket_timeout: float, connect_timeout: float) -> dict[str, float]:
    """redis-py connection options shared by every client."""
    return {"socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout}


# CHANNEL_LAYER_BACKEND: which channels-redis layer carries the realtime events.
CHANNEL_LAYER_BACKENDS = {
    # Sorted sets: group_send writes one copy per member channel; each delivery is one
    # BZPOPMIN in the receiving process. Messages wait in Redis while a process is away.
    "core": "config.channel_layer.RedisChannelLayer",
    # Pub/sub: one PUBLISH per group_send; each subscribed process fans out in memory.
    # Nothing waits in Redis: a process that reconnects tells its sockets to refill.
    "pubsub": "config.channel_layer.RedisPubSubChannelLayer",
}


def channel_layer_settings(
    urls: list[str],
    *,
    backend: str = "pubsub",
    prefix: str,
    capacity: int,
    socket_timeout: float,
    connect_timeout: float,
    receive_block_seconds: float,
    keepalive_seconds: float = 5.0,
) -> dict[str, Any]:
    """``CHANNEL_LAYERS["default"]``: channels-redis's core or pub/sub layer with timeouts.

    Core: the layer's receive loop blocks in ``BZPOPMIN`` for ``receive_block_seconds``;
    that read must end before the socket timeout, or every idle process would see a
    timeout where there is only silence. So the block is capped below the socket timeout.
    ``capacity`` is each channel's queue length in Redis.

    Pub/sub: each shard's subscription is pinged after ``keepalive_seconds`` of silence,
    and a pong missing for the socket timeout counts as a lost connection (reconnected,
    sockets told to refill). ``capacity`` and the receive block do not apply.
    """
    if backend not in CHANNEL_LAYER_BACKENDS:
        raise ValueError(
            f"CHANNEL_LAYER_BACKEND must be one of {', '.join(CHANNEL_LAYER_BACKENDS)}, "
            f"not {backend!r}"
        )
    # One or several Redis servers; channels-redis hashes each channel and group to one
    # of them (CHANNEL_LAYER_REDIS_URLS), on either layer.
    hosts = [
        {
            "address": url,
            **client_timeouts(socket_timeout=socket_timeout, connect_timeout=connect_timeout),
        }
        for url in urls
    ]
    if backend == "pubsub":
        config = {"hosts": hosts, "prefix": prefix, "keepalive_seconds": keepalive_seconds}
    else:
        config = {
            "hosts": hosts,
            "prefix": prefix,
            "capacity": capacity,
            "expiry": 60,
            "group_expiry": 86400,
            "receive_block_seconds": min(receive_block_seconds, socket_timeout / 2),
        }
    return {"BACKEND": CHANNEL_LAYER_BACKENDS[backend], "CONFIG": config}


def cache_settings(url: str, *, socket_timeout: float, connect_timeout: float) -> dict[str, Any]:
    """``CACHES["default"]``: Django's Redis cache, counting gets/hits/misses
    (django_cache_* metrics); OPTIONS go to redis-py's pool."""
    return {
        "BACKEND": "config.metrics.MeteredRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "moim",
        "TIMEOUT": 300,
        "OPTIONS": client_timeouts(socket_timeout=socket_timeout, connect_timeout=connect_timeout),
    }


def broker_transport_options(*, socket_timeout: float, connect_timeout: float) -> dict[str, Any]:
    """Merged into ``CELERY_BROKER_TRANSPORT_OPTIONS`` (kombu's Redis transport)."""
    return {
        **client_timeouts(socket_timeout=socket_timeout, connect_timeout=connect_timeout),
        "retry_on_timeout": False,
    }
