"""Each socket delivers a room's messages in seq order, with nothing missing (issue #20):
events that overtake each other are put back in order, and a message whose broadcast
was lost is sent from storage. Also: frames that cannot be decoded or that fail in the
database get an error frame, and the socket stays open."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.db import connection
from django.test import override_settings

from community.chat.selectors import message_payload_by_id
from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.chat_support import (
    next_event,
    ready_socket,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

# Losing one broadcast replaces the sending process's layer object for a moment: only a
# layer whose groups live outside the object (Redis) keeps the sockets' subscriptions.
needs_shared_layer = pytest.mark.skipif(
    settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith(".InMemoryChannelLayer"),
    reason="needs a channel layer shared between layer objects (REDIS_URL)",
)

# Nothing listens on port 1: a broadcast through this layer is lost.
DEAD_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


@pytest.fixture(autouse=True)
def _short_gap_wait(settings):
    settings.REALTIME_GAP_WAIT_SECONDS = 0.3


def _send_unbroadcast(user, body: str) -> dict:
    """Store a message whose broadcast is lost (the layer is unreachable for it); the
    sockets' own layer object is untouched. Returns its payload."""
    membership = Membership.objects.get(user=user)
    with override_settings(CHANNEL_LAYERS=DEAD_LAYER):
        channel_layers.backends.clear()
        try:
            message = send_message(membership=membership, body=body)
        finally:
            channel_layers.backends.clear()
    return message_payload_by_id(message.pk)


async def _broadcast(room, payload: dict) -> None:
    await get_channel_layer().group_send(
        room.group_name,
        {"type": "moim.event", "event": {"type": "message.created", "message": payload}},
    )


async def _bodies(socket, count: int) -> list[tuple[int, str]]:
    events = [await next_event(socket, "message.created") for _ in range(count)]
    return [(event["message"]["seq"], event["message"]["body"]) for event in events]


@needs_shared_layer
async def test_events_that_overtake_each_other_are_delivered_in_seq_order(room_with_two):
    room, host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    first = await database_sync_to_async(_send_unbroadcast)(host, "one")
    second = await database_sync_to_async(_send_unbroadcast)(host, "two")
    await _broadcast(room, second)  # arrives first, as from a faster process
    await _broadcast(room, first)
    assert await _bodies(socket, 2) == [(1, "one"), (2, "two")]
    await socket.disconnect()


@needs_shared_layer
async def test_a_lost_broadcast_is_filled_from_storage_before_the_next_message(room_with_two):
    room, host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await database_sync_to_async(_send_unbroadcast)(host, "lost")
    host_membership = await database_sync_to_async(Membership.objects.get)(user=host)
    await database_sync_to_async(send_message)(membership=host_membership, body="next")
    assert await _bodies(socket, 2) == [(1, "lost"), (2, "next")]
    await socket.disconnect()


async def test_a_lost_last_broadcast_is_found_by_the_ping(room_with_two):
    """Nothing follows the lost message: the pong carries the room's committed seq, and
    the socket sends what it missed."""
    room, host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await database_sync_to_async(_send_unbroadcast)(host, "only one")
    await socket.send_json_to({"type": "ping", "ref": 1})
    assert (await next_event(socket, "pong"))["last_seq"] == 1
    assert await _bodies(socket, 1) == [(1, "only one")]
    await socket.disconnect()


@needs_shared_layer
async def test_repeated_live_copies_are_not_delivered_twice(room_with_two):
    room, host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    payload = await database_sync_to_async(_send_unbroadcast)(host, "once")
    await _broadcast(room, payload)
    await _broadcast(room, payload)
    assert await _bodies(socket, 1) == [(1, "once")]
    await socket.send_json_to({"type": "ping", "ref": "after"})
    assert (await next_event(socket, "pong", "message.created"))["type"] == "pong"
    await socket.disconnect()


# --- frames the server cannot use --------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "message.send", "body": "\\ud800", "client_id": "s1"}',  # lone surrogate
        '{"type": "message.send", "body": "\\udfff\\ud800x"}',
        "[" * 5000 + "]" * 5000,  # 10 KB of nesting
        '{"type": "ping", "ref": ' + "[" * 4000 + "]" * 4000 + "}",
    ],
    ids=["lone-surrogate", "reversed-surrogates", "deep-array", "deep-ref"],
)
async def test_undecodable_frames_get_invalid_frame_and_the_socket_stays(room_with_two, raw):
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await socket.send_to(text_data=raw)
    assert (await next_event(socket, "error"))["code"] == "invalid_frame"
    await socket.send_json_to({"type": "ping", "ref": 2})
    assert (await next_event(socket, "pong"))["ref"] == 2
    await socket.disconnect()


def _break_memberships(broken: bool) -> None:
    """Make every query on memberships fail (a database error mid-frame), or mend it.
    Renaming the table errs the frame's first query without touching the connections."""
    names = ("community_membership", "community_membership_away")
    old, new = names if broken else names[::-1]
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")


@pytest.mark.postgres_only
async def test_a_frame_during_a_database_error_gets_an_error_frame(room_with_two, settings):
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await database_sync_to_async(_break_memberships)(True)
    try:
        await socket.send_json_to({"type": "message.send", "body": "hi", "client_id": "db1"})
        error = await next_event(socket, "error")
        assert error["code"] == "try_again"
    finally:
        await database_sync_to_async(_break_memberships)(False)  # the database is back
    # Same socket, same client_id: the retry is stored once.
    await socket.send_json_to({"type": "message.send", "body": "hi", "client_id": "db1"})
    event = await next_event(socket, "message.created")
    assert event["message"]["client_id"] == "db1"
    await socket.disconnect()
