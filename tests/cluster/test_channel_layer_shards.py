"""A channel layer sharded over several Redis servers: /healthz names a dead shard, and
a group shard that restarts empty gets its members back."""

import asyncio
import contextlib
import os
import time

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


# --- A group's shard restarts (empty) while its members' process receives elsewhere ------


@pytest.fixture
def two_shards(tmp_path):
    from tests.faults.redis_process import RedisProcess, redis_server_available

    if not redis_server_available():
        pytest.skip("needs redis-server")
    shards = []
    for index in range(2):
        (tmp_path / str(index)).mkdir()
        shards.append(RedisProcess(tmp_path / str(index)))
        shards[-1].start()
    yield shards
    for shard in shards:
        shard.stop()


def moim_layer(shards):
    from config.channel_layer import RedisChannelLayer
    from config.redis_clients import channel_layer_settings

    config = channel_layer_settings(
        [shard.url for shard in shards],
        backend="core",
        prefix="moim-shard-restart",
        capacity=100,
        socket_timeout=0.5,
        connect_timeout=0.5,
        receive_block_seconds=0.2,
    )["CONFIG"]
    return RedisChannelLayer(**config, shard_check_seconds=0.2)


async def _channel_and_group_on_other_shards(layer):
    """A channel of this process, and a group kept on the other shard."""
    channel = await layer.new_channel()
    receiving_on = layer.consistent_hash(layer.non_local_name(channel))
    group = next(
        f"room-{i}" for i in range(100) if layer.consistent_hash(f"room-{i}") != receiving_on
    )
    return channel, group, layer.consistent_hash(group)


async def _delivered(layer, group, channel, *, within: float) -> dict | None:
    """group_send until the channel receives (the shard may be down meanwhile)."""
    receiving = asyncio.ensure_future(layer.receive(channel))
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the shard is still starting
                await layer.group_send(group, {"type": "chat.event", "text": "hello"})
            done, _pending = await asyncio.wait({receiving}, timeout=0.2)
            if done:
                return receiving.result()
        return None
    finally:
        receiving.cancel()


@pytest.mark.django_db(transaction=False)
async def test_a_restarted_group_shard_gets_this_process_s_members_back(two_shards):
    layer = moim_layer(two_shards)
    channel, group, group_shard = await _channel_and_group_on_other_shards(layer)
    await layer.group_add(group, channel)
    assert await _delivered(layer, group, channel, within=5) is not None

    two_shards[group_shard].kill()  # forgets the group: nothing on disk
    two_shards[group_shard].start()  # same address, empty

    # The process still receives on its own shard; its membership is added again.
    message = await _delivered(layer, group, channel, within=10)
    assert message == {"type": "chat.event", "text": "hello"}
    await layer.flush()
    await layer.close_pools()


@pytest.mark.django_db(transaction=False)
async def test_a_discarded_membership_is_not_added_again(two_shards):
    layer = moim_layer(two_shards)
    channel, group, group_shard = await _channel_and_group_on_other_shards(layer)
    other, _group, _shard = await _channel_and_group_on_other_shards(layer)
    await layer.group_add(group, channel)
    await layer.group_add(group, other)
    await layer.group_discard(group, channel)
    assert layer.local_memberships == {group: {other}}

    two_shards[group_shard].kill()
    two_shards[group_shard].start()
    assert await _delivered(layer, group, other, within=10) is not None  # rejoined
    members = await layer.connection(group_shard).zrange(layer._group_key(group), 0, -1)
    assert members == [other.encode()]  # the discarded channel stayed out
    await layer.flush()
    await layer.close_pools()
