"""Host tools over the API: kick, ban, unban, mute, slow mode, announcement, word filters,
held messages. Each action: its effect, its audit entry, its broadcast, its permissions."""

import pytest
from django.utils import timezone

from community.moderation.models import AuditLogEntry, BlockedPattern, RoomAnnouncement
from community.rooms.models import Membership, Room
from tests.community.moderation_helpers import (
    make_moderator,
    make_superuser,
    owner_membership,
)
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


def member_url(room, member, action: str) -> str:
    return f"/api/v1/rooms/{room.pk}/members/{member.pk}/{action}/"


@pytest.fixture
def cast(make_room, make_user, make_member):
    """A room with an owner, a co-host, two plain members, a moderator and a superuser."""
    room = make_room()
    cohost = make_member(room, make_user("cohost"), nickname="co")
    Membership.objects.filter(pk=cohost.pk).update(role=Membership.Role.COHOST)
    cohost.refresh_from_db()
    return {
        "room": room,
        "owner": owner_membership(room),
        "cohost": cohost,
        "member": make_member(room, make_user("member"), nickname="plain"),
        "target": make_member(room, make_user("target"), nickname="troll"),
        "moderator": make_moderator(make_user, "moderator"),
        "superuser": make_superuser(make_user, "root"),
        "outsider": make_user("outsider"),
    }


def actor(cast, role: str):
    value = cast[role]
    return value.user if isinstance(value, Membership) else value


ALLOWED = {"owner": True, "cohost": True, "moderator": True, "superuser": True}
MATRIX = ["member", "owner", "cohost", "moderator", "superuser", "outsider"]


# --- kick ---


@pytest.mark.parametrize("role", MATRIX)
def test_kick_permission_matrix(role, cast, django_capture_on_commit_callbacks, layer_listener):
    room, target = cast["room"], cast["target"]
    listener = layer_listener(room.group_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor(cast, role)).post(
            member_url(room, target, "kick"), {"reason": "rude"}
        )
    target.refresh_from_db()
    if ALLOWED.get(role):
        assert response.status_code == 204, response.content
        assert target.state == Membership.State.LEFT
        assert Room.objects.get(pk=room.pk).member_count == 3  # owner, co-host, member
        entry = AuditLogEntry.objects.get()
        assert (entry.action, entry.actor, entry.target_id, entry.reason) == (
            "kick",
            actor(cast, role),
            target.pk,
            "rude",
        )
        assert {
            "type": "member.removed",
            "room_id": room.pk,
            "membership_id": target.pk,
            "reason": "kicked",
        } in listener.events()
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "not_host"
        assert target.state == Membership.State.ACTIVE
        assert not AuditLogEntry.objects.exists()
        assert listener.events() == []


def test_cohost_cannot_act_on_the_owner_or_another_cohost(cast, make_user, make_member):
    other_cohost = make_member(cast["room"], make_user(), nickname="co2")
    Membership.objects.filter(pk=other_cohost.pk).update(role=Membership.Role.COHOST)
    client = client_for(cast["cohost"].user)
    for target in (cast["owner"], other_cohost):
        for action in ("kick", "ban"):
            response = client.post(member_url(cast["room"], target, action))
            assert response.status_code == 403
            assert response.json()["error"]["code"] in ("target_is_host", "target_is_owner")
    # The owner can remove a co-host.
    assert (
        client_for(cast["owner"].user)
        .post(member_url(cast["room"], cast["cohost"], "kick"))
        .status_code
        == 204
    )


def test_nobody_acts_on_themselves(cast):
    response = client_for(cast["owner"].user).post(member_url(cast["room"], cast["owner"], "ban"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "self_target"


def test_member_of_another_room_is_404(cast, make_room):
    other = make_room()
    response = client_for(cast["owner"].user).post(
        f"/api/v1/rooms/{cast['room'].pk}/members/{owner_membership(other).pk}/kick/"
    )
    assert response.status_code == 404
    assert (
        client_for(cast["owner"].user)
        .post(f"/api/v1/rooms/999999/members/{cast['target'].pk}/kick/")
        .status_code
        == 404
    )


# --- ban and unban ---


@pytest.mark.parametrize("role", MATRIX)
def test_ban_permission_matrix(role, cast, django_capture_on_commit_callbacks, layer_listener):
    room, target = cast["room"], cast["target"]
    listener = layer_listener(room.group_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor(cast, role)).post(member_url(room, target, "ban"))
    target.refresh_from_db()
    if ALLOWED.get(role):
        assert response.status_code == 204
        assert target.state == Membership.State.BANNED
        assert target.banned_at is not None
        assert AuditLogEntry.objects.get().action == "ban"
        assert {
            "type": "member.removed",
            "room_id": room.pk,
            "membership_id": target.pk,
            "reason": "banned",
        } in listener.events()
    else:
        assert response.status_code == 403
        assert target.state == Membership.State.ACTIVE
        assert not AuditLogEntry.objects.exists()


def test_ban_then_unban_lets_them_join_again(cast):
    from community.rooms.services import join_room
    from config.errors import PermissionDeniedError

    room, target = cast["room"], cast["target"]
    owner = client_for(cast["owner"].user)
    assert owner.post(member_url(room, target, "ban")).status_code == 204
    assert owner.post(member_url(room, target, "ban")).status_code == 409
    with pytest.raises(PermissionDeniedError):
        join_room(room_id=room.pk, user=target.user, nickname="back")
    member = client_for(cast["member"].user)
    assert member.post(member_url(room, target, "unban")).status_code == 403
    response = owner.post(member_url(room, target, "unban"))
    assert response.status_code == 204
    assert Membership.objects.get(pk=target.pk).state == "left"
    assert owner.post(member_url(room, target, "unban")).status_code == 409
    assert join_room(room_id=room.pk, user=target.user, nickname="back").state == "active"
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "ban",
        "unban",
    ]


# --- mute ---


@pytest.mark.parametrize("role", MATRIX)
def test_mute_permission_matrix(role, cast, django_capture_on_commit_callbacks, layer_listener):
    room, target = cast["room"], cast["target"]
    listener = layer_listener(room.group_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor(cast, role)).post(
            member_url(room, target, "mute"), {"minutes": 15}
        )
    target.refresh_from_db()
    if ALLOWED.get(role):
        assert response.status_code == 200
        assert 14 * 60 < (target.muted_until - timezone.now()).total_seconds() <= 15 * 60
        entry = AuditLogEntry.objects.get()
        assert (entry.action, entry.details) == ("mute", {"minutes": 15})
        assert response.json()["muted_until"]
        events = listener.events()
        assert events[0]["type"] == "member.updated"
        assert events[0]["member"]["id"] == target.pk
        assert events[0]["member"]["muted_until"]
    else:
        assert response.status_code == 403
        assert target.muted_until is None


def test_mute_validates_minutes_and_zero_lifts(cast):
    room, target = cast["room"], cast["target"]
    owner = client_for(cast["owner"].user)
    assert owner.post(member_url(room, target, "mute"), {}).status_code == 400
    assert owner.post(member_url(room, target, "mute"), {"minutes": "soon"}).status_code == 400
    too_long = owner.post(member_url(room, target, "mute"), {"minutes": 10**7})
    assert too_long.status_code == 400
    assert "minutes" in too_long.json()["error"]["fields"]
    assert owner.post(member_url(room, target, "mute"), {"minutes": 5}).status_code == 200
    assert owner.post(member_url(room, target, "mute"), {"minutes": 0}).status_code == 200
    target.refresh_from_db()
    assert target.muted_until is None


# --- slow mode, announcement ---


@pytest.mark.parametrize("role", MATRIX)
def test_slow_mode_permission_matrix(
    role, cast, django_capture_on_commit_callbacks, layer_listener
):
    room = cast["room"]
    listener = layer_listener(room.group_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor(cast, role)).post(
            f"/api/v1/rooms/{room.pk}/slow-mode/", {"seconds": 30}
        )
    room.refresh_from_db()
    if ALLOWED.get(role):
        assert response.status_code == 200
        assert room.slow_mode_seconds == 30
        assert AuditLogEntry.objects.get().action == "slow_mode"
        assert listener.events() == [
            {"type": "room.updated", "room_id": room.pk, "slow_mode_seconds": 30}
        ]
    else:
        assert response.status_code == 403
        assert room.slow_mode_seconds == 0


def test_pin_and_unpin_an_announcement(cast, django_capture_on_commit_callbacks, layer_listener):
    room = cast["room"]
    url = f"/api/v1/rooms/{room.pk}/announcement/"
    assert client_for(cast["member"].user).put(url, {"body": "hi"}).status_code == 403
    listener = layer_listener(room.group_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(cast["cohost"].user).put(url, {"body": "Be kind <3"})
    assert response.status_code == 200
    assert RoomAnnouncement.objects.get(room=room).body == "Be kind <3"
    event = listener.events()[0]
    assert event["type"] == "room.announcement"
    assert event["announcement"]["body"] == "Be kind <3"
    assert client_for(cast["owner"].user).delete(url).status_code == 204
    assert not RoomAnnouncement.objects.exists()
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "pin",
        "unpin",
    ]


# --- word filters and held messages ---


def test_room_word_filters(cast):
    room = cast["room"]
    url = f"/api/v1/rooms/{room.pk}/word-filters/"
    assert client_for(cast["member"].user).get(url).status_code == 403
    assert client_for(cast["member"].user).post(url, {"text": "x"}).status_code == 403
    owner = client_for(cast["owner"].user)
    created = owner.post(url, {"kind": "word", "text": "spoiler", "action": "hold"})
    assert created.status_code == 201, created.content
    bad = owner.post(url, {"kind": "pattern", "text": "(unclosed", "action": "block"})
    assert bad.status_code == 400
    assert "text" in bad.json()["error"]["fields"]
    listing = owner.get(url).json()["results"]
    assert [(f["text"], f["action"]) for f in listing] == [("spoiler", "hold")]
    rule_id = created.json()["id"]
    assert client_for(cast["member"].user).delete(f"{url}{rule_id}/").status_code == 403
    assert owner.delete(f"{url}{rule_id}/").status_code == 204
    assert not BlockedPattern.objects.exists()
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "add_filter",
        "remove_filter",
    ]


def test_held_messages_are_reviewed_by_hosts(cast):
    from community.chat.models import Message
    from community.chat.screening import hold_message
    from community.moderation.models import HeldMessage

    room = cast["room"]
    held = hold_message(membership=cast["member"], body="held one", rule_kind="room_word")
    other = hold_message(membership=cast["member"], body="held two", rule_kind="room_word")
    base = f"/api/v1/rooms/{room.pk}/held-messages/"
    assert client_for(cast["member"].user).get(base).status_code == 403
    owner = client_for(cast["owner"].user)
    assert [h["body"] for h in owner.get(base).json()["results"]] == ["held one", "held two"]
    assert client_for(cast["member"].user).post(f"{base}{held.pk}/approve/").status_code == 403
    approved = owner.post(f"{base}{held.pk}/approve/")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert Message.objects.filter(room=room, body="held one", author=cast["member"]).exists()
    assert owner.post(f"{base}{held.pk}/approve/").status_code == 409
    assert owner.post(f"{base}{other.pk}/reject/").status_code == 200
    assert not Message.objects.filter(body="held two").exists()
    assert HeldMessage.objects.get(pk=other.pk).status == "rejected"
    assert owner.get(base).json()["results"] == []


# --- the whole matrix at a glance ---


def _do(cast, role: str, action: str):
    """Perform one host action as ``role``; returns the HTTP status."""
    from community.chat.screening import hold_message
    from community.chat.services import send_message
    from community.moderation.models import HeldMessage

    room, target = cast["room"], cast["target"]
    client = client_for(actor(cast, role))
    if action == "delete_message":
        message = send_message(membership=target, body="to delete")
        return client.delete(f"/api/v1/messages/{message.pk}/").status_code
    if action == "unban":
        Membership.objects.filter(pk=target.pk).update(state=Membership.State.BANNED)
        return client.post(member_url(room, target, "unban")).status_code
    if action == "approve_held":
        held = hold_message(membership=target, body="held", rule_kind="room_word")
        status = client.post(f"/api/v1/rooms/{room.pk}/held-messages/{held.pk}/approve/")
        assert HeldMessage.objects.filter(pk=held.pk).exists()
        return status.status_code
    requests = {
        "kick": lambda: client.post(member_url(room, target, "kick")),
        "ban": lambda: client.post(member_url(room, target, "ban")),
        "mute": lambda: client.post(member_url(room, target, "mute"), {"minutes": 5}),
        "slow_mode": lambda: client.post(f"/api/v1/rooms/{room.pk}/slow-mode/", {"seconds": 5}),
        "pin": lambda: client.put(f"/api/v1/rooms/{room.pk}/announcement/", {"body": "hi"}),
        "add_filter": lambda: client.post(
            f"/api/v1/rooms/{room.pk}/word-filters/", {"text": "x", "action": "block"}
        ),
    }
    return requests[action]().status_code


# Site moderators act on any room through the moderation routes; deleting a message in
# the chat is for the room's own members (moderators hide messages from the desk).
EXPECTED = {
    "kick": {"member": 403, "owner": 204, "cohost": 204, "moderator": 204, "superuser": 204},
    "ban": {"member": 403, "owner": 204, "cohost": 204, "moderator": 204, "superuser": 204},
    "unban": {"member": 403, "owner": 204, "cohost": 204, "moderator": 204, "superuser": 204},
    "mute": {"member": 403, "owner": 200, "cohost": 200, "moderator": 200, "superuser": 200},
    "slow_mode": {"member": 403, "owner": 200, "cohost": 200, "moderator": 200, "superuser": 200},
    "pin": {"member": 403, "owner": 200, "cohost": 200, "moderator": 200, "superuser": 200},
    "add_filter": {"member": 403, "owner": 201, "cohost": 201, "moderator": 201, "superuser": 201},
    "approve_held": {
        "member": 403,
        "owner": 200,
        "cohost": 200,
        "moderator": 200,
        "superuser": 200,
    },
    "delete_message": {
        "member": 403,
        "owner": 204,
        "cohost": 204,
        "moderator": 403,
        "superuser": 403,
    },
}


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", ["member", "owner", "cohost", "moderator", "superuser"])
def test_permission_matrix(action, role, cast):
    status = _do(cast, role, action)
    assert status == EXPECTED[action][role], (action, role, status)
    audited = AuditLogEntry.objects.filter(actor=actor(cast, role)).exists()
    assert audited == (status < 300), (action, role)


def test_approving_a_held_message_of_a_removed_author_is_refused(cast):
    from community.chat.models import Message
    from community.chat.screening import hold_message
    from community.moderation.models import HeldMessage

    room, target = cast["room"], cast["target"]
    held = hold_message(membership=target, body="held", rule_kind="room_word")
    owner = client_for(cast["owner"].user)
    assert owner.post(member_url(room, target, "ban")).status_code == 204
    response = owner.post(f"/api/v1/rooms/{room.pk}/held-messages/{held.pk}/approve/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "author_cannot_post"
    assert HeldMessage.objects.get(pk=held.pk).status == "pending"
    assert not Message.objects.filter(body="held").exists()
    assert owner.post(f"/api/v1/rooms/{room.pk}/held-messages/{held.pk}/reject/").status_code == 200
