"""The path of a message from its sender to every socket of the room (issue #26, fanout):
the frame's JSON is made once by the sender and written as is by each socket, the bytes
being what each socket made of the event before; only a viewer who blocked an author
gets a copy of their own. A room's broadcasts go out in the order they were committed."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from community import events
from community.chat.selectors import message_payload_by_id
from community.rooms.models import Membership
from config import realtime
from tests.community.chat_support import TIMEOUT, next_event, ready_socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


@pytest.fixture
def trio(make_user, make_room, make_member):
    """``host`` owns the room; ``bob`` shows his main profile there (so an account block
    folds him); ``me`` may block him."""
    host, bob, me = make_user("host"), make_user("bob"), make_user("myself")
    room = make_room(owner=host, title="Film club")
    make_member(room, bob, nickname="Bobby", is_open_profile=False)
    make_member(room, me, nickname="Me here")
    return room, host, bob, me


async def _raw_frame(socket, event_type: str) -> str:
    """The next frame of ``event_type`` as the text the server sent."""
    while True:
        output = await socket.receive_output(timeout=TIMEOUT)
        assert output["type"] == "websocket.send", output
        if json.loads(output["text"])["type"] == event_type:
            return output["text"]


async def test_a_live_message_frame_is_the_json_of_its_event(trio):
    room, host, bob, _me = trio
    host_socket, _ = await ready_socket(host, room.pk)
    bob_socket, _ = await ready_socket(bob, room.pk)
    await bob_socket.send_json_to({"type": "message.send", "body": "hi @host", "client_id": "c1"})
    text = await _raw_frame(host_socket, events.MESSAGE_CREATED)
    message_id = json.loads(text)["message"]["id"]
    payload = await database_sync_to_async(message_payload_by_id)(message_id)
    # What a socket sent before: json.dumps (Channels' encode_json) of the event.
    assert text == json.dumps(events.message_created(message=payload))
    assert await _raw_frame(bob_socket, events.MESSAGE_CREATED) == text

    await bob_socket.send_json_to({"type": "message.edit", "id": message_id, "body": "edited"})
    text = await _raw_frame(host_socket, events.MESSAGE_UPDATED)
    payload = await database_sync_to_async(message_payload_by_id)(message_id)
    assert text == json.dumps(events.message_updated(message=payload))
    for socket in (host_socket, bob_socket):
        await socket.disconnect()


async def test_a_reply_quoting_someone_i_blocked_is_folded_for_me_only(trio):
    room, host, bob, me = trio
    from profiles.services import block_user

    await database_sync_to_async(block_user)(blocker=me, blocked=bob)
    host_socket, _ = await ready_socket(host, room.pk)
    bob_socket, _ = await ready_socket(bob, room.pk)
    my_socket, _ = await ready_socket(me, room.pk)
    await bob_socket.send_json_to({"type": "message.send", "body": "spoiler", "client_id": "b1"})
    quoted = (await next_event(host_socket, "message.created"))["message"]
    await host_socket.send_json_to(
        {"type": "message.send", "body": "no!", "client_id": "h1", "reply_to": quoted["id"]}
    )
    mine = [(await next_event(my_socket, "message.created"))["message"] for _ in range(2)]
    assert [(m["collapsed"], (m["reply_to"] or {}).get("collapsed")) for m in mine] == [
        (True, None),
        (False, True),
    ]
    hosts = json.loads(await _raw_frame(host_socket, events.MESSAGE_CREATED))["message"]
    assert (hosts["collapsed"], hosts["reply_to"]["collapsed"]) == (False, False)
    # Apart from the flags, my copy is the room's.
    mine[1]["reply_to"]["collapsed"] = False
    assert mine[1] == hosts
    for socket in (host_socket, bob_socket, my_socket):
        await socket.disconnect()


@pytest.fixture
def held_broadcasts(monkeypatch):
    """The channel layer's ``group_send`` of message events waits until released."""
    layer = get_channel_layer()
    send = layer.group_send
    gate, reached = asyncio.Event(), asyncio.Event()

    async def group_send(group, message):
        if message.get("kind") == events.MESSAGE_CREATED:
            reached.set()
            await gate.wait()
        return await send(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)
    return gate, reached


async def test_a_rooms_broadcasts_leave_in_the_order_they_were_committed(
    trio, held_broadcasts, settings
):
    """Two sends committed on two threads (two requests in one room): the second one's
    broadcast waits behind the first, held, instead of overtaking it, and each sender
    waits for its own broadcast (a room that outruns the channel layer slows down)."""
    settings.REALTIME_BROADCAST_TIMEOUT_SECONDS = 30
    gate, reached = held_broadcasts
    room, _host, bob, _me = trio
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(room.group_name, channel)
    bob_member = await database_sync_to_async(Membership.objects.get)(room=room, user=bob)
    from community.chat.services import send_message

    send = database_sync_to_async(send_message, thread_sensitive=False)
    first = asyncio.ensure_future(send(membership=bob_member, body="one"))
    await asyncio.wait_for(reached.wait(), TIMEOUT)
    second = asyncio.ensure_future(send(membership=bob_member, body="two"))
    queued = realtime._GroupSends.queues[asyncio.get_running_loop()][room.group_name]
    async with asyncio.timeout(TIMEOUT):
        while len(queued) < 2:  # the second one is committed and handed over
            await asyncio.sleep(0.01)
    assert not first.done() and not second.done()  # each waits for its broadcast
    gate.set()
    received = []
    while len(received) < 2:
        message = await asyncio.wait_for(layer.receive(channel), TIMEOUT)
        if message.get("kind") == events.MESSAGE_CREATED:
            received.append(json.loads(message["text"])["message"]["body"])
    assert received == ["one", "two"]
    await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
    await layer.group_discard(room.group_name, channel)


async def test_a_sockets_send_is_published_by_its_rooms_lane_not_the_server_loop(
    trio, held_broadcasts, settings
):
    """A room's lane runs its sends one at a time, so it publishes each itself, on a
    blocking client of the group's shard: the broadcast does not wait for the server's
    event loop (busy with every socket's deliveries), where the held ``group_send``
    would stop it."""
    from config.channel_layer import RedisPubSubChannelLayer

    if not settings.REALTIME_DB_LANES or not isinstance(
        get_channel_layer(), RedisPubSubChannelLayer
    ):
        pytest.skip("lanes and the pub/sub layer: PostgreSQL and Redis")
    gate, reached = held_broadcasts
    room, _host, bob, me = trio
    bob_socket, _ = await ready_socket(bob, room.pk)
    my_socket, _ = await ready_socket(me, room.pk)
    await bob_socket.send_json_to({"type": "message.send", "body": "from the lane"})
    created = await next_event(my_socket, "message.created")
    assert created["message"]["body"] == "from the lane"
    assert not reached.is_set()  # never went through the loop's group_send
    # Elsewhere (a request's thread) the send is handed to the server's loop, as before.
    bob_member = await database_sync_to_async(Membership.objects.get)(room=room, user=bob)
    from community.chat.services import send_message

    rest = asyncio.ensure_future(
        database_sync_to_async(send_message, thread_sensitive=False)(
            membership=bob_member, body="from a request"
        )
    )
    await asyncio.wait_for(reached.wait(), TIMEOUT)
    gate.set()
    created = await next_event(my_socket, "message.created")
    assert created["message"]["body"] == "from a request"
    await asyncio.wait_for(rest, TIMEOUT)
    for socket in (bob_socket, my_socket):
        await socket.disconnect()
