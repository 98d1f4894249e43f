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


def channel_layer_settings(
    urls: list[str],
    *,
    prefix: str,
    capacity: int,
    socket_timeout: float,
    connect_timeout: float,
    receive_block_seconds: float,
) -> dict[str, Any]:
    """``CHANNEL_LAYERS["default"]``: channels-redis's core layer with timeouts.

    The layer's receive loop blocks in ``BZPOPMIN`` for ``receive_block_seconds``; that
    read must end before the socket timeout, or every idle process would see a timeout
    where there is only silence. So the block is capped below the socket timeout.
    """
    return {
        "BACKEND": "config.channel_layer.RedisChannelLayer",
        "CONFIG": {
            # One or several Redis servers; channels-redis hashes each channel and group
            # to one of them (CHANNEL_LAYER_REDIS_URLS).
            "hosts": [
                {
                    "address": url,
                    **client_timeouts(
                        socket_timeout=socket_timeout, connect_timeout=connect_timeout
                    ),
                }
                for url in urls
            ],
            "prefix": prefix,
            "capacity": capacity,
            "expiry": 60,
            "group_expiry": 86400,
            "receive_block_seconds": min(receive_block_seconds, socket_timeout / 2),
        },
    }


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
