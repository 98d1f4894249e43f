"""Suspension, ban and removal are enforced on the room socket at connect, on every
frame and on server events, over the real ASGI stack and channel layer: a suspended or
removed member is never sent ``ready`` or one more room event."""

import json

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from community.chat import consumers
from community.chat.services import send_message
from community.rooms.models import Membership
from profiles.models import User
from tests.community.chat_support import (
    closed_with,
    next_event,
    ready_socket,
    refusal_code,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


@pytest.fixture
def cast(make_user, make_room, make_member):
    host = make_user("standhost")
    room = make_room(owner=host)
    guest = make_user("standguest")
    membership = make_member(room, guest, nickname="Guest")
    host_membership = Membership.objects.get(room=room, user=host)
    return room, host_membership, guest, membership


def suspend(user, *, days: int = 1) -> None:
    User.objects.filter(pk=user.pk).update(
        suspended_until=timezone.now() + timezone.timedelta(days=days)
    )


def revoke_standing(revoke: str, user, membership) -> None:
    """Suspend the account, or ban or remove the member, without any live event."""
    if revoke == "suspend":
        suspend(user)
    else:
        state = Membership.State.BANNED if revoke == "ban" else Membership.State.LEFT
        Membership.objects.filter(pk=membership.pk).update(state=state)


@pytest.mark.parametrize("auth", ["session", "ticket"])
async def test_a_suspended_users_new_socket_is_refused_with_4413(cast, auth):
    room, _host, guest, _membership = cast
    await database_sync_to_async(suspend)(guest)
    assert await refusal_code(guest, room.pk, auth=auth) == 4413


async def test_an_expired_suspension_no_longer_refuses(cast):
    room, _host, guest, _membership = cast
    await database_sync_to_async(suspend)(guest, days=-1)
    socket, ready = await ready_socket(guest, room.pk)
    assert ready["room_id"] == room.pk
    await socket.disconnect()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"state": Membership.State.BANNED}, 4410),
        ({"state": Membership.State.LEFT}, 4412),
    ],
)
async def test_a_banned_or_removed_member_is_refused_at_connect(cast, change, code):
    room, _host, guest, membership = cast
    await database_sync_to_async(Membership.objects.filter(pk=membership.pk).update)(**change)
    assert await refusal_code(guest, room.pk) == code


@pytest.mark.parametrize(
    ("revoke", "code"),
    [
        ("suspend", 4413),
        ("ban", 4410),
        ("remove", 4412),
    ],
)
async def test_no_room_event_reaches_a_member_whose_standing_changed_without_an_event(
    cast, monkeypatch, revoke, code
):
    """A suspension made without a live event (e.g. an account edited in the admin), or
    a ban/removal whose ``member.removed`` was lost: the next server event re-reads the
    member's standing and closes instead of delivering."""
    monkeypatch.setattr(consumers, "MEMBERSHIP_RECHECK_SECONDS", 0)
    room, host_membership, guest, membership = cast
    socket, _ready = await ready_socket(guest, room.pk)
    await database_sync_to_async(revoke_standing)(revoke, guest, membership)
    await database_sync_to_async(send_message)(membership=host_membership, body="secret plans")
    output = await socket.receive_output(timeout=5)
    while output["type"] == "websocket.send":
        # The room's presence broadcast for this socket's own connect may still arrive
        # (sent before the change, it can be checked just before it); the message never.
        assert json.loads(output["text"])["type"] == "presence", output
        output = await socket.receive_output(timeout=5)
    assert (output["type"], output.get("code")) == ("websocket.close", code)


async def test_a_live_member_keeps_receiving_after_the_recheck(cast, monkeypatch):
    monkeypatch.setattr(consumers, "MEMBERSHIP_RECHECK_SECONDS", 0)
    room, host_membership, guest, _membership = cast
    socket, _ready = await ready_socket(guest, room.pk)
    await database_sync_to_async(send_message)(membership=host_membership, body="hello all")
    event = await next_event(socket, "message.created")
    assert event["message"]["body"] == "hello all"
    await socket.disconnect()


async def test_a_suspended_members_frame_closes_the_socket(cast):
    room, _host, guest, _membership = cast
    socket, _ready = await ready_socket(guest, room.pk)
    await database_sync_to_async(suspend)(guest)
    await socket.send_json_to({"type": "ping", "ref": 1})
    assert await closed_with(socket) == 4413


@pytest.mark.parametrize(
    ("revoke", "code"),
    [
        ("suspend", 4413),
        ("ban", 4410),
        ("remove", 4412),
    ],
)
async def test_a_send_right_after_another_still_closes_for_a_changed_standing(cast, revoke, code):
    """A socket's sends screen with the membership its previous send read (for a moment:
    ``SEND_MEMBERSHIP_REUSE_SECONDS``); the write re-reads the member under the room's
    lock, and a refusal there is read again for the close code. Nothing is stored."""
    from community.chat.models import Message

    room, _host, guest, membership = cast
    socket, _ready = await ready_socket(guest, room.pk)
    await socket.send_json_to({"type": "message.send", "body": "first"})
    await next_event(socket, "message.created")
    await database_sync_to_async(revoke_standing)(revoke, guest, membership)
    await socket.send_json_to({"type": "message.send", "body": "second"})
    assert await closed_with(socket) == code
    bodies = await database_sync_to_async(
        lambda: list(Message.objects.filter(room=room).values_list("body", flat=True))
    )()
    assert bodies == ["first"]


async def test_a_send_right_after_a_mute_is_refused_and_never_held(cast):
    """Muted between two sends, with a hold rule matching the second: the member is told
    they are muted, and the hosts' review never gets the message."""
    from community.moderation.models import BlockedPattern, HeldMessage

    room, _host, guest, membership = cast
    await database_sync_to_async(BlockedPattern.objects.create)(
        room=room, kind=BlockedPattern.Kind.WORD, text="spoilers", action="hold"
    )
    socket, _ready = await ready_socket(guest, room.pk)
    await socket.send_json_to({"type": "message.send", "body": "first"})
    await next_event(socket, "message.created")
    await database_sync_to_async(Membership.objects.filter(pk=membership.pk).update)(
        muted_until=timezone.now() + timezone.timedelta(hours=1)
    )
    await socket.send_json_to({"type": "message.send", "body": "spoilers ahead"})
    assert (await next_event(socket, "error"))["code"] == "muted"
    assert not await database_sync_to_async(HeldMessage.objects.exists)()
    await socket.send_json_to({"type": "message.send", "body": "plain"})
    assert (await next_event(socket, "error"))["code"] == "muted"
    await socket.disconnect()
