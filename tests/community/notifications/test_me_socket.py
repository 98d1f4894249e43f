"""``/ws/me/``: live notifications and unread totals through the full ASGI stack."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from community.chat.services import mark_read, send_message
from community.moderation.services import check_file_report
from community.notifications import consumers as me_consumer
from community.notifications.models import Notification
from community.notifications.services import mark_all_notifications_read, notify_new_follower
from community.rooms.models import JoinRequest, Membership, Room
from config.asgi import application
from config.realtime import issue_socket_ticket
from tests.community.moderation_helpers import make_moderator

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]
TIMEOUT = 5


async def me_socket(user):
    path = "/ws/me/"
    if user is not None:
        ticket = await database_sync_to_async(issue_socket_ticket)(user_id=user.pk)
        path += f"?ticket={ticket}"
    socket = WebsocketCommunicator(application, path, [(b"host", b"testserver")])
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    return socket


async def next_event(socket, *types):
    while True:
        output = await socket.receive_output(timeout=TIMEOUT)
        assert output["type"] == "websocket.send", output
        event = json.loads(output["text"])
        if not types or event["type"] in types:
            return event


@pytest.fixture
def chat(make_user, make_room, make_member):
    reader, talker = make_user("reader"), make_user("talker")
    room = make_room(owner=talker, nickname="Talker")
    reader_membership = make_member(room, reader, nickname="Reader")
    return room, reader, reader_membership, Membership.objects.get(room=room, user=talker)


async def test_anonymous_is_refused(chat):
    socket = await me_socket(None)
    output = await socket.receive_output(timeout=TIMEOUT)
    assert (output["type"], output.get("code")) == ("websocket.close", 4401)


async def test_notifications_and_unread_totals_arrive_live(chat, make_user, monkeypatch):
    monkeypatch.setattr(me_consumer, "UNREAD_COALESCE_SECONDS", 0.05)
    _room, reader, reader_membership, talker_membership = chat
    socket = await me_socket(reader)
    ready = await next_event(socket)
    assert ready == {
        "type": "ready",
        "protocol": 1,
        "unread": {"messages": 0, "mentions": 0, "notifications": 0},
    }

    # A mention: the notification, then the new totals.
    await database_sync_to_async(send_message)(membership=talker_membership, body="@Reader hi")
    created = await next_event(socket, "notification.created")
    assert created["notification"]["kind"] == "mention"
    assert created["notification"]["actors"] == ["Talker"]
    totals = await next_event(socket, "unread.updated")
    assert (totals["notifications"], totals["mentions"]) == (1, 1)

    # A plain message in one of my rooms refreshes the totals (coalesced).
    await database_sync_to_async(send_message)(membership=talker_membership, body="plain")
    totals = await next_event(socket, "unread.updated")
    assert totals["messages"] == 2

    # Reading the room moves the totals down and reads the mention's notification.
    await database_sync_to_async(mark_read)(membership=reader_membership, seq=2)
    totals = await next_event(socket, "unread.updated")
    assert (totals["messages"], totals["mentions"], totals["notifications"]) == (0, 0, 0)

    # Someone else's notification never reaches this socket.
    other = await database_sync_to_async(make_user)("other")
    await database_sync_to_async(notify_new_follower)(follower=reader, followed=other)
    await database_sync_to_async(notify_new_follower)(follower=other, followed=reader)
    event = await next_event(socket, "notification.created")
    handle = await database_sync_to_async(lambda: other.profile.handle)()
    assert event["notification"]["actors"] == [f"@{handle}"]
    assert (await next_event(socket, "unread.updated"))["notifications"] == 1
    assert await database_sync_to_async(Notification.objects.filter(recipient=reader).count)() == 2
    # "Mark all read" empties the badge.
    await database_sync_to_async(mark_all_notifications_read)(user=reader)
    assert (await next_event(socket, "unread.updated"))["notifications"] == 0

    await socket.send_json_to({"type": "ping"})
    assert (await next_event(socket, "pong", "error"))["type"] == "pong"
    await socket.send_to(text_data="not json")
    assert (await next_event(socket, "error"))["code"] == "unknown_frame"
    await socket.disconnect()


async def test_own_messages_do_not_refresh_totals(chat, monkeypatch):
    monkeypatch.setattr(me_consumer, "UNREAD_COALESCE_SECONDS", 0.05)
    _room, reader, reader_membership, _talker = chat
    socket = await me_socket(reader)
    await next_event(socket, "ready")
    await database_sync_to_async(send_message)(membership=reader_membership, body="mine")
    # Only the chat list hears of it (the room moves up), not the totals.
    assert (await next_event(socket))["type"] == "chat.activity"
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_a_room_joined_after_connecting_is_followed_too(chat, make_room, monkeypatch):
    monkeypatch.setattr(me_consumer, "UNREAD_COALESCE_SECONDS", 0.05)
    _room, reader, _reader_membership, talker_membership = chat
    socket = await me_socket(reader)
    await next_event(socket, "ready")

    from community.rooms.services import join_room

    talker = await database_sync_to_async(lambda: talker_membership.user)()
    new_room = await database_sync_to_async(make_room)(owner=talker, title="Later room")
    await database_sync_to_async(join_room)(room_id=new_room.pk, user=reader, nickname="R2")
    new_talker = await database_sync_to_async(Membership.objects.get)(room=new_room, user=talker)
    await database_sync_to_async(send_message)(membership=new_talker, body="news")
    # Totals come after the socket follows the room (even if "news" was said before it
    # listened) and after "news": whichever comes last counts it.
    totals = await next_event(socket, "unread.updated")
    while totals["messages"] != 1:
        totals = await next_event(socket, "unread.updated")
    while not await socket.receive_nothing(timeout=0.6):  # a refresh already scheduled
        event = json.loads(await socket.receive_from())
        assert event["type"] == "chat.activity" or event["messages"] == 1
    # My own messages in the new room do not count (the chat list still hears of them).
    mine = await database_sync_to_async(Membership.objects.get)(room=new_room, user=reader)
    await database_sync_to_async(send_message)(membership=mine, body="me too")
    assert await next_event(socket) == {"type": "chat.activity", "room_ids": [new_room.pk]}
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


def _request_to_join(asker, room_id: int) -> int:
    client = APIClient()
    client.force_authenticate(asker)
    response = client.post(f"/api/v1/rooms/{room_id}/join/", {"nickname": "Shy Fox"})
    assert response.status_code in (200, 201, 202), response.content
    return JoinRequest.objects.get(room_id=room_id, user=asker).pk


def _warn_from_the_desk(moderator, author_membership) -> None:
    message = send_message(membership=author_membership, body="borderline")
    case = check_file_report(
        reporter=moderator, target_type="message", target_id=message.pk, reason="spam"
    )
    client = Client()
    client.force_login(moderator)
    url = reverse("admin:community_moderationcase_change", args=[case.pk])
    response = client.post(url, {"action": "warn", "note": "Please keep it civil."})
    assert response.status_code == 302


async def test_join_requests_and_warnings_reach_the_users_socket(chat, make_user, make_room):
    """Each host hears of a join request wherever they are; a warned member sees it live."""
    room, reader, _reader_membership, talker_membership = chat
    talker = await database_sync_to_async(lambda: talker_membership.user)()
    gated = await database_sync_to_async(make_room)(
        owner=reader, title="Gated", join_policy=Room.JoinPolicy.APPROVAL
    )
    asker = await database_sync_to_async(make_user)("asker")
    moderator = await database_sync_to_async(make_moderator)(make_user, "mod")
    host_socket, talker_socket = await me_socket(reader), await me_socket(talker)
    await next_event(host_socket, "ready")
    await next_event(talker_socket, "ready")

    request_id = await database_sync_to_async(_request_to_join)(asker, gated.pk)
    assert await next_event(host_socket, "join_request.created") == {
        "type": "join_request.created",
        "room_id": gated.pk,
        "request_id": request_id,
        "nickname": "Shy Fox",
    }
    assert await talker_socket.receive_nothing(timeout=0.3)  # not a host of that room

    await database_sync_to_async(_warn_from_the_desk)(moderator, talker_membership)
    assert await next_event(talker_socket, "moderation.warning") == {
        "type": "moderation.warning",
        "room_id": room.pk,
        "message": "Please keep it civil.",
    }
    # The host's socket had the join request's notification and totals, no warning.
    while not await host_socket.receive_nothing(timeout=0.5):
        output = await host_socket.receive_output(timeout=TIMEOUT)
        kinds = ("notification.created", "unread.updated", "chat.activity")
        assert json.loads(output["text"])["type"] in kinds
    for socket in (host_socket, talker_socket):
        await socket.disconnect()
