"""A channel layer sharded over several Redis servers: /healthz names a dead shard."""

import os

import pytest
from django.test import override_settings

LIVE = os.environ.get("REDIS_URL", "")
DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.redis,
    pytest.mark.skipif(not LIVE, reason="needs REDIS_URL"),
]


def sharded(*hosts):
    return override_settings(
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": list(hosts), "prefix": "moim-shard-test"},
            }
        }
    )


def test_every_shard_up_is_healthy(client):
    with sharded(LIVE, LIVE):
        response = client.get("/healthz")
    assert response.status_code == 200, response.json()


def test_a_dead_shard_gives_503_naming_it(client):
    with sharded(LIVE, DEAD):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["channel_layer"]
    error = body["checks"]["channel_layer"]["error"]
    assert "shard 1 (redis://127.0.0.1:1/0)" in error, error


def test_the_shard_name_never_carries_its_password(client):
    with sharded(LIVE, "redis://:hunter2-secret@127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    error = response.json()["checks"]["channel_layer"]["error"]
    assert "hunter2" not in response.content.decode()
    assert "shard 1 (redis://127.0.0.1:1/0)" in error, error
