"""Search inside a room: ``GET /api/v1/rooms/<id>/messages/?q=`` (members only), Korean and
Japanese inside words, English by word, newest first with ``before`` paging, highlights,
and ``around`` to load a result in context."""

import pytest

from community.chat.services import check_send_message, delete_message, edit_message
from community.moderation.services import check_hide_message
from community.rooms.models import Room
from community.rooms.services import block_member
from tests.community.moderation_helpers import make_moderator
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _many_messages_allowed(settings):
    """These tests send dozens of messages in a second: no flood or rate limit."""
    settings.CHAT_SEND_RATE = (10_000, 10)
    settings.MODERATION_FLOOD_MESSAGES = 10_000


@pytest.fixture
def chat(room_with_two):
    """``(room, host membership, guest membership)`` in a public room."""
    room, host, guest = room_with_two
    return room, host.memberships.get(room=room), guest.memberships.get(room=room)


def say(membership, body: str):
    return check_send_message(membership=membership, body=body).message


def search(user, room, q: str, **params):
    return client_for(user).get(f"/api/v1/rooms/{room.pk}/messages/", {"q": q, **params})


def bodies(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [result["body"] for result in response.json()["results"]]


def test_korean_and_japanese_match_inside_words(chat):
    room, host, guest = chat
    say(host, "오늘 회의실에서 만나요")
    say(guest, "밥먹자")
    say(host, "東京駅で会いましょう")
    say(guest, "ライブは楽しかった")
    user = guest.user
    assert bodies(search(user, room, "회의")) == ["오늘 회의실에서 만나요"]
    assert bodies(search(user, room, "회의실")) == ["오늘 회의실에서 만나요"]
    assert bodies(search(user, room, "밥")) == ["밥먹자"]
    assert bodies(search(user, room, "東京")) == ["東京駅で会いましょう"]
    assert bodies(search(user, room, "駅")) == ["東京駅で会いましょう"]
    assert bodies(search(user, room, "楽しか")) == ["ライブは楽しかった"]
    assert bodies(search(user, room, "회의 만나요")) == ["오늘 회의실에서 만나요"]
    assert bodies(search(user, room, "회의 東京")) == []


def test_english_matches_whole_words_whatever_the_case(chat):
    room, host, guest = chat
    say(host, "The cat sat on the mat")
    say(host, "Never concatenate strings in a loop")
    say(host, "Cats are great")
    say(host, "I love c++ and C#")
    user = guest.user
    assert bodies(search(user, room, "cat")) == ["The cat sat on the mat"]
    assert bodies(search(user, room, "CAT")) == ["The cat sat on the mat"]
    assert bodies(search(user, room, "cats")) == ["Cats are great"]
    assert bodies(search(user, room, "cat mat")) == ["The cat sat on the mat"]
    assert bodies(search(user, room, "c++")) == ["I love c++ and C#"]
    assert bodies(search(user, room, "c#")) == ["I love c++ and C#"]


def test_wildcards_and_pattern_characters_are_plain_text(chat):
    room, host, guest = chat
    say(host, "100% sure")
    say(host, "1000 sure")
    say(host, "snake_case")
    say(host, "snakeXcase")
    say(host, "(hi) [there] a.b")
    user = guest.user
    assert bodies(search(user, room, "100%")) == ["100% sure"]
    assert bodies(search(user, room, "snake_case")) == ["snake_case"]
    assert bodies(search(user, room, "(hi)")) == ["(hi) [there] a.b"]
    assert bodies(search(user, room, "a.b")) == ["(hi) [there] a.b"]
    assert bodies(search(user, room, "\\")) == []


def test_newest_first_with_before_paging(chat):
    room, host, guest = chat
    sent = [say(host, f"jazz night {n}") for n in range(5)]
    say(host, "something else")
    first = search(guest.user, room, "jazz", limit=2).json()
    assert [r["body"] for r in first["results"]] == ["jazz night 4", "jazz night 3"]
    assert first["has_more"] is True
    second = search(guest.user, room, "jazz", limit=2, before=first["results"][-1]["seq"]).json()
    assert [r["body"] for r in second["results"]] == ["jazz night 2", "jazz night 1"]
    third = search(guest.user, room, "jazz", limit=2, before=second["results"][-1]["seq"]).json()
    assert [r["id"] for r in third["results"]] == [sent[0].pk]
    assert third["has_more"] is False


def test_highlights_are_code_point_ranges_of_the_terms(chat):
    room, host, guest = chat
    say(host, "🎷 Jazz and jazz, not jazzy")
    say(host, "재즈 좋아 재즈재즈")
    result = search(guest.user, room, "jazz").json()["results"][0]
    # The saxophone is one code point (two UTF-16 units): offsets count code points.
    assert result["highlights"] == [[2, 6], [11, 15]]
    assert result["body"][2:6] == "Jazz"
    result = search(guest.user, room, "재즈 좋아").json()["results"][0]
    assert result["highlights"] == [[0, 2], [3, 5], [6, 10]]


def test_deleted_hidden_and_edited_messages(chat, make_user):
    room, host, guest = chat
    deleted = say(guest, "secret plan alpha")
    hidden = say(guest, "secret plan beta")
    edited = say(guest, "secret plan gamma")
    delete_message(user_id=guest.user_id, message_id=deleted.pk)
    check_hide_message(actor=make_moderator(make_user, "mod"), message_id=hidden.pk)
    edit_message(user_id=guest.user_id, message_id=edited.pk, body="public plan gamma")
    assert bodies(search(host.user, room, "secret")) == []
    assert bodies(search(host.user, room, "public plan")) == ["public plan gamma"]


def test_messages_of_members_i_blocked_never_match(chat, make_user, make_member):
    room, host, guest = chat
    third = make_member(room, make_user("third"), nickname="Third")
    say(guest, "pizza tonight?")
    say(third, "pizza for me")
    block_member(room_id=room.pk, actor=host.user, membership_id=guest.pk)
    assert bodies(search(host.user, room, "pizza")) == ["pizza for me"]
    # Only for the one who blocked.
    assert bodies(search(third.user, room, "pizza")) == ["pizza for me", "pizza tonight?"]


def test_only_members_search(chat, make_user, make_room, client):
    room, host, _guest = chat
    say(host, "hello")
    outsider = make_user("outsider")
    refused = search(outsider, room, "hello")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_member"

    # A room anyone may read still searches for members only.
    Room.objects.filter(pk=room.pk).update(is_web_public=True)
    assert search(outsider, room, "hello").status_code == 403
    assert client.get(f"/api/v1/rooms/{room.pk}/messages/", {"q": "hello"}).status_code == 403

    # A private room is missing for outsiders, exactly like a room that does not exist.
    private = make_room(owner=make_user("p_owner"), visibility=Room.Visibility.PRIVATE)
    hidden = search(outsider, private, "hello")
    missing = client_for(outsider).get(f"/api/v1/rooms/{private.pk + 999}/messages/?q=hello")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 101},
        {"q": "jazz", "after": 3},
        {"q": "jazz", "around": 3},
        {"q": "jazz", "limit": 51},
        {"around": 3, "before": 5},
        {"around": "x"},
    ],
)
def test_bad_queries_are_refused_clearly(chat, params):
    room, _host, guest = chat
    response = client_for(guest.user).get(f"/api/v1/rooms/{room.pk}/messages/", params)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_around_loads_a_message_in_context(chat):
    room, host, guest = chat
    sent = [say(host, f"line {n}") for n in range(1, 31)]
    page = (
        client_for(guest.user)
        .get(f"/api/v1/rooms/{room.pk}/messages/", {"around": sent[14].seq, "limit": 10})
        .json()
    )
    seqs = [r["seq"] for r in page["results"]]
    assert seqs == list(range(sent[14].seq - 5, sent[14].seq + 5))
    assert (page["has_more"], page["has_newer"]) == (True, True)
    end = (
        client_for(guest.user)
        .get(f"/api/v1/rooms/{room.pk}/messages/", {"around": sent[-1].seq, "limit": 10})
        .json()
    )
    assert end["results"][-1]["seq"] == sent[-1].seq
    assert (end["has_more"], end["has_newer"]) == (True, False)


# Queries of a search page: the room with the viewer's membership, the matches (one
# statement, whatever the room's size), the page's reactions, and its mentions (or, for a
# viewer who blocks someone, the members they blocked, for the quoted replies' folding),
# and the read markers behind the page's read counts (community.reads).
SEARCH_QUERIES = 5


@pytest.mark.parametrize("count", [1, 15])
def test_a_search_page_has_constant_queries(chat, count, django_assert_num_queries):
    room, host, guest = chat
    target = None
    for n in range(count):
        target = say(host, f"@Guest 재즈 {n}")
        say(guest, f"reply {n}")
    client = client_for(guest.user)
    client.post(f"/api/v1/messages/{target.pk}/reactions/", {"emoji": "👍"}, format="json")
    with django_assert_num_queries(SEARCH_QUERIES):
        response = client.get(f"/api/v1/rooms/{room.pk}/messages/", {"q": "재즈"})
    assert len(response.json()["results"]) == count


def test_a_blocking_viewers_search_page_has_constant_queries(
    chat, make_user, make_member, django_assert_num_queries
):
    room, host, guest = chat
    third = make_member(room, make_user("third"), nickname="Third")
    block_member(room_id=room.pk, actor=guest.user, membership_id=third.pk)
    for n in range(10):
        say(host, f"재즈 {n}")
        say(third, f"재즈 blocked {n}")
    with django_assert_num_queries(SEARCH_QUERIES):
        response = client_for(guest.user).get(f"/api/v1/rooms/{room.pk}/messages/", {"q": "재즈"})
    assert len(response.json()["results"]) == 10
