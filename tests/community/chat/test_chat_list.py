"""Chats, the signed-in home: the chat list (web page and ``GET /api/v1/me/chats/``), the
chat screen of a room for its members, and the composer's ``@`` autocomplete."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community.chat.services import delete_message, send_message
from community.notifications.services import set_room_notification_level
from community.rooms.models import Membership
from community.rooms.services import block_member

pytestmark = pytest.mark.django_db


def _chats(client):
    response = client.get("/api/v1/me/chats/")
    assert response.status_code == 200
    return response.json()["results"]


def test_chat_list_is_latest_activity_first_with_previews_and_counts(
    make_user, make_room, make_member, client_for
):
    me = make_user("meme")
    friend = make_user("friend")
    quiet = make_room(owner=friend, title="Quiet room", nickname="Host Q")
    busy = make_room(owner=friend, title="Busy room", nickname="Host B")
    mine_q = make_member(quiet, me, nickname="Minji")
    make_member(busy, me, nickname="Minji B")
    host_q = Membership.objects.get(room=quiet, user=friend)
    host_b = Membership.objects.get(room=busy, user=friend)
    send_message(membership=host_q, body="old news")
    send_message(membership=host_b, body="hello @Minji B")
    send_message(membership=host_b, body="anyone?")
    send_message(membership=mine_q, body="my own, latest")

    chats = _chats(client_for(me))
    assert [c["title"] for c in chats] == ["Quiet room", "Busy room"]
    quiet_row, busy_row = chats
    assert quiet_row["last_message"]["preview"] == "my own, latest"
    assert quiet_row["last_message"]["is_mine"] is True
    assert quiet_row["last_message"]["author_nickname"] == "Minji"
    assert quiet_row["unread"] == 0  # sending reads the room
    assert busy_row["unread"] == 2 and busy_row["mentions"] == 1
    assert busy_row["last_message"]["author_nickname"] == "Host B"
    assert busy_row["level"] == "all" and busy_row["muted"] is False
    # Nicknames only: no handle, username or user id anywhere in the list.
    text = json.dumps(chats)
    assert "friend" not in text and '"user_id"' not in text


def test_preview_skips_deleted_and_blocked_members_messages(
    make_user, make_room, make_member, client_for
):
    me = make_user("meme")
    host = make_user("host")
    room = make_room(owner=host, nickname="Host")
    make_member(room, me, nickname="Me")
    troll = make_member(room, make_user("troll"), nickname="Troll")
    host_membership = Membership.objects.get(room=room, user=host)
    send_message(membership=host_membership, body="the visible one")
    gone = send_message(membership=host_membership, body="deleted later")
    delete_message(user_id=host.pk, message_id=gone.pk)
    send_message(membership=troll, body="rude words")

    assert _chats(client_for(me))[0]["last_message"]["preview"] == "rude words"
    block_member(room_id=room.pk, actor=me, membership_id=troll.pk)
    (row,) = _chats(client_for(me))
    assert row["last_message"]["preview"] == "the visible one"
    assert "rude words" not in client_for(me, session=True).get("/").content.decode()


def test_muting_from_the_list_shows_in_it(make_user, make_room, make_member, client_for):
    me = make_user("meme")
    room = make_room(title="Loud room")
    make_member(room, me)
    client = client_for(me)
    response = client.put(
        f"/api/v1/rooms/{room.pk}/notifications/", {"level": "muted"}, format="json"
    )
    assert response.status_code == 200
    (row,) = _chats(client)
    assert row["muted"] is True and row["level"] == "muted"


def test_chat_list_queries_do_not_grow_with_the_rooms(
    make_user, make_room, make_member, client_for, django_assert_num_queries
):
    me = make_user("meme")
    client = client_for(me)

    def add_rooms(count):
        for _ in range(count):
            room = make_room()
            member = make_member(room, me)
            send_message(membership=Membership.objects.get(room=room, role="owner"), body="hi")
            set_room_notification_level(user=me, room_id=room.pk, level="mentions")
            send_message(membership=member, body="@someone")

    add_rooms(2)
    with CaptureQueriesContext(connection) as two_rooms:
        assert len(_chats(client)) == 2
    add_rooms(4)
    # Session and user, then two for the list, whatever its length.
    with django_assert_num_queries(len(two_rooms.captured_queries)):
        assert len(_chats(client)) == 6


def test_chats_is_the_signed_in_home_and_discover_stays_for_everyone(
    make_user, make_room, make_member, client_for, client
):
    me = make_user("meme")
    room = make_room(title="<b>Tag soup</b>")
    make_member(room, me)
    page = client_for(me, session=True).get("/").content.decode()
    assert "data-chat-list" in page and "js/chats.js" in page
    assert "&lt;b&gt;Tag soup&lt;/b&gt;" in page and "<b>Tag soup</b>" not in page
    assert client_for(me, session=True).get("/discover/").status_code == 200
    # Signed out, "/" is Discover; so it is for someone in no room yet.
    assert "data-chat-list" not in client.get("/").content.decode()
    newcomer = client_for(make_user("newcomer"), session=True).get("/").content.decode()
    assert "data-chat-list" not in newcomer


def test_the_room_page_is_the_chat_screen_for_members_only(
    make_user, make_room, make_member, client_for, client
):
    host = make_user("host")
    room = make_room(owner=host, title="Jazz", visibility="public")
    me = make_user("meme")
    mine = make_member(room, me, nickname="Me")
    send_message(membership=mine, body="</script><script>alert(1)</script>")
    page = client_for(me, session=True).get(f"/rooms/{room.pk}/").content.decode()
    assert 'id="chat"' in page and "is-chat-screen" in page
    # The latest messages come with the page, as JSON no message can break out of.
    first_page = re.search(
        r'<script id="chat-first-page" type="application/json">(.*?)</script>', page, re.S
    )
    assert first_page is not None
    assert "<script>alert(1)" not in page
    data = json.loads(first_page.group(1))
    assert [m["body"] for m in data["results"]] == ["</script><script>alert(1)</script>"]
    assert data["last_read_seq"] == 1
    # The room's page (info) is one tap away; a visitor gets it at the room's address.
    assert client_for(me, session=True).get(f"/rooms/{room.pk}/info/").status_code == 200
    visitor_client = client_for(make_user("visitor"), session=True)
    visitor = visitor_client.get(f"/rooms/{room.pk}/").content.decode()
    assert 'id="chat"' not in visitor and "chat-first-page" not in visitor


def test_the_quick_reaction_bar_leads_with_the_rooms_favourite_emoji(
    make_user, make_room, make_member, client_for
):
    host = make_user("host")
    room = make_room(owner=host)
    fan = make_user("fan")
    make_member(room, fan)
    message = send_message(membership=Membership.objects.get(room=room, user=host), body="hi")
    for user in (host, fan):
        response = client_for(user).post(
            f"/api/v1/messages/{message.pk}/reactions/", {"emoji": "🎷"}, format="json"
        )
        assert response.status_code in (200, 201)
    page = client_for(fan, session=True).get(f"/rooms/{room.pk}/").content.decode()
    top = re.search(r'<script id="chat-top-emoji" type="application/json">(.*?)</script>', page)
    assert json.loads(top.group(1))[0] == "🎷"


def test_mention_autocomplete_is_for_members_and_gives_nicknames_only(
    make_user, make_room, make_member, client_for
):
    host = make_user("host")
    room = make_room(owner=host, nickname="Hostess", visibility="public")
    me = make_user("meme")
    make_member(room, me, nickname="Minji")
    make_member(room, make_user("mina_account"), nickname="Mina")
    make_member(room, make_user("other"), nickname="Bob")
    url = f"/api/v1/rooms/{room.pk}/mentions/"
    answer = client_for(me).get(url, {"q": "mi"}).json()
    # Me excluded; case-insensitive prefix; no account names.
    assert [row["nickname"] for row in answer["results"]] == ["Mina"]
    assert "mina_account" not in json.dumps(answer)
    assert set(answer["results"][0]) == {"membership_id", "nickname", "avatar"}
    # Not a member (or signed out): the answer of a room that does not exist.
    assert client_for(make_user("stranger")).get(url, {"q": "mi"}).status_code == 404
    assert client_for(me).get("/api/v1/rooms/999999/mentions/", {"q": "mi"}).status_code == 404


def test_the_chat_screen_queries_do_not_grow_with_messages_or_rooms(
    make_user, make_room, make_member, client_for, django_assert_num_queries
):
    me = make_user("meme")
    client = client_for(me, session=True)
    room = make_room(title="Jazz")
    mine = make_member(room, me, nickname="Me")
    send_message(membership=mine, body="first, @Me")  # a page with a mention in it

    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/rooms/{room.pk}/").status_code == 200
    host = Membership.objects.get(room=room, role="owner")
    for number in range(30):
        send_message(membership=host if number % 2 else mine, body=f"@Me number {number}")
    for _ in range(3):
        other = make_room()
        make_member(other, me)
        send_message(membership=Membership.objects.get(room=other, role="owner"), body="hi")
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(f"/rooms/{room.pk}/").status_code == 200
