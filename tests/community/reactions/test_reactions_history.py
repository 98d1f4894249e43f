"""Reactions inside chat: history payloads (fixed queries) and live events on the room socket."""

from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.chat_support import (
    next_event,
    ready_socket,
)
from tests.support.accounts import client_for

# Room, membership, messages (with authors and replies) and the reaction summaries.
HISTORY_QUERIES = 8


def react(user, message_id: int, emoji: str, *, remove: bool = False):
    path = f"/api/v1/messages/{message_id}/reactions/"
    if remove:
        return client_for(user).delete(f"{path}?{urlencode({'emoji': emoji})}")
    return client_for(user).post(path, {"emoji": emoji}, format="json")


@pytest.fixture
def chat_room(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host, nickname="Host")
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    return room, host, guest


@pytest.mark.django_db
def test_history_with_reactions_runs_a_fixed_number_of_queries(chat_room, make_user, make_member):
    room, host, guest = chat_room
    host_membership = Membership.objects.get(room=room, user=host)
    others = [make_user() for _ in range(3)]
    for other in others:
        make_member(room, other)

    def fill(count: int):
        for number in range(count):
            message = send_message(membership=host_membership, body=f"m{number}")
            for reactor in [guest, *others][: 1 + number % 4]:
                assert react(reactor, message.pk, "👍").status_code == 200
            react(others[0], message.pk, ["🔥", "❤️", "🎉"][number % 3])

    history = f"/api/v1/rooms/{room.pk}/messages/"
    client = client_for(guest)
    fill(3)
    with CaptureQueriesContext(connection) as small:
        results = client.get(history).json()["results"]
    fill(30)
    with CaptureQueriesContext(connection) as large:
        large_results = client.get(history).json()["results"]
    assert len(results) == 3
    assert len(large_results) == 33
    assert len(small) == len(large) <= HISTORY_QUERIES
    assert results[0]["reactions"] == [
        {"emoji": "👍", "count": 1, "me": True},
        {"emoji": "🔥", "count": 1, "me": False},
    ]
    thumbs = [payload["reactions"][0] for payload in large_results[3:]]
    assert [(r["emoji"], r["count"], r["me"]) for r in thumbs] == [
        ("👍", 1 + number % 4, True) for number in range(30)
    ]


@pytest.mark.django_db
def test_deleted_messages_carry_no_reactions(chat_room):
    room, host, guest = chat_room
    message = send_message(membership=Membership.objects.get(room=room, user=host), body="x")
    react(guest, message.pk, "👍")
    message.deleted_at = timezone.now()
    message.save(update_fields=["deleted_at"])
    results = client_for(guest).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    assert results[0]["deleted"] is True
    assert results[0]["reactions"] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_reaction_updated_reaches_every_socket_in_the_room(chat_room):
    room, host, guest = chat_room
    host_membership = await database_sync_to_async(Membership.objects.get)(room=room, user=host)
    message = await database_sync_to_async(send_message)(membership=host_membership, body="hi")
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, guest_ready = await ready_socket(guest, room.pk, auth="ticket")

    response = await database_sync_to_async(react)(guest, message.pk, "🎉")
    assert response.status_code == 200
    for socket in (host_socket, guest_socket):
        event = await next_event(socket, "reaction.updated")
        assert event == {
            "type": "reaction.updated",
            "target_type": "message",
            "target_id": message.pk,
            "room_id": room.pk,
            "emoji": "🎉",
            "action": "added",
            "membership_id": guest_ready["membership_id"],
            "reactions": [{"emoji": "🎉", "count": 1}],
        }
        assert "guest" not in str(event)

    await database_sync_to_async(react)(host, message.pk, "🎉")
    for socket in (host_socket, guest_socket):
        event = await next_event(socket, "reaction.updated")
        assert event["reactions"] == [{"emoji": "🎉", "count": 2}]
    await database_sync_to_async(react)(guest, message.pk, "🎉", remove=True)
    for socket in (host_socket, guest_socket):
        event = await next_event(socket, "reaction.updated")
        assert (event["action"], event["reactions"]) == ("removed", [{"emoji": "🎉", "count": 1}])
    await host_socket.disconnect()
    await guest_socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_catch_up_on_connect_carries_the_viewers_reactions(chat_room):
    room, host, guest = chat_room
    host_membership = await database_sync_to_async(Membership.objects.get)(room=room, user=host)
    message = await database_sync_to_async(send_message)(membership=host_membership, body="hi")
    await database_sync_to_async(react)(guest, message.pk, "👍")
    socket, _ = await ready_socket(guest, room.pk, after=0)
    event = await next_event(socket, "message.created")
    assert event["message"]["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    await socket.disconnect()


DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.django_db(transaction=True)
def test_reactions_survive_redis_down_for_layer_and_cache(chat_room, caplog):
    """Redis gone (channel layer, cache, throttle): the reaction is stored, the answer 200."""
    from channels.layers import channel_layers
    from django.test import override_settings

    room, host, guest = chat_room
    message = send_message(membership=Membership.objects.get(room=room, user=host), body="x")
    dead = {
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [DEAD_REDIS]},
            }
        },
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": DEAD_REDIS,
            }
        },
    }
    with override_settings(**dead):
        channel_layers.backends.clear()
        response = react(guest, message.pk, "👍")
        removed = react(guest, message.pk, "👍", remove=True)
        again = react(guest, message.pk, "🔥")
    channel_layers.backends.clear()
    assert response.status_code == 200
    assert response.json()["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    assert removed.status_code == again.status_code == 200
    assert again.json()["reactions"] == [{"emoji": "🔥", "count": 1, "me": True}]
    assert "channel layer unavailable" in caplog.text
