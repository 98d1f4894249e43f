"""History pages come from the cache until something they show changes.

The shared part of a page (messages, authors, replies, media, mentions) is cached per
room; every writer of it renews the room's pages. Each test fills the cache with one
GET, writes through a service, the API or a plain model save (what the admin does),
and reads again: the change must be there at once. Reactions are cached apart, under
the room's reaction version, which every reaction writer renews (the counts shared, each
reader's own ``me`` per reader, and only for readers who hide no one); read counts are
cached with the page under the room's reads version, which every writer of read markers
and memberships renews; ``collapsed`` is never cached.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from community.chat.models import Message
from community.chat.services import send_message
from community.media.models import MediaAsset
from community.media.tasks import process_media_asset
from community.moderation.services import check_hide_message
from community.reactions.models import Reaction, ReactionTarget
from community.reactions.services import (
    check_add_reaction,
    check_remove_reaction,
    recount_reaction_counters,
    take_back_reactions,
)
from community.rooms.models import Membership, Room
from community.rooms.services import change_member_role, update_my_membership, update_room
from profiles.models import Profile
from profiles.services import do_delete_account
from tests.community import media_samples
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host, title="Cached room")
    reader, writer = make_user("reader"), make_user("writer")
    make_member(room, reader, nickname="Reader")
    member = make_member(room, writer, nickname="Writer", is_open_profile=False)
    first = send_message(membership=member, body="first words")
    send_message(membership=member, body="second words", reply_to_id=first.pk)
    return {"room": room, "host": host, "reader": reader, "writer": writer, "member": member}


def history(user, room, **params) -> dict:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    response = client_for(user).get(f"/api/v1/rooms/{room.pk}/messages/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def bodies(page: dict) -> list[str]:
    return [message["body"] for message in page["results"]]


def test_a_cached_page_is_the_same_json_and_costs_fewer_queries(chat, django_assert_num_queries):
    room, reader = chat["room"], chat["reader"]
    send_message(membership=chat["member"], body="hello @Reader")
    with override_settings(CHAT_HISTORY_CACHE_SECONDS=0):
        uncached = client_for(reader).get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")
    # A miss: the room (with the viewer's membership), messages, mentions, reactions
    # (with the viewer's own), read counts. (The test client skips the token's user.)
    with django_assert_num_queries(5):
        miss = client_for(reader).get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")
    # A hit: the room (the reactions and read counts are cached too: below).
    with django_assert_num_queries(1):
        hit = client_for(reader).get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")
    assert miss.content == uncached.content
    assert hit.content == uncached.content
    # Anonymous readers of a web-public room share it too (no viewer queries).
    Room.objects.filter(pk=room.pk).update(is_web_public=True)
    with django_assert_num_queries(1):  # the room
        anonymous = APIClient().get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")
    assert anonymous.status_code == 200
    assert bodies(anonymous.json()) == ["first words", "second words", "hello @Reader"]


def test_windows_are_cached_apart(chat):
    room, reader, member = chat["room"], chat["reader"], chat["member"]
    for number in range(3):
        send_message(membership=member, body=f"more {number}")
    assert bodies(history(reader, room, limit=2)) == ["more 1", "more 2"]
    assert bodies(history(reader, room, limit=2, before=4)) == ["second words", "more 0"]
    assert bodies(history(reader, room, limit=2, after=1)) == ["second words", "more 0"]
    around = history(reader, room, limit=2, around=3)
    assert bodies(around) == ["second words", "more 0"]
    assert around["has_newer"] is True
    assert bodies(history(reader, room, limit=2)) == ["more 1", "more 2"]


def test_a_new_message_shows_at_once(chat):
    room, reader = chat["room"], chat["reader"]
    history(reader, room)
    response = client_for(chat["writer"]).post(
        f"/api/v1/rooms/{room.pk}/messages/", {"body": "third words"}
    )
    assert response.status_code == 201
    assert bodies(history(reader, room))[-1] == "third words"


def test_an_edit_and_a_delete_show_at_once(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    first, second = Message.objects.filter(room=room).order_by("seq")
    history(reader, room)
    edited = client_for(writer).patch(f"/api/v1/messages/{second.pk}/", {"body": "changed"})
    assert edited.status_code == 200
    page = history(reader, room)
    assert page["results"][1]["body"] == "changed"
    assert page["results"][1]["edited_at"] is not None
    assert client_for(writer).delete(f"/api/v1/messages/{first.pk}/").status_code == 204
    page = history(reader, room)
    assert page["results"][0]["deleted"] is True
    assert page["results"][0]["body"] == ""
    # The reply's preview of the deleted message goes too.
    assert page["results"][1]["reply_to"]["deleted"] is True
    assert page["results"][1]["reply_to"]["body"] == ""


def test_a_message_hidden_by_the_host_is_never_served_from_the_cache(chat):
    room, reader = chat["room"], chat["reader"]
    second = Message.objects.get(room=room, seq=2)
    assert "second words" in bodies(history(reader, room))
    check_hide_message(actor=chat["host"], message_id=second.pk, reason="spam")
    page = history(reader, room)
    assert "second words" not in bodies(page)
    assert page["results"][1]["deleted"] is True


def test_nickname_open_profile_and_role_changes_show_at_once(chat):
    room, reader, writer, member = chat["room"], chat["reader"], chat["writer"], chat["member"]
    author = history(reader, room)["results"][0]["author"]
    assert author["nickname"] == "Writer"
    assert author["profile_url"] is not None  # shows the main profile
    update_my_membership(room_id=room.pk, user=writer, nickname="Renamed", is_open_profile=True)
    author = history(reader, room)["results"][0]["author"]
    assert author["nickname"] == "Renamed"
    assert author["profile_url"] is None  # open profile: never the account
    change_member_role(
        room_id=room.pk, actor=chat["host"], membership_id=member.pk, role=Membership.Role.COHOST
    )
    assert history(reader, room)["results"][0]["author"]["role"] == "cohost"


def test_a_plain_model_save_as_the_admin_does_shows_at_once(chat):
    room, reader, member = chat["room"], chat["reader"], chat["member"]
    history(reader, room)
    member.nickname = "Set in admin"
    member.save()
    message = Message.objects.get(room=room, seq=1)
    message.body = "fixed in admin"
    message.save()
    page = history(reader, room)
    assert page["results"][0]["author"]["nickname"] == "Set in admin"
    assert page["results"][0]["body"] == "fixed in admin"
    assert page["results"][1]["reply_to"]["body"] == "fixed in admin"


def test_a_saved_read_marker_or_a_new_reaction_is_live(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    first = Message.objects.get(room=room, seq=1)
    before = history(reader, room)["results"][0]
    assert before["reactions"] == []
    check_add_reaction(
        user=reader, target_type=ReactionTarget.MESSAGE, target_id=first.pk, emoji="👍"
    )
    mine = history(reader, room)["results"][0]["reactions"]
    theirs = history(writer, room)["results"][0]["reactions"]
    assert mine == [{"emoji": "👍", "count": 1, "me": True}]
    assert theirs == [{"emoji": "👍", "count": 1, "me": False}]
    unread = before["unread_count"]
    read = client_for(chat["host"]).post(f"/api/v1/rooms/{room.pk}/read/", {"seq": 2})
    assert read.status_code == 200
    assert history(reader, room)["results"][0]["unread_count"] == unread - 1


def test_a_member_block_collapses_only_for_the_blocker(chat):
    room, reader, member = chat["room"], chat["reader"], chat["member"]
    history(reader, room)
    history(chat["host"], room)
    response = client_for(reader).post(f"/api/v1/rooms/{room.pk}/members/{member.pk}/block/")
    assert response.status_code in (200, 201, 204), response.content
    assert [m["collapsed"] for m in history(reader, room)["results"]] == [True, True]
    assert [m["collapsed"] for m in history(chat["host"], room)["results"]] == [False, False]


def test_deactivation_handle_change_and_account_deletion_show_at_once(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    url = history(reader, room)["results"][0]["author"]["profile_url"]
    profile = Profile.objects.get(user=writer)
    profile.handle = "new_handle"
    profile.save(update_fields=["handle"])
    new_url = history(reader, room)["results"][0]["author"]["profile_url"]
    assert new_url != url and "new_handle" in new_url
    writer.is_active = False
    writer.save(update_fields=["is_active"])
    assert history(reader, room)["results"][0]["author"]["profile_url"] is None
    writer.is_active = True
    writer.save(update_fields=["is_active"])
    history(reader, room)
    # Account deletion rewrites messages and memberships with bulk updates.
    do_delete_account(user=writer, delete_messages=True)
    page = history(reader, room)
    assert bodies(page) == ["", ""]
    assert page["results"][0]["author"]["nickname"] == "Deleted member"


def test_media_finishing_processing_and_room_visibility_show_at_once(
    chat, media_dir, django_capture_on_commit_callbacks
):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    # The processing task runs only when called below (no eager tasks here).
    response = client_for(writer).post(
        f"/api/v1/rooms/{room.pk}/messages/",
        {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((64, 48))), "body": "pic"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    media = history(reader, room)["results"][-1]["media"]
    assert media["state"] == "pending"
    process_media_asset.apply(args=[media["id"]])
    assert MediaAsset.objects.get(pk=media["id"]).state == MediaAsset.State.READY
    media = history(reader, room)["results"][-1]["media"]
    assert media["state"] == "ready"
    assert "signature=" not in media["url"]
    # A private room's media URLs are signed.
    update_room(room_id=room.pk, actor=chat["host"], visibility=Room.Visibility.PRIVATE)
    media = history(reader, room)["results"][-1]["media"]
    assert "signature=" in media["url"]


def test_cached_signed_urls_never_outlive_their_period(chat, media_dir, monkeypatch):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    update_room(room_id=room.pk, actor=chat["host"], visibility=Room.Visibility.PRIVATE)
    response = client_for(writer).post(
        f"/api/v1/rooms/{room.pk}/messages/",
        {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((64, 48)))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    process_media_asset.apply(args=[response.json()["media"]["id"]])
    url = history(reader, room)["results"][-1]["media"]["url"]
    assert history(reader, room)["results"][-1]["media"]["url"] == url
    import time

    later = time.time() + 3600 * 2
    monkeypatch.setattr(time, "time", lambda: later)
    fresh = history(reader, room)["results"][-1]["media"]["url"]
    assert fresh != url
    with override_settings(CHAT_HISTORY_CACHE_SECONDS=0):
        assert history(reader, room)["results"][-1]["media"]["url"] == fresh


# --- Reactions: cached per room under their own version ------------------------------
# The counts of a page are shared by its readers and each reader's own ``me`` is kept
# apart; every writer of message reactions renews the room's reaction version
# (community.reactions.selectors.forget_room_reactions), not its pages.


def reactions_of_first(user, room) -> list[dict]:
    return history(user, room)["results"][0]["reactions"]


def react(user, message, emoji="👍"):
    check_add_reaction(
        user=user, target_type=ReactionTarget.MESSAGE, target_id=message.pk, emoji=emoji
    )


def test_a_reaction_added_shows_at_once_with_each_readers_own_me(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    first = Message.objects.get(room=room, seq=1)
    assert reactions_of_first(reader, room) == []
    assert reactions_of_first(writer, room) == []
    react(writer, first)  # do_add_reaction
    assert reactions_of_first(reader, room) == [{"emoji": "👍", "count": 1, "me": False}]
    assert reactions_of_first(writer, room) == [{"emoji": "👍", "count": 1, "me": True}]
    react(reader, first)
    react(reader, first, "🎉")
    assert reactions_of_first(reader, room) == [
        {"emoji": "👍", "count": 2, "me": True},
        {"emoji": "🎉", "count": 1, "me": True},
    ]
    assert reactions_of_first(writer, room) == [
        {"emoji": "👍", "count": 2, "me": True},
        {"emoji": "🎉", "count": 1, "me": False},
    ]


def test_a_tap_renews_the_reactions_not_the_page(chat, django_assert_num_queries):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    url = f"/api/v1/rooms/{room.pk}/messages/"
    client_for(reader).get(url)
    react(writer, Message.objects.get(room=room, seq=1))
    with django_assert_num_queries(2):  # room, reactions: the page is a hit
        client_for(reader).get(url)
    with django_assert_num_queries(1):  # and the reactions again
        client_for(reader).get(url)
    # Another reader: the shared counts are cached, their own emoji are read once.
    with django_assert_num_queries(2):
        client_for(chat["host"]).get(url)


def test_a_reaction_removed_shows_at_once(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    first = Message.objects.get(room=room, seq=1)
    react(writer, first)
    assert reactions_of_first(reader, room) == [{"emoji": "👍", "count": 1, "me": False}]
    assert reactions_of_first(writer, room) == [{"emoji": "👍", "count": 1, "me": True}]
    check_remove_reaction(  # do_remove_reaction
        user=writer, target_type=ReactionTarget.MESSAGE, target_id=first.pk, emoji="👍"
    )
    assert reactions_of_first(reader, room) == []
    assert reactions_of_first(writer, room) == []


def test_reactions_taken_back_by_a_moderator_show_at_once(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    react(writer, Message.objects.get(room=room, seq=1))
    assert reactions_of_first(reader, room)[0]["count"] == 1
    assert reactions_of_first(writer, room)[0]["me"] is True
    # What the admin's delete does.
    take_back_reactions(reaction_ids=list(Reaction.objects.values_list("pk", flat=True)))
    assert reactions_of_first(reader, room) == []
    assert reactions_of_first(writer, room) == []


def test_recounted_counters_show_at_once(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    react(writer, Message.objects.get(room=room, seq=1))
    # A bulk delete outside the services leaves the counter behind until the recount.
    Reaction.objects.all().delete()
    assert reactions_of_first(reader, room) == [{"emoji": "👍", "count": 1, "me": False}]
    assert recount_reaction_counters(target_type=ReactionTarget.MESSAGE) == 1
    assert reactions_of_first(reader, room) == []


def test_a_deleted_accounts_reactions_leave_at_once(chat):
    room, reader, writer = chat["room"], chat["reader"], chat["writer"]
    first = Message.objects.get(room=room, seq=1)
    react(writer, first)
    react(reader, first)
    assert reactions_of_first(reader, room) == [{"emoji": "👍", "count": 2, "me": True}]
    do_delete_account(user=writer, delete_messages=False)
    assert reactions_of_first(reader, room) == [{"emoji": "👍", "count": 1, "me": True}]


# Read counts are the same for every reader: cached with the page under the room's reads
# version (community.reads.selectors.forget_room_reads), renewed by every writer of a read
# marker, a membership's state or a room's member count. In the fixture the host and the
# reader have read nothing, the writer everything: each message counts 2.


def unread(user, room, **params) -> list:
    return [message["unread_count"] for message in history(user, room, **params)["results"]]


def reader_membership(chat) -> Membership:
    return Membership.objects.get(room=chat["room"], user=chat["reader"])


def test_a_read_marker_moving_shows_at_once_in_every_window(chat):
    room, reader, host = chat["room"], chat["reader"], chat["host"]
    assert unread(host, room) == [2, 2]
    assert unread(host, room, limit=1, before=2) == [2]
    assert client_for(reader).post(f"/api/v1/rooms/{room.pk}/read/", {"seq": 1}).status_code == 200
    assert unread(host, room) == [1, 2]
    assert unread(host, room, limit=1, before=2) == [1]
    assert unread(reader, room) == [1, 2]  # the same for every reader


def test_a_sender_catching_up_shows_at_once(chat):
    room, host = chat["room"], chat["host"]
    assert unread(chat["reader"], room) == [2, 2]
    sent = client_for(host).post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "third words"})
    assert sent.status_code == 201
    # The host's marker moved past the first two; the new one waits for two readers.
    assert unread(chat["reader"], room) == [1, 1, 2]


@override_settings(READ_COUNTS_MAX_MEMBERS=3)
def test_a_join_past_the_cap_shows_at_once(chat, make_user):
    room = chat["room"]
    assert unread(chat["reader"], room) == [2, 2]
    joined = client_for(make_user("late")).post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Late"}
    )
    assert joined.status_code in (200, 201), joined.content
    assert unread(chat["reader"], room) == [None, None]  # over the cap: no counts


def test_a_member_leaving_shows_at_once(chat):
    room, reader = chat["room"], chat["reader"]
    assert unread(chat["host"], room) == [2, 2]
    assert client_for(reader).post(f"/api/v1/rooms/{room.pk}/leave/").status_code == 204
    assert unread(chat["host"], room) == [1, 1]


def test_a_kick_and_its_undo_show_at_once(chat):
    room, host = chat["room"], chat["host"]
    target = reader_membership(chat)
    members = f"/api/v1/rooms/{room.pk}/members/{target.pk}"
    assert unread(host, room) == [2, 2]
    assert client_for(host).post(f"{members}/kick/", {}, format="json").status_code == 204
    assert unread(host, room) == [1, 1]
    undone = client_for(host).post(f"{members}/kick/undo/", {}, format="json")
    assert undone.status_code in (200, 204), undone.content
    assert unread(host, room) == [2, 2]


def test_a_ban_shows_at_once(chat):
    room, host = chat["room"], chat["host"]
    target = reader_membership(chat)
    assert unread(host, room) == [2, 2]
    banned = client_for(host).post(
        f"/api/v1/rooms/{room.pk}/members/{target.pk}/ban/", {"reason": "x"}, format="json"
    )
    assert banned.status_code in (200, 201, 204), banned.content
    assert unread(host, room) == [1, 1]


@override_settings(READ_COUNTS_MAX_MEMBERS=3)
def test_membership_and_member_count_saved_as_the_admin_does_show_at_once(chat):
    room, host = chat["room"], chat["host"]
    assert unread(host, room) == [2, 2]
    target = reader_membership(chat)
    target.last_read_seq = 1
    target.save()
    assert unread(host, room) == [1, 2]
    target.state = Membership.State.LEFT
    target.save(update_fields=["state"])
    assert unread(host, room) == [1, 1]
    room.refresh_from_db()
    room.member_count = 4
    room.save(update_fields=["member_count"])
    assert unread(host, room) == [None, None]


def test_a_deleted_account_stops_counting_at_once(chat):
    room, host = chat["room"], chat["host"]
    assert unread(host, room) == [2, 2]
    do_delete_account(user=chat["reader"], delete_messages=False)
    assert unread(host, room) == [1, 1]


def test_a_deleted_message_loses_its_count_at_once(chat):
    room, reader = chat["room"], chat["reader"]
    first = Message.objects.get(room=room, seq=1)
    assert unread(reader, room) == [2, 2]
    assert client_for(chat["writer"]).delete(f"/api/v1/messages/{first.pk}/").status_code == 204
    assert unread(reader, room) == [None, 2]
