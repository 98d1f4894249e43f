"""Live effects of moderation over real sockets (full ASGI stack, real DB and layer)."""

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from community.chat.models import Message
from community.chat.services import send_message
from community.moderation.models import AuditLogEntry, BlockedPattern, HeldMessage
from community.moderation.services import check_file_report
from community.rooms.models import Membership, Room
from tests.community.chat_support import (
    closed_with,
    next_event,
    no_event,
    ready_socket,
)
from tests.community.moderation_helpers import make_moderator
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


@pytest.fixture
def room_with_guest(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    guest_membership = make_member(room, guest, nickname="Guest")
    return room, host, guest, guest_membership


def api_post(user, url, data=None):
    client = client_for(user)
    return client.post(url, data or {}, format="json")


def api_delete(user, url):
    client = client_for(user)
    return client.delete(url)


def admin_act(moderator, case_id: int, **data):
    client = client_for(moderator, session=True)
    url = reverse("admin:community_moderationcase_change", args=[case_id])
    return client.post(url, data)


async def test_kick_closes_the_members_socket_with_4411(room_with_guest):
    room, host, guest, membership = room_with_guest
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)
    url = f"/api/v1/rooms/{room.pk}/members/{membership.pk}/kick/"
    response = await database_sync_to_async(api_post)(host, url, {"reason": "rude"})
    assert response.status_code == 204
    removed = await next_event(guest_socket, "member.removed")
    assert (removed["membership_id"], removed["reason"]) == (membership.pk, "kicked")
    assert await closed_with(guest_socket) == 4411
    left = await next_event(host_socket, "member.removed")
    assert left["membership_id"] == membership.pk
    entry = await database_sync_to_async(AuditLogEntry.objects.get)()
    assert (entry.action, entry.actor_id, entry.reason) == ("kick", host.pk, "rude")
    await host_socket.disconnect()


async def test_ban_closes_the_members_socket_with_4410_and_they_cannot_reconnect(room_with_guest):
    from tests.community.chat_support import refusal_code

    room, host, guest, membership = room_with_guest
    guest_socket, _ = await ready_socket(guest, room.pk)
    url = f"/api/v1/rooms/{room.pk}/members/{membership.pk}/ban/"
    assert (await database_sync_to_async(api_post)(host, url)).status_code == 204
    assert await closed_with(guest_socket) == 4410
    assert await refusal_code(guest, room.pk) == 4410


async def test_hidden_message_disappears_for_everyone(room_with_guest, make_user):
    room, host, guest, membership = room_with_guest
    message = await database_sync_to_async(send_message)(membership=membership, body="nasty")
    reporter = await database_sync_to_async(make_user)()
    case = await database_sync_to_async(check_file_report)(
        reporter=reporter, target_type="message", target_id=message.pk, reason="harassment"
    )
    moderator = await database_sync_to_async(make_moderator)(make_user, "mod")
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)
    response = await database_sync_to_async(admin_act)(
        moderator, case.pk, action="hide_message", note="abuse"
    )
    assert response.status_code == 302
    for socket in (host_socket, guest_socket):
        event = await next_event(socket, "message.deleted")
        assert (event["id"], event["seq"]) == (message.pk, message.seq)
        await socket.disconnect()


async def test_host_deleting_anothers_message_is_live_and_audited(room_with_guest):
    room, host, guest, membership = room_with_guest
    message = await database_sync_to_async(send_message)(membership=membership, body="spoiler")
    guest_socket, _ = await ready_socket(guest, room.pk)
    response = await database_sync_to_async(api_delete)(host, f"/api/v1/messages/{message.pk}/")
    assert response.status_code == 204
    event = await next_event(guest_socket, "message.deleted")
    assert event["id"] == message.pk
    entry = await database_sync_to_async(AuditLogEntry.objects.get)()
    assert (entry.action, entry.actor_id, entry.subject_id) == ("hide_message", host.pk, guest.pk)
    await guest_socket.disconnect()


async def test_suspended_room_refuses_new_messages_at_once(room_with_guest, make_user):
    room, host, guest, _ = room_with_guest
    reporter = await database_sync_to_async(make_user)()
    case = await database_sync_to_async(check_file_report)(
        reporter=reporter, target_type="room", target_id=room.pk, reason="hate"
    )
    moderator = await database_sync_to_async(make_moderator)(make_user, "mod")
    guest_socket, _ = await ready_socket(guest, room.pk)
    await database_sync_to_async(admin_act)(moderator, case.pk, action="suspend_room", note="x")
    event = await next_event(guest_socket, "room.suspended")
    assert event["is_suspended"] is True
    await guest_socket.send_json_to({"type": "message.send", "body": "anyone?", "ref": "r1"})
    error = await next_event(guest_socket, "error")
    assert (error["code"], error["ref"]) == ("room_closed", "r1")
    response = await database_sync_to_async(api_post)(
        host, f"/api/v1/rooms/{room.pk}/messages/", {"body": "host too?"}
    )
    assert response.status_code == 403
    assert not await database_sync_to_async(Message.objects.filter(room=room).exists)()
    await guest_socket.disconnect()


async def test_site_suspension_closes_the_users_sockets_with_4413(room_with_guest, make_user):
    room, _host, guest, membership = room_with_guest
    reporter = await database_sync_to_async(make_user)()
    case = await database_sync_to_async(check_file_report)(
        reporter=reporter, target_type="member", target_id=membership.pk, reason="spam"
    )
    moderator = await database_sync_to_async(make_moderator)(make_user, "mod")
    guest_socket, _ = await ready_socket(guest, room.pk)
    await database_sync_to_async(admin_act)(
        moderator, case.pk, action="suspend_user", minutes="60", note="spam wave"
    )
    assert await closed_with(guest_socket) == 4413


async def test_blocked_word_tells_the_sender_which_kind_of_rule(room_with_guest):
    room, host, guest, _ = room_with_guest
    await database_sync_to_async(BlockedPattern.objects.create)(
        kind="word", text="scam", action="block"
    )
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)
    await guest_socket.send_json_to({"type": "message.send", "body": "total SCAM", "ref": "b"})
    error = await next_event(guest_socket, "error")
    assert error["code"] == "message_blocked"
    assert error["fields"] == {"rule_kind": ["site_word"]}
    assert "site-wide blocked word" in error["message"]
    await no_event(host_socket, "message.created")
    assert not await database_sync_to_async(Message.objects.exists)()
    await host_socket.disconnect()
    await guest_socket.disconnect()


async def test_held_message_waits_for_a_host_then_reaches_everyone(room_with_guest):
    room, host, guest, _ = room_with_guest
    await database_sync_to_async(BlockedPattern.objects.create)(
        room=room, kind="word", text="spoiler", action="hold"
    )
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)
    await guest_socket.send_json_to({"type": "message.send", "body": "spoiler: it ends"})
    error = await next_event(guest_socket, "error")
    assert error["code"] == "message_held"
    assert error["fields"] == {"rule_kind": ["room_word"]}
    await no_event(host_socket, "message.created")
    held = await database_sync_to_async(HeldMessage.objects.get)()
    url = f"/api/v1/rooms/{room.pk}/held-messages/{held.pk}/approve/"
    assert (await database_sync_to_async(api_post)(host, url)).status_code == 200
    for socket in (host_socket, guest_socket):
        created = await next_event(socket, "message.created")
        assert created["message"]["body"] == "spoiler: it ends"
        await socket.disconnect()


async def test_flood_mutes_the_sender_temporarily(room_with_guest, settings):
    settings.MODERATION_FLOOD_MESSAGES = 3
    settings.CHAT_SEND_RATE = (100, 10)
    room, _host, guest, membership = room_with_guest
    guest_socket, _ = await ready_socket(guest, room.pk)
    for index in range(3):
        await guest_socket.send_json_to({"type": "message.send", "body": f"m{index}"})
        await next_event(guest_socket, "message.created")
    await guest_socket.send_json_to({"type": "message.send", "body": "m3"})
    error = await next_event(guest_socket, "error")
    assert (error["code"], error["fields"]) == ("message_blocked", {"rule_kind": ["flood"]})
    muted = await database_sync_to_async(Membership.objects.get)(pk=membership.pk)
    assert muted.muted_until is not None
    await guest_socket.send_json_to({"type": "message.send", "body": "m4"})
    assert (await next_event(guest_socket, "error"))["code"] == "muted"
    assert await database_sync_to_async(Message.objects.count)() == 3
    entry = await database_sync_to_async(AuditLogEntry.objects.get)()
    assert (entry.action, entry.actor_id) == ("auto_mute", None)
    await guest_socket.disconnect()


async def test_blocked_message_over_rest_is_a_422_with_the_rule_kind(room_with_guest):
    room, _host, guest, _ = room_with_guest
    await database_sync_to_async(BlockedPattern.objects.create)(
        room=room, kind="pattern", text=r"fr[e3]{2}\s*c[o0]ins", action="block"
    )
    response = await database_sync_to_async(api_post)(
        guest, f"/api/v1/rooms/{room.pk}/messages/", {"body": "FREE coins here"}
    )
    assert response.status_code == 422
    body = response.json()["error"]
    assert (body["code"], body["fields"]) == ("message_blocked", {"rule_kind": ["room_pattern"]})
    assert await database_sync_to_async(
        Room.objects.filter(pk=room.pk, last_message_seq=0).exists
    )()


async def test_an_edit_cannot_smuggle_in_a_blocked_word(room_with_guest):
    room, _host, guest, membership = room_with_guest
    message = await database_sync_to_async(send_message)(membership=membership, body="hello")
    await database_sync_to_async(BlockedPattern.objects.create)(
        room=room, kind="word", text="spoiler", action="hold"
    )
    client = client_for(guest)
    response = await database_sync_to_async(client.patch)(
        f"/api/v1/messages/{message.pk}/", {"body": "spoiler: he dies"}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"rule_kind": ["room_word"]}
    stored = await database_sync_to_async(Message.objects.get)(pk=message.pk)
    assert stored.body == "hello"
