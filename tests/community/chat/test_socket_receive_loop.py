"""A room socket's receive loop on the pub/sub layer (issue #26, fanout per delivery):
events are read from the socket's queue in the layer, without Channels' task and
``asyncio.wait`` per event; client frames and events are still handled one at a time;
the socket's channel is forgotten and unsubscribed when it closes. The test forces the
pub/sub layer, so it runs the same with ``CHANNEL_LAYER_BACKEND=core``."""

import asyncio

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from config.redis_clients import CHANNEL_LAYER_BACKENDS
from tests.community.chat_support import TIMEOUT, next_event, ready_socket

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

EVENTS = 40


@pytest.fixture
def pubsub_layer(settings):
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": CHANNEL_LAYER_BACKENDS["pubsub"],
            "CONFIG": {"hosts": config["hosts"], "prefix": config["prefix"]},
        }
    }
    return get_channel_layer()


@pytest.fixture
def room_and_host(make_user, make_room):
    host = make_user("host")
    return make_room(owner=host, title="Busy room"), host


@pytest.fixture
async def counted_tasks():
    """How many tasks the event loop creates while ``counting`` is set."""
    loop = asyncio.get_running_loop()
    counter = {"counting": False, "tasks": 0}

    def factory(loop, coro, **kwargs):
        if counter["counting"]:
            counter["tasks"] += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    yield counter
    loop.set_task_factory(None)


async def test_events_reach_a_socket_without_a_task_each(
    pubsub_layer, counted_tasks, room_and_host
):
    room, host = room_and_host
    socket, _ready = await ready_socket(host, room.pk)
    await asyncio.sleep(0.2)  # the socket's own start-up (presence) is done
    while not socket.output_queue.empty():
        socket.output_queue.get_nowait()

    # Published by another process (this loop's own client makes a task per command).
    local = pubsub_layer._get_layer()
    group_channel = local._get_group_channel_name(room.group_name)
    publisher = redis.Redis.from_url(local._get_shard(group_channel).host["address"])
    counted_tasks["counting"] = True
    for number in range(EVENTS):
        message = {"type": "moim.event", "event": {"type": "probe", "n": number}}
        publisher.publish(group_channel, pubsub_layer.serialize(message))
    async with asyncio.timeout(TIMEOUT):
        while socket.output_queue.qsize() < EVENTS:
            await asyncio.sleep(0.01)
    counted_tasks["counting"] = False

    # Channels' loop made one task per event (and one asyncio.wait).
    assert counted_tasks["tasks"] < EVENTS // 4
    received = [(await next_event(socket, "probe"))["n"] for _ in range(EVENTS)]
    assert received == list(range(EVENTS))
    await socket.disconnect()
    publisher.close()


async def test_a_group_message_is_decoded_once_for_the_sockets_of_a_process(
    pubsub_layer, room_with_two, monkeypatch
):
    room, host, guest = room_with_two
    sockets = [(await ready_socket(user, room.pk))[0] for user in (host, guest, host)]
    decoded = []
    deserialize = pubsub_layer.deserialize

    def counted(raw):
        if b"probe" in raw:  # not the room's presence events
            decoded.append(raw)
        return deserialize(raw)

    monkeypatch.setattr(pubsub_layer, "deserialize", counted)
    for number in range(10):
        await pubsub_layer.group_send(
            room.group_name, {"type": "moim.event", "event": {"type": "probe", "n": number}}
        )
    for socket in sockets:
        assert [(await next_event(socket, "probe"))["n"] for _ in range(10)] == list(range(10))
    assert len(decoded) == 10  # not 30
    for socket in sockets:
        await socket.disconnect()


async def test_frames_and_events_are_handled_in_turn_and_the_channel_is_dropped_at_close(
    pubsub_layer, room_and_host
):
    room, host = room_and_host
    socket, ready = await ready_socket(host, room.pk)
    local = pubsub_layer._get_layer()
    assert len(local.channels) == 1  # the socket's own channel

    for number in range(5):
        await socket.send_json_to({"type": "ping", "ref": number})
        await pubsub_layer.group_send(
            room.group_name, {"type": "moim.event", "event": {"type": "probe", "n": number}}
        )
    pongs, probes = [], []
    while len(pongs) < 5 or len(probes) < 5:
        event = await next_event(socket, "pong", "probe")
        (pongs if event["type"] == "pong" else probes).append(event.get("ref", event.get("n")))
    assert (pongs, probes) == (list(range(5)), list(range(5)))

    await socket.send_json_to({"type": "message.send", "body": "still here", "client_id": "c1"})
    created = await next_event(socket, "message.created")
    assert created["message"]["seq"] == ready["last_seq"] + 1

    await socket.disconnect()
    assert local.channels == {}
    assert room.group_name not in str(local.groups)
