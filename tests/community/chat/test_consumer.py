"""The room socket through the full ASGI stack (session and ticket auth, real DB)."""

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from community import events
from community.chat.models import Message
from community.chat.services import send_message
from community.rooms.models import Membership
from community.rooms.services import broadcast_member_removed
from tests.community.chat_support import (
    closed_with,
    next_event,
    no_event,
    ready_socket,
    refusal_code,
)
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


def _set_state(membership_id: int, **fields):
    Membership.objects.filter(pk=membership_id).update(**fields)


async def test_two_members_see_each_others_messages(room_with_two):
    room, host, guest = room_with_two
    host_socket, host_ready = await ready_socket(host, room.pk)
    guest_socket, guest_ready = await ready_socket(guest, room.pk, auth="ticket")
    assert guest_ready["protocol"] == 1
    assert guest_ready["nickname"] == "Guest"

    await host_socket.send_json_to({"type": "message.send", "body": "hi all", "client_id": "h1"})
    for socket in (host_socket, guest_socket):
        event = await next_event(socket, "message.created")
        first_id = event["message"]["id"]
        assert event["message"]["body"] == "hi all"
        assert event["message"]["seq"] == 1
        assert event["message"]["client_id"] == "h1"
        assert event["message"]["author"]["membership_id"] == host_ready["membership_id"]

    await guest_socket.send_json_to(
        {"type": "message.send", "body": "hello!", "reply_to": first_id}
    )
    for socket in (host_socket, guest_socket):
        event = await next_event(socket, "message.created")
        assert event["message"]["body"] == "hello!"
        assert event["message"]["author"] == {
            "membership_id": guest_ready["membership_id"],
            "nickname": "Guest",
            "avatar": None,
            "role": "member",  # owners and co-hosts carry a badge
            "profile_url": None,  # an open profile: never a link to the account
        }
        assert event["message"]["reply_to"]["id"] == first_id
        assert event["message"]["reactions"] == []
        assert event["message"]["media"] is None
    await host_socket.disconnect()
    await guest_socket.disconnect()


async def test_anonymous_non_member_unknown_room_and_banned_are_refused(room_with_two, make_user):
    room, _host, guest = room_with_two
    assert await refusal_code(None, room.pk) == 4401
    stranger = await database_sync_to_async(make_user)("stranger")
    assert await refusal_code(stranger, room.pk) == 4403
    assert await refusal_code(stranger, room.pk + 1000) == 4404

    membership = await database_sync_to_async(Membership.objects.get)(user=guest)
    await database_sync_to_async(_set_state)(membership.pk, state=Membership.State.BANNED)
    assert await refusal_code(guest, room.pk, auth="ticket") == 4410


async def test_used_ticket_is_refused(room_with_two):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from config.realtime import issue_socket_ticket

    room, _host, guest = room_with_two
    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=guest.pk)
    headers = [(b"origin", b"http://testserver")]
    first = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/?ticket={ticket}", headers)
    await first.connect()
    assert (await next_event(first))["type"] == "ready"
    second = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/?ticket={ticket}", headers)
    await second.connect()
    assert (await second.receive_output())["code"] == 4401
    await first.disconnect()


async def test_ban_while_connected_closes_the_socket_and_tells_the_others(room_with_two):
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, guest_ready = await ready_socket(guest, room.pk)

    def ban():
        membership = Membership.objects.get(pk=guest_ready["membership_id"])
        membership.state = Membership.State.BANNED
        membership.save(update_fields=["state"])
        broadcast_member_removed(membership=membership, reason="banned")

    await database_sync_to_async(ban)()
    removed = await next_event(guest_socket, "member.removed")
    assert removed["reason"] == "banned"
    assert await closed_with(guest_socket) == 4410
    left = await next_event(host_socket, "member.removed")
    assert left["membership_id"] == guest_ready["membership_id"]
    assert left["reason"] == "banned"
    await host_socket.disconnect()


async def test_ban_without_broadcast_is_caught_on_the_next_frame(room_with_two):
    room, _host, guest = room_with_two
    socket, ready = await ready_socket(guest, room.pk)
    await database_sync_to_async(_set_state)(ready["membership_id"], state=Membership.State.BANNED)
    await socket.send_json_to({"type": "message.send", "body": "still here?"})
    assert await closed_with(socket) == 4410
    assert not await database_sync_to_async(Message.objects.filter(body="still here?").exists)()


async def test_muted_member_gets_an_error_with_retry_after(room_with_two):
    room, _host, guest = room_with_two
    socket, ready = await ready_socket(guest, room.pk)
    until = timezone.now() + timezone.timedelta(minutes=5)
    await database_sync_to_async(_set_state)(ready["membership_id"], muted_until=until)
    await socket.send_json_to({"type": "message.send", "body": "shh", "ref": "m1"})
    error = await next_event(socket, "error")
    assert error["code"] == "muted"
    assert error["ref"] == "m1"
    assert 290 < error["retry_after"] <= 300
    await socket.disconnect()


async def test_duplicate_client_id_stores_one_message_and_answers_the_sender_twice(
    room_with_two,
):
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)
    frame = {"type": "message.send", "body": "once", "client_id": "c-42"}
    await guest_socket.send_json_to(frame)
    first = await next_event(guest_socket, "message.created")
    await guest_socket.send_json_to(frame)
    second = await next_event(guest_socket, "message.created")
    assert first["message"] == second["message"]
    assert await database_sync_to_async(Message.objects.filter(client_id="c-42").count)() == 1
    # The room saw it once.
    assert (await next_event(host_socket, "message.created"))["message"]["id"] == first["message"][
        "id"
    ]
    await no_event(host_socket, "message.created")
    await host_socket.disconnect()
    await guest_socket.disconnect()


async def test_edit_and_delete_events(room_with_two):
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)
    await guest_socket.send_json_to({"type": "message.send", "body": "typo"})
    message = (await next_event(host_socket, "message.created"))["message"]

    # Only the author edits.
    await host_socket.send_json_to({"type": "message.edit", "id": message["id"], "body": "x"})
    assert (await next_event(host_socket, "error"))["code"] == "permission_denied"

    await guest_socket.send_json_to({"type": "message.edit", "id": message["id"], "body": "fixed"})
    for socket in (host_socket, guest_socket):
        updated = await next_event(socket, "message.updated")
        assert updated["message"]["id"] == message["id"]
        assert updated["message"]["body"] == "fixed"
        assert updated["message"]["edited_at"]
    edits = await database_sync_to_async(
        lambda: list(
            Message.objects.get(pk=message["id"]).edits.values_list("previous_body", flat=True)
        )
    )()
    assert edits == ["typo"]

    # A host may delete anyone's message; it stays as a tombstone.
    await host_socket.send_json_to({"type": "message.delete", "id": message["id"]})
    for socket in (host_socket, guest_socket):
        deleted = await next_event(socket, "message.deleted")
        assert deleted["id"] == message["id"]
        assert deleted["seq"] == message["seq"]
    stored = await database_sync_to_async(Message.objects.get)(pk=message["id"])
    assert stored.deleted_at is not None
    await host_socket.disconnect()
    await guest_socket.disconnect()


async def test_slow_mode_answers_with_retry_after_and_spares_hosts(room_with_two):
    room, host, guest = room_with_two
    room.slow_mode_seconds = 30
    await database_sync_to_async(room.save)(update_fields=["slow_mode_seconds"])
    socket, _ = await ready_socket(guest, room.pk)
    await socket.send_json_to({"type": "message.send", "body": "one"})
    await next_event(socket, "message.created")
    await socket.send_json_to({"type": "message.send", "body": "two"})
    error = await next_event(socket, "error")
    assert error["code"] == "slow_mode"
    assert 28 <= error["retry_after"] <= 30

    host_socket, _ = await ready_socket(host, room.pk)
    for body in ("host one", "host two"):
        await host_socket.send_json_to({"type": "message.send", "body": body})
        assert (await next_event(host_socket, "message.created", "error"))["type"] == (
            "message.created"
        )
    await socket.disconnect()
    await host_socket.disconnect()


async def test_per_user_rate_limit(room_with_two, settings):
    settings.CHAT_SEND_RATE = (3, 60)
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    for number in range(3):
        await socket.send_json_to({"type": "message.send", "body": f"m{number}"})
        await next_event(socket, "message.created")
    await socket.send_json_to({"type": "message.send", "body": "too many"})
    error = await next_event(socket, "error")
    assert error["code"] == "rate_limited"
    assert 1 <= error["retry_after"] <= 60
    await socket.disconnect()


async def test_resync_after_disconnect_loses_nothing_and_duplicates_nothing(room_with_two):
    room, host, guest = room_with_two
    host_membership = await database_sync_to_async(Membership.objects.get)(user=host)
    socket, _ = await ready_socket(guest, room.pk)
    await socket.send_json_to({"type": "message.send", "body": "before"})
    last_seen = (await next_event(socket, "message.created"))["message"]["seq"]
    await socket.disconnect()

    for number in range(5):
        await database_sync_to_async(send_message)(
            membership=host_membership, body=f"missed {number}"
        )

    socket, ready = await ready_socket(guest, room.pk, after=last_seen)
    assert ready["last_seq"] == last_seen + 5
    replayed = []
    while True:
        event = await next_event(socket, "message.created", "resync.done")
        if event["type"] == "resync.done":
            break
        replayed.append(event["message"]["body"])
    assert replayed == [f"missed {number}" for number in range(5)]
    # Live again.
    await database_sync_to_async(send_message)(membership=host_membership, body="live")
    assert (await next_event(socket, "message.created"))["message"]["body"] == "live"
    await no_event(socket, "message.created")
    await socket.disconnect()


async def test_resync_has_no_gap_or_duplicate_when_messages_arrive_during_catch_up(
    room_with_two, monkeypatch
):
    """Messages committed while history is being read arrive once each, in order."""
    from community.chat import consumers

    room, host, guest = room_with_two
    host_membership = await database_sync_to_async(Membership.objects.get)(user=host)
    for number in range(3):
        await database_sync_to_async(send_message)(membership=host_membership, body=f"old {number}")

    real_page = consumers._history_page
    calls = []

    def page_with_traffic(room_id, after, *args, **kwargs):
        calls.append(after)
        if len(calls) == 1:
            # Committed after the socket joined the group, before history is read:
            # it is both in history and in the live queue.
            send_message(membership=host_membership, body="during read")
        payloads, has_more = real_page(room_id, after, *args, **kwargs)
        if len(calls) == 1:
            # Committed after history was read: only in the live queue.
            send_message(membership=host_membership, body="after read")
        return payloads, has_more

    monkeypatch.setattr(consumers, "_history_page", page_with_traffic)
    monkeypatch.setattr(consumers, "CATCH_UP_PAGE", 2)  # several pages
    socket, _ = await ready_socket(guest, room.pk, after=1)
    seqs = []
    bodies = []
    while True:
        event = await next_event(socket, "message.created")
        seqs.append(event["message"]["seq"])
        bodies.append(event["message"]["body"])
        if event["message"]["body"] == "after read":
            break
    await no_event(socket, "message.created")
    assert seqs == [2, 3, 4, 5]
    assert bodies == ["old 1", "old 2", "during read", "after read"]
    await socket.disconnect()


async def test_typing_reaches_others_not_the_typist(room_with_two):
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, guest_ready = await ready_socket(guest, room.pk)
    await guest_socket.send_json_to({"type": "typing"})
    typing = await next_event(host_socket, "typing")
    assert typing == {
        "type": "typing",
        "room_id": room.pk,
        "membership_id": guest_ready["membership_id"],
        "nickname": "Guest",
    }
    await no_event(guest_socket, "typing")
    await host_socket.disconnect()
    await guest_socket.disconnect()


async def test_presence_counts_members_online(room_with_two):
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    assert (await next_event(host_socket, "presence"))["online"] == 1
    guest_socket, _ = await ready_socket(guest, room.pk)
    assert (await next_event(host_socket, "presence"))["online"] == 2
    # A second tab of the same member is not a second person.
    second_tab, _ = await ready_socket(guest, room.pk)
    assert (await next_event(host_socket, "presence"))["online"] == 2
    await guest_socket.disconnect()
    await second_tab.disconnect()
    assert (await next_event(host_socket, "presence"))["online"] == 2
    assert (await next_event(host_socket, "presence"))["online"] == 1
    await host_socket.send_json_to({"type": "ping", "ref": 7})
    assert (await next_event(host_socket, "pong"))["ref"] == 7
    await host_socket.disconnect()


async def test_a_large_rooms_count_goes_out_at_most_once_per_window(
    room_with_two, make_user, make_member, monkeypatch
):
    from community.chat import presence

    # Two online already makes this room "large"; the window is long enough that
    # everything below happens inside it.
    monkeypatch.setattr(presence, "LARGE_ROOM_ONLINE", 1)
    monkeypatch.setattr(presence, "LARGE_ROOM_BROADCAST_SECONDS", 60)
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    assert (await next_event(host_socket, "presence"))["online"] == 1
    guest_socket, _ = await ready_socket(guest, room.pk)
    assert (await next_event(host_socket, "presence"))["online"] == 2  # the window opens
    third = await database_sync_to_async(make_user)("third")
    await database_sync_to_async(make_member)(room, third, nickname="Third")
    third_socket, _ = await ready_socket(third, room.pk)
    await no_event(host_socket, "presence")  # held back: same window
    # When the window has passed, the next ping sends the count that was held back.
    await database_sync_to_async(cache.delete)(f"presence-sent:{room.pk}")
    await guest_socket.send_json_to({"type": "ping"})
    assert (await next_event(host_socket, "presence"))["online"] == 3
    # Nothing held back now: pings send nothing.
    await database_sync_to_async(cache.delete)(f"presence-sent:{room.pk}")
    await guest_socket.send_json_to({"type": "ping"})
    await no_event(host_socket, "presence")
    for socket in (host_socket, guest_socket, third_socket):
        await socket.disconnect()


async def test_read_marker_moves_forward_only(room_with_two):
    room, host, guest = room_with_two
    host_membership = await database_sync_to_async(Membership.objects.get)(user=host)
    for number in range(3):
        await database_sync_to_async(send_message)(membership=host_membership, body=f"{number}")
    socket, ready = await ready_socket(guest, room.pk)
    assert ready["last_read_seq"] == 0
    await socket.send_json_to({"type": "read", "seq": 2})
    assert (await next_event(socket, "read.ok"))["seq"] == 2
    await socket.send_json_to({"type": "read", "seq": 1})
    await next_event(socket, "read.ok")
    await socket.send_json_to({"type": "read", "seq": 99})
    assert (await next_event(socket, "read.ok"))["seq"] == 3
    membership = await database_sync_to_async(Membership.objects.get)(pk=ready["membership_id"])
    assert membership.last_read_seq == 3
    await socket.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_frame"),
        ('["a list"]', "invalid_frame"),
        ('{"type": "launch.rockets"}', "unknown_frame"),
        ('{"type": "message.send", "body": 5}', "invalid_frame"),
        ('{"type": "message.send", "body": "   "}', "invalid"),
        ('{"type": "message.send", "body": "' + "x" * 4001 + '"}', "too_long"),
        ('{"type": "message.send", "body": "hi", "reply_to": 999999}', "invalid"),
        ('{"type": "message.delete", "id": "seven"}', "invalid_frame"),
        ('{"type": "message.delete", "id": 999999}', "not_found"),
        ('{"type": "read", "seq": -1}', "invalid_frame"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(room_with_two, frame, code):
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await socket.send_to(text_data=frame)
    error = await next_event(socket, "error")
    assert error["code"] == code
    assert error["message"]
    await socket.send_json_to({"type": "ping"})
    await next_event(socket, "pong")
    assert not await database_sync_to_async(Message.objects.exists)()
    await socket.disconnect()


async def test_burst_of_500_messages_reaches_a_socket_with_none_dropped(room_with_two):
    """The channel layer's capacity is sized so a burst into a room is not dropped."""
    room, host, guest = room_with_two
    host_membership = await database_sync_to_async(Membership.objects.get)(user=host)
    socket, _ = await ready_socket(guest, room.pk)

    def burst():
        for number in range(500):
            send_message(membership=host_membership, body=f"burst {number}")

    await database_sync_to_async(burst)()
    seqs = []
    while len(seqs) < 500:
        seqs.append((await next_event(socket, "message.created"))["message"]["seq"])
    assert sorted(seqs) == list(range(1, 501))
    await socket.disconnect()


async def test_rest_send_reaches_sockets_as_the_same_payload(room_with_two):
    room, host, guest = room_with_two
    socket, _ = await ready_socket(host, room.pk)

    def post():
        client = client_for(guest)
        return client.post(
            f"/api/v1/rooms/{room.pk}/messages/", {"body": "via rest", "client_id": "r1"}
        )

    response = await database_sync_to_async(post)()
    assert response.status_code == 201
    event = await next_event(socket, "message.created")
    assert event["message"] == response.json()
    await socket.disconnect()


async def test_socket_refused_with_1013_when_the_channel_layer_is_down(room_with_two):
    from channels.layers import channel_layers
    from django.test import override_settings

    room, _host, guest = room_with_two
    dead = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    with override_settings(CHANNEL_LAYERS=dead):
        channel_layers.backends.clear()
        assert await refusal_code(guest, room.pk) == 1013
    channel_layers.backends.clear()


async def test_suspended_user_cannot_send(room_with_two):
    from profiles.models import User

    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    until = timezone.now() + timezone.timedelta(days=1)
    await database_sync_to_async(User.objects.filter(pk=guest.pk).update)(suspended_until=until)
    await socket.send_json_to({"type": "message.send", "body": "hello"})
    # Checked on every frame like a ban: the socket closes with the suspension's code.
    assert await closed_with(socket) == 4413
    assert not await database_sync_to_async(Message.objects.filter(body="hello").exists)()


async def test_replying_to_a_deleted_message_is_refused(room_with_two):
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await socket.send_json_to({"type": "message.send", "body": "gone soon"})
    message = (await next_event(socket, "message.created"))["message"]
    await socket.send_json_to({"type": "message.delete", "id": message["id"]})
    await next_event(socket, "message.deleted")
    await socket.send_json_to({"type": "message.send", "body": "re", "reply_to": message["id"]})
    error = await next_event(socket, "error")
    assert "reply_to" in error["fields"]
    await socket.disconnect()


def _layer_like_settings(**overrides):
    """A second instance of the configured channel layer, with some config changed."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    layer_settings = settings.CHANNEL_LAYERS["default"]
    config = {**layer_settings.get("CONFIG", {}), **overrides}
    if "prefix" in config:
        config["prefix"] = f"{config['prefix']}-burst-test"
    return import_string(layer_settings["BACKEND"])(**config)


def _core_layer_on_the_same_redis(*, capacity: int):
    from django.conf import settings
    from django.utils.module_loading import import_string

    from config.redis_clients import channel_layer_settings

    layer_settings = channel_layer_settings(
        [settings.REDIS_URL],
        backend="core",
        prefix="moim-burst-test",
        capacity=capacity,
        receive_block_seconds=1.0,
        socket_timeout=3.0,
        connect_timeout=3.0,
    )
    return import_string(layer_settings["BACKEND"])(**layer_settings["CONFIG"])


@pytest.mark.parametrize(("capacity", "expected"), [(None, 500), (100, 100)])
async def test_configured_layer_holds_a_burst_for_a_consumer_that_is_not_reading(
    capacity, expected
):
    """A channel that cannot read during a burst keeps every message with the
    configured capacity; the library default of 100 would silently drop the rest."""
    from channels.layers import get_channel_layer
    from django.conf import settings

    if capacity is None:
        layer = get_channel_layer()
    elif "capacity" in settings.CHANNEL_LAYERS["default"]["CONFIG"]:
        layer = _layer_like_settings(capacity=capacity)
    else:
        # The pub/sub layer's queues are in process memory, without a capacity: the
        # core layer (CHANNEL_LAYER_BACKEND=core) on the same Redis is the one with it.
        layer = _core_layer_on_the_same_redis(capacity=capacity)
    channel = await layer.new_channel()
    await layer.group_add("burst", channel)
    for number in range(500):
        await layer.group_send("burst", {"type": "moim.event", "number": number})
    received = []
    while await _receive_within(layer, channel, 1.0, received):
        pass
    await layer.group_discard("burst", channel)
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    assert len(received) == expected
    assert received == list(range(expected))


async def _receive_within(layer, channel, seconds, received) -> bool:
    import asyncio

    try:
        message = await asyncio.wait_for(layer.receive(channel), seconds)
    except TimeoutError:
        return False
    received.append(message["number"])
    return True


async def test_resync_from_a_cursor_beyond_the_last_message_still_gets_new_messages(
    room_with_two,
):
    room, host, guest = room_with_two
    host_membership = await database_sync_to_async(Membership.objects.get)(user=host)
    await database_sync_to_async(send_message)(membership=host_membership, body="one")
    socket, ready = await ready_socket(guest, room.pk, after=500)
    assert ready["last_seq"] == 1
    assert (await next_event(socket, "resync.done"))["last_seq"] == 1
    await database_sync_to_async(send_message)(membership=host_membership, body="two")
    assert (await next_event(socket, "message.created"))["message"]["body"] == "two"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("reason", "code"),
    [("banned", 4410), ("kicked", 4411), ("left", 4412), ("suspended", 4413)],
)
async def test_member_removed_about_me_closes_my_socket(room_with_two, reason, code):
    """One removal event for every reason: the member's sockets close with its code, the
    others receive the same event."""
    room, host, guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, ready = await ready_socket(guest, room.pk)
    event = events.member_removed(
        room_id=room.pk, membership_id=ready["membership_id"], reason=reason
    )
    await database_sync_to_async(events.send_on_commit)(room.group_name, event)
    assert await next_event(guest_socket, "member.removed") == event
    assert await closed_with(guest_socket) == code
    assert await next_event(host_socket, "member.removed") == event
    await host_socket.disconnect()


async def test_a_socket_flooding_frames_is_told_to_slow_down(room_with_two, settings):
    settings.CHAT_FRAME_RATE = (5, 10)
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    for number in range(5):
        await socket.send_json_to({"type": "ping", "ref": number})
        await next_event(socket, "pong")
    await socket.send_json_to({"type": "ping", "ref": "flood"})
    error = await next_event(socket, "error")
    assert error["code"] == "rate_limited"
    assert error["ref"] == "flood"
    assert 1 <= error["retry_after"] <= 11
    await socket.disconnect()


async def test_nul_characters_are_dropped_from_messages(room_with_two):
    room, _host, guest = room_with_two
    socket, _ = await ready_socket(guest, room.pk)
    await socket.send_json_to({"type": "message.send", "body": "a\u0000b", "client_id": "n\u00001"})
    message = (await next_event(socket, "message.created"))["message"]
    assert message["body"] == "ab"
    assert message["client_id"] == "n1"
    await socket.disconnect()


async def _connect_raw(path: str, headers: list):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_native_app_without_origin_connects_with_a_ticket(room_with_two):
    from config.realtime import issue_socket_ticket

    room, _host, guest = room_with_two
    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=guest.pk)
    socket, connected = await _connect_raw(f"/ws/rooms/{room.pk}/?ticket={ticket}", [])
    assert connected
    assert (await next_event(socket))["type"] == "ready"
    await socket.disconnect()


async def test_session_cookie_needs_an_allowed_origin(room_with_two):
    from tests.community.chat_support import _session_cookie

    room, _host, guest = room_with_two
    cookie = (
        b"cookie",
        f"sessionid={await database_sync_to_async(_session_cookie)(guest)}".encode(),
    )
    path = f"/ws/rooms/{room.pk}/"
    # Another site's page cannot ride the member's session.
    socket, connected = await _connect_raw(path, [cookie, (b"origin", b"https://evil.example")])
    assert not connected
    # Without an Origin the cookie is ignored: not authenticated.
    socket, connected = await _connect_raw(path, [cookie])
    assert connected
    assert (await socket.receive_output())["code"] == 4401
    # From the site itself it works.
    socket, connected = await _connect_raw(path, [cookie, (b"origin", b"http://testserver")])
    assert connected
    assert (await next_event(socket))["type"] == "ready"
    await socket.disconnect()


async def test_frames_do_not_wait_for_channels_sync_thread(room_with_two, settings):
    """A frame's database work runs on its room's lane, which closes old connections
    itself: Channels' per-message detour through its one sync thread (queued behind
    every other socket's and request's sync work) is skipped for frames."""
    import asyncio
    import threading

    from asgiref.sync import sync_to_async

    if not settings.REALTIME_DB_LANES:
        pytest.skip("without lanes every frame runs on Channels' sync thread")
    room, host, _guest = room_with_two
    host_socket, _ = await ready_socket(host, room.pk)
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)(10))  # the sync thread, held
    try:
        await host_socket.send_json_to({"type": "ping", "ref": 1})
        assert (await next_event(host_socket, "pong", timeout=3))["ref"] == 1
        await host_socket.send_json_to({"type": "message.send", "body": "still here"})
        created = await next_event(host_socket, "message.created", timeout=3)
        assert created["message"]["body"] == "still here"
    finally:
        release.set()
        await busy
    await host_socket.disconnect()
