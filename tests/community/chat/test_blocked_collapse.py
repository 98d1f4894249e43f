"""Messages of people the viewer blocked arrive collapsed: history, sockets, room preview.

Here bob shows his main profile in the room, so blocking his account folds him; an
open profile folds only by a member block (tests/community/test_member_blocks.py).
Each viewer gets their own flags: the same broadcast reaches a third member unfolded.
"""

import pytest
from channels.db import database_sync_to_async

from community.chat.services import send_message
from tests.community.chat_support import (
    next_event,
    no_event,
    ready_socket,
)
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


@pytest.fixture
def trio(make_user, make_room, make_member):
    """A room with ``me``, ``bob`` (whom ``me`` may block) and ``carol`` (a bystander)."""
    me, bob, carol = make_user("myself"), make_user("bob"), make_user("carol")
    room = make_room(owner=carol, title="Film club")
    return {
        "room": room,
        "me": me,
        "bob": bob,
        "carol": carol,
        "my_member": make_member(room, me, nickname="Me here"),
        "bob_member": make_member(room, bob, nickname="Bobby", is_open_profile=False),
    }


def _block(blocker, handle: str, *, method: str = "post") -> None:
    response = getattr(client_for(blocker), method)(f"/api/v1/users/{handle}/block/")
    assert response.status_code in (200, 201, 204), response.content


def _page_as(user, path: str) -> str:
    client = client_for(user, session=True)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _history(user, room_id: int) -> list[dict]:
    response = client_for(user).get(f"/api/v1/rooms/{room_id}/messages/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_history_collapses_messages_and_replies_by_blocked_members_for_the_blocker_only(trio):
    room, bob_member, my_member = trio["room"], trio["bob_member"], trio["my_member"]
    from_bob = send_message(membership=bob_member, body="spoilers!")
    send_message(membership=my_member, body="please don't", reply_to_id=from_bob.pk)
    _block(trio["me"], "bob")

    mine = _history(trio["me"], room.pk)
    assert [(m["body"], m["collapsed"]) for m in mine] == [
        ("spoilers!", True),
        ("please don't", False),
    ]
    assert mine[1]["reply_to"]["collapsed"] is True
    # The bystander and bob himself see everything unfolded.
    for viewer in (trio["carol"], trio["bob"]):
        theirs = _history(viewer, room.pk)
        assert [m["collapsed"] for m in theirs] == [False, False]
        assert theirs[1]["reply_to"]["collapsed"] is False

    _block(trio["me"], "bob", method="delete")
    assert [m["collapsed"] for m in _history(trio["me"], room.pk)] == [False, False]


def test_a_history_page_with_collapsed_messages_runs_a_fixed_number_of_queries(
    trio, django_assert_max_num_queries
):
    room = trio["room"]
    _block(trio["me"], "bob")
    client = client_for(trio["me"])
    for count in (2, 40):
        for number in range(count):
            send_message(membership=trio["bob_member"], body=f"m{number}")
        with django_assert_max_num_queries(5):
            response = client.get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")
        assert response.status_code == 200
        assert all(m["collapsed"] for m in response.json()["results"])


async def test_live_messages_are_collapsed_per_socket(trio):
    room = trio["room"]
    from profiles.services import block_user

    await database_sync_to_async(block_user)(blocker=trio["me"], blocked=trio["bob"])
    my_socket, _ = await ready_socket(trio["me"], room.pk)
    carol_socket, _ = await ready_socket(trio["carol"], room.pk, auth="ticket")
    bob_socket, _ = await ready_socket(trio["bob"], room.pk)

    await bob_socket.send_json_to({"type": "message.send", "body": "hi", "client_id": "b1"})
    mine = await next_event(my_socket, "message.created")
    carols = await next_event(carol_socket, "message.created")
    bobs = await next_event(bob_socket, "message.created")
    assert mine["message"]["collapsed"] is True
    assert carols["message"]["collapsed"] is False
    assert bobs["message"]["collapsed"] is False
    assert mine["message"]["id"] == carols["message"]["id"]

    # An edit arrives collapsed for me too.
    await bob_socket.send_json_to(
        {"type": "message.edit", "id": mine["message"]["id"], "body": "hi again"}
    )
    edited = await next_event(my_socket, "message.updated")
    assert edited["message"]["collapsed"] is True
    assert (await next_event(carol_socket, "message.updated"))["message"]["collapsed"] is False
    for socket in (my_socket, carol_socket, bob_socket):
        await socket.disconnect()


async def test_blocking_while_connected_refolds_the_open_socket(trio):
    room = trio["room"]
    my_socket, _ = await ready_socket(trio["me"], room.pk)
    bob_socket, _ = await ready_socket(trio["bob"], room.pk)

    await database_sync_to_async(_block)(trio["me"], "bob")
    changed = await next_event(my_socket, "blocks.changed")
    assert changed == {
        "type": "blocks.changed",
        "room_id": room.pk,
        "collapsed_membership_ids": [trio["bob_member"].pk],
    }
    await bob_socket.send_json_to({"type": "message.send", "body": "still here"})
    assert (await next_event(my_socket, "message.created"))["message"]["collapsed"] is True
    # Bob's own socket hears nothing about being blocked.
    assert (await next_event(bob_socket, "message.created"))["message"]["collapsed"] is False
    await no_event(bob_socket, "blocks.changed")

    await database_sync_to_async(_block)(trio["me"], "bob", method="delete")
    changed = await next_event(my_socket, "blocks.changed")
    assert changed["collapsed_membership_ids"] == []
    await bob_socket.send_json_to({"type": "message.send", "body": "back"})
    assert (await next_event(my_socket, "message.created"))["message"]["collapsed"] is False
    await my_socket.disconnect()
    await bob_socket.disconnect()


async def test_someone_i_blocked_who_joins_later_arrives_collapsed_and_unannounced(
    trio, make_user, make_member
):
    room = trio["room"]
    from profiles.services import block_user

    dave = await database_sync_to_async(make_user)("dave")
    await database_sync_to_async(block_user)(blocker=trio["me"], blocked=dave)
    my_socket, _ = await ready_socket(trio["me"], room.pk)

    from community.rooms.services import join_room

    await database_sync_to_async(join_room)(
        room_id=room.pk, user=dave, nickname="Newcomer", is_open_profile=False
    )
    await next_event(my_socket, "member.joined")
    dave_socket, _ = await ready_socket(dave, room.pk)
    await dave_socket.send_json_to({"type": "message.send", "body": "hello room"})
    event = await next_event(my_socket, "message.created", "blocks.changed")
    assert event["type"] == "message.created"
    assert event["message"]["collapsed"] is True
    await my_socket.disconnect()
    await dave_socket.disconnect()


async def test_catch_up_after_reconnect_is_collapsed(trio):
    room = trio["room"]
    from profiles.services import block_user

    await database_sync_to_async(block_user)(blocker=trio["me"], blocked=trio["bob"])
    for body in ("one", "two"):
        await database_sync_to_async(send_message)(membership=trio["bob_member"], body=body)
    my_socket, _ = await ready_socket(trio["me"], room.pk, after=0)
    replayed = [await next_event(my_socket, "message.created") for _ in range(2)]
    assert [(e["message"]["body"], e["message"]["collapsed"]) for e in replayed] == [
        ("one", True),
        ("two", True),
    ]
    await next_event(my_socket, "resync.done")
    await my_socket.disconnect()


def test_room_preview_for_readers_folds_blocked_members(trio, make_user):
    from community.rooms.services import update_room

    room = trio["room"]
    # Only a web-public room shows its messages to readers who are not members.
    update_room(room_id=room.pk, actor=trio["carol"], is_web_public=True)
    send_message(membership=trio["bob_member"], body="bob's secret take")
    send_message(membership=trio["my_member"], body="visible take")
    reader = make_user("reader")
    _block(reader, "bob")
    page = _page_as(reader, f"/rooms/{room.pk}/")
    assert "visible take" in page
    assert "bob&#x27;s secret take" not in page and "bob's secret take" not in page
    assert "Message from someone you blocked." in page
    other = _page_as(make_user("other"), f"/rooms/{room.pk}/")
    assert "bob&#x27;s secret take" in other
