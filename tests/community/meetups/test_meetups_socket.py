"""Meetups live over the room socket: the event arrives inside ``message.created``, and
every answer reaches the room as ``meetup.updated`` (counts only)."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from tests.community.chat_support import next_event, ready_socket
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


async def test_rsvps_reach_every_socket_as_counts(make_user, make_room, make_member):
    host = await database_sync_to_async(make_user)("host")
    guest = await database_sync_to_async(make_user)("guest")
    room = await database_sync_to_async(make_room)(owner=host)
    await database_sync_to_async(make_member)(room, guest, nickname="Guest")
    host_socket, _ready = await ready_socket(host, room.pk)

    starts_at = (timezone.now() + timedelta(days=2)).isoformat()
    created = await database_sync_to_async(
        lambda: client_for(host).post(
            f"/api/v1/rooms/{room.pk}/meetups/",
            {"title": "Picnic", "starts_at": starts_at, "capacity": 1},
            format="json",
        )
    )()
    assert created.status_code == 201
    event = await next_event(host_socket, "message.created")
    meetup = event["message"]["meetup"]
    assert meetup["capacity"] == 1 and meetup["my_rsvp"] is None

    answered = await database_sync_to_async(
        lambda: client_for(guest).put(
            f"/api/v1/meetups/{meetup['id']}/rsvp/", {"status": "going"}, format="json"
        )
    )()
    assert answered.status_code == 200
    update = await next_event(host_socket, "meetup.updated")
    assert update == {
        "type": "meetup.updated",
        "room_id": room.pk,
        "message_id": event["message"]["id"],
        "meetup_id": meetup["id"],
        "counts": {"going": 1, "maybe": 0, "not_going": 0, "waitlisted": 0},
        "full": True,
    }
    await host_socket.disconnect()
