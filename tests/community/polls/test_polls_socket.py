"""Polls live over the room socket: the poll arrives inside ``message.created``, every
vote and the close reach the room as ``poll.updated`` (counts only)."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from community.polls.models import Poll
from community.polls.services import close_due_polls
from tests.community.chat_support import next_event, no_event, ready_socket
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


async def test_votes_reach_every_socket_as_tallies_without_voters(
    make_user, make_room, make_member
):
    host = await database_sync_to_async(make_user)("host")
    guest = await database_sync_to_async(make_user)("guest")
    room = await database_sync_to_async(make_room)(owner=host)
    await database_sync_to_async(make_member)(room, guest, nickname="Guest")
    host_socket, _ready = await ready_socket(host, room.pk)
    guest_socket, _ready = await ready_socket(guest, room.pk)

    created = await database_sync_to_async(
        lambda: client_for(host).post(
            f"/api/v1/rooms/{room.pk}/polls/",
            {"question": "Tea or coffee?", "options": ["Tea", "Coffee"], "anonymous": True},
            format="json",
        )
    )()
    assert created.status_code == 201
    event = await next_event(guest_socket, "message.created")
    poll = event["message"]["poll"]
    assert [option["text"] for option in poll["options"]] == ["Tea", "Coffee"]
    assert poll["my_votes"] is None  # a broadcast is the same for everyone
    await next_event(host_socket, "message.created")

    tea = poll["options"][0]["id"]
    voted = await database_sync_to_async(
        lambda: client_for(guest).put(
            f"/api/v1/polls/{poll['id']}/vote/", {"options": [tea]}, format="json"
        )
    )()
    assert voted.status_code == 200
    for socket in (host_socket, guest_socket):
        update = await next_event(socket, "poll.updated")
        assert update == {
            "type": "poll.updated",
            "room_id": room.pk,
            "message_id": event["message"]["id"],
            "poll_id": poll["id"],
            "tallies": [
                {"option_id": tea, "votes": 1},
                {"option_id": poll["options"][1]["id"], "votes": 0},
            ],
            "total_voters": 1,
            "closed": False,
        }
    # The same vote again changes nothing and sends nothing.
    await database_sync_to_async(
        lambda: client_for(guest).put(
            f"/api/v1/polls/{poll['id']}/vote/", {"options": [tea]}, format="json"
        )
    )()
    await no_event(host_socket, "poll.updated")

    # The closing time passes: the closing task sends the final tallies, once.
    await database_sync_to_async(
        lambda: Poll.objects.filter(pk=poll["id"]).update(
            closes_at=timezone.now() - timedelta(seconds=1)
        )
    )()
    assert await database_sync_to_async(close_due_polls)() == 1
    final = await next_event(guest_socket, "poll.updated")
    assert final["closed"] is True and final["total_voters"] == 1
    for socket in (host_socket, guest_socket):
        await socket.disconnect()
