"""Fault injection: the app (in-process) pointed at a Redis of the test's own."""

import pytest
from channels.layers import channel_layers
from django.test import override_settings

from config.celery import app as celery_app
from config.redis_clients import (
    broker_transport_options,
    cache_settings,
    channel_layer_settings,
)
from tests.faults.redis_process import RedisProcess, redis_server_available
from tests.support.broker import reset_broker_pools

# Short timeouts so each fault resolves in about a second; the builders are the ones
# the settings use, so these are the production timeouts, scaled down.
FAULT_TIMEOUTS = {"socket_timeout": 0.5, "connect_timeout": 0.5}


@pytest.fixture
def own_redis(tmp_path):
    if not redis_server_available():
        pytest.skip("needs redis-server")
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["core", "pubsub"])
def channel_layer_backend(request):
    """Every fault test runs on both channel layers (CHANNEL_LAYER_BACKEND); a test that
    is about one of them narrows it with ``parametrize(..., indirect=True)``."""
    return request.param


@pytest.fixture
def app_on_own_redis(own_redis, channel_layer_backend):
    """Cache, channel layer and broker on ``own_redis``, with the real option builders.
    Restored before the suite's own fixtures clear the (then shared again) cache."""
    own_redis.channel_layer_backend = channel_layer_backend
    overrides = override_settings(
        CACHES={"default": cache_settings(own_redis.url, **FAULT_TIMEOUTS)},
        CHANNEL_LAYERS={
            "default": channel_layer_settings(
                [own_redis.url],
                backend=channel_layer_backend,
                prefix="moim-fault",
                capacity=5000,
                receive_block_seconds=0.2,
                keepalive_seconds=0.5,
                **FAULT_TIMEOUTS,
            )
        },
        REALTIME_BROADCAST_TIMEOUT_SECONDS=1.0,
        HEALTHZ_CHECK_TIMEOUT_SECONDS=1.0,
        REALTIME_GAP_WAIT_SECONDS=0.3,
    )
    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_transport_options, conf.task_always_eager)
    conf.broker_url = own_redis.url
    conf.broker_transport_options = {
        "visibility_timeout": 3600,
        **broker_transport_options(**FAULT_TIMEOUTS),
    }
    conf.task_always_eager = True  # tasks in-process; the broker is only health-checked
    reset_broker_pools()
    channel_layers.backends.clear()
    with overrides:
        yield own_redis
    channel_layers.backends.clear()
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
    reset_broker_pools()
