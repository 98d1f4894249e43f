"""Discovery: search, filters, trending, for-you, similar rooms, and fixed query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from community.chat.models import Message
from community.chat.services import send_message
from community.moderation.services import check_ban_member
from community.rooms.models import Interest, Membership, Room
from profiles.models import Profile
from tests.support.accounts import client_for


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [room["title"] for room in response.json()["results"]]


@pytest.fixture
def interests(db):
    music = Interest.objects.create(slug="music", name_en="Music", name_ko="음악", name_ja="音楽")
    return {
        "music": music,
        "jazz": Interest.objects.create(
            slug="jazz", name_en="Jazz", name_ko="재즈", name_ja="ジャズ", parent=music
        ),
        "books": Interest.objects.create(slug="books", name_en="Books", name_ko="책", name_ja="本"),
    }


def age_room(room: Room, hours: float) -> None:
    """Move a room's creation, joins and messages ``hours`` into the past."""
    then = timezone.now() - timedelta(hours=hours)
    Room.objects.filter(pk=room.pk).update(created_at=then, last_activity_at=then)
    Membership.objects.filter(room=room).update(joined_at=then)
    Message.objects.filter(room=room).update(created_at=then)


def chat(room: Room, membership: Membership, count: int, hours_ago: float = 0) -> None:
    for number in range(count):
        send_message(membership=membership, body=f"hello {number}")
    then = timezone.now() - timedelta(hours=hours_ago)
    Message.objects.filter(room=room).update(created_at=then)
    Room.objects.filter(pk=room.pk).update(last_activity_at=then)


# --- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jazz", "Late-night jazz"),  # title
        ("JAZZ", "Late-night jazz"),  # case-folded
        ("ｊａｚｚ", "Late-night jazz"),  # full-width folds (NFKC)
        ("vinyl", "Late-night jazz"),  # hashtag
        ("track you", "Late-night jazz"),  # description
        ("덕질", "케이팝 덕질방"),  # a Korean word inside a longer title
        ("음방", "케이팝 덕질방"),  # Korean hashtag
        ("喫茶", "ジャズ喫茶"),  # a Japanese word inside a longer title
        ("レコード", "ジャズ喫茶"),  # Japanese description
        ("재즈", "ジャズ喫茶"),  # interest name in Korean
    ],
)
def test_search_matches_title_description_hashtags_and_interests(
    make_room, interests, api_client, query, expected
):
    make_room(
        title="Late-night jazz",
        description="Share a track you are listening to right now.",
        hashtags=["vinyl"],
    )
    make_room(title="케이팝 덕질방", description="오늘의 무대", language="ko", hashtags=["음방"])
    make_room(
        title="ジャズ喫茶",
        description="好きなレコードの話",
        language="ja",
        interests=[interests["jazz"]],
    )
    make_room(title="Book club", interests=[interests["books"]])
    assert expected in titles(api_client.get("/api/v1/rooms/", {"q": query}))
    assert "Book club" not in titles(api_client.get("/api/v1/rooms/", {"q": query}))


def test_search_page_finds_korean_and_japanese(make_room, client, db):
    make_room(title="케이팝 덕질방", language="ko")
    make_room(title="ジャズ喫茶", language="ja")
    page = client.get("/rooms/", {"q": "덕질"}).content.decode()
    assert "케이팝 덕질방" in page and "ジャズ喫茶" not in page
    page = client.get("/rooms/", {"q": "喫茶"}).content.decode()
    assert "ジャズ喫茶" in page and "케이팝 덕질방" not in page


def test_filters_by_interest_including_children_and_language(make_room, interests, api_client):
    make_room(title="Jazz EN", interests=[interests["jazz"]], language="en")
    make_room(title="Jazz JA", interests=[interests["jazz"]], language="ja")
    make_room(title="Books EN", interests=[interests["books"]], language="en")
    assert sorted(titles(api_client.get("/api/v1/rooms/", {"interest": "jazz"}))) == [
        "Jazz EN",
        "Jazz JA",
    ]
    # A parent interest finds rooms tagged with its children.
    assert sorted(titles(api_client.get("/api/v1/rooms/", {"interest": "music"}))) == [
        "Jazz EN",
        "Jazz JA",
    ]
    assert titles(api_client.get("/api/v1/rooms/", {"interest": "jazz", "language": "ja"})) == [
        "Jazz JA"
    ]


def test_only_listed_live_rooms_are_discoverable(make_room, make_user, api_client):
    make_room(title="Open jazz")
    make_room(title="Unlisted jazz", visibility="unlisted")
    make_room(title="Private jazz", visibility="private")
    archived = make_room(title="Archived jazz")
    Room.objects.filter(pk=archived.pk).update(is_archived=True)
    suspended = make_room(title="Suspended jazz")
    Room.objects.filter(pk=suspended.pk).update(is_suspended=True)
    viewer = client_for(make_user())
    for url in ("/api/v1/rooms/", "/api/v1/rooms/trending/", "/api/v1/rooms/for-you/"):
        assert set(titles(viewer.get(url, {"q": "jazz"}))) <= {"Open jazz"}
    assert titles(viewer.get("/api/v1/rooms/", {"q": "jazz"})) == ["Open jazz"]


def test_room_list_is_paginated(make_room, api_client):
    for number in range(5):
        make_room(title=f"Room {number}")
    first = api_client.get("/api/v1/rooms/", {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert len(seen) == len(set(seen)) == 5
    assert third["next"] is None


# --- trending -----------------------------------------------------------------------------


def test_trending_prefers_recent_activity(make_room, make_user, make_member, api_client):
    busy_now = make_room(title="Busy now")
    busy_yesterday = make_room(title="Busy yesterday")
    quiet = make_room(title="Quiet")
    for room in (busy_now, busy_yesterday, quiet):
        age_room(room, hours=24 * 10)  # not new any more
    chat(busy_now, Membership.objects.get(room=busy_now), 3, hours_ago=0.2)
    chat(busy_yesterday, Membership.objects.get(room=busy_yesterday), 10, hours_ago=30)
    ranked = titles(api_client.get("/api/v1/rooms/trending/"))
    assert ranked[:2] == ["Busy now", "Busy yesterday"]
    assert "Quiet" not in ranked  # nothing in the last two days


def test_trending_counts_joins(make_room, make_user, make_member, api_client):
    joined = make_room(title="People arriving")
    idle = make_room(title="Idle")
    for room in (joined, idle):
        age_room(room, hours=24 * 10)
    for _ in range(3):
        make_member(joined, make_user())
    assert titles(api_client.get("/api/v1/rooms/trending/")) == ["People arriving"]


def test_small_active_room_outranks_big_room_with_same_activity(
    make_room, make_user, make_member, api_client
):
    big = make_room(title="Big")
    small = make_room(title="Small")
    for _ in range(30):
        make_member(big, make_user())
    for room in (big, small):
        age_room(room, hours=24 * 10)
    chat(big, Membership.objects.filter(room=big).first(), 5, hours_ago=0.5)
    chat(small, Membership.objects.get(room=small), 5, hours_ago=0.5)
    assert titles(api_client.get("/api/v1/rooms/trending/"))[:2] == ["Small", "Big"]


def test_new_rooms_surface_in_trending_without_activity(make_room, api_client):
    old = make_room(title="Old and silent")
    age_room(old, hours=24 * 10)
    make_room(title="Brand new")
    assert titles(api_client.get("/api/v1/rooms/trending/")) == ["Brand new"]


# --- for you ----------------------------------------------------------------------------------


def test_for_you_matches_interests_and_languages_minus_my_rooms(
    make_room, make_user, make_member, interests
):
    viewer = make_user()
    profile = Profile.objects.get(user=viewer)
    profile.interests.set([interests["jazz"]])
    profile.languages = ["ko"]
    profile.save(update_fields=["languages"])
    make_room(title="Jazz EN", interests=[interests["jazz"]], language="en")
    make_room(title="Korean books", interests=[interests["books"]], language="ko")
    make_room(title="English books", interests=[interests["books"]], language="en")
    mine = make_room(title="My jazz", interests=[interests["jazz"]], language="ko")
    make_member(mine, viewer)
    banned_from = make_room(title="Banned jazz", interests=[interests["jazz"]])
    banned_membership = make_member(banned_from, viewer)
    check_ban_member(
        room_id=banned_from.pk, actor=banned_from.owner, member_id=banned_membership.pk
    )
    ranked = titles(client_for(viewer).get("/api/v1/rooms/for-you/"))
    assert set(ranked) == {"Jazz EN", "Korean books"}
    assert ranked[0] == "Jazz EN"  # a shared interest counts more than a language


def test_for_you_needs_an_account(api_client, db):
    assert api_client.get("/api/v1/rooms/for-you/").status_code in (401, 403)


def test_discover_page_shows_for_you_and_trending(make_room, make_user, interests, client):
    viewer = make_user()
    Profile.objects.get(user=viewer).interests.set([interests["books"]])
    make_room(title="Reading corner", interests=[interests["books"]])
    client.force_login(viewer)
    page = client.get("/discover/").content.decode()
    assert "For you" in page and "Trending now" in page and "Reading corner" in page
    assert "Books" in page  # browse by interest


# --- similar rooms ------------------------------------------------------------------------


def test_similar_rooms_share_interests_or_hashtags_never_members(
    make_room, make_user, make_member, interests, api_client
):
    """ "People here also joined ..." in a small room is one anonymous member's other
    rooms: similar rooms come from what rooms are about, never from who is in them."""
    here = make_room(
        title="Here", interests=[interests["jazz"]], hashtags=["bebop"], is_web_public=True
    )
    same_topic = make_room(title="Same topic", interests=[interests["jazz"]])
    same_tag = make_room(title="Same tag", interests=[interests["books"]], hashtags=["Bebop"])
    same_people = make_room(title="Same people", interests=[interests["books"]])
    make_room(title="Unrelated", interests=[interests["books"]])
    person = make_user()
    make_member(here, person)
    make_member(same_people, person)
    ranked = titles(api_client.get(f"/api/v1/rooms/{here.pk}/similar/"))
    assert ranked == ["Same topic", "Same tag"]
    assert same_topic.pk != same_tag.pk
    # The room page's "similar rooms" shelf follows the same rule.
    page = api_client.get(f"/rooms/{here.pk}/").content.decode()
    assert "Same people" not in page and "Same tag" in page


# --- fixed query counts ------------------------------------------------------------------------


def _populate(make_room, make_user, make_member, interests, count: int, viewer) -> None:
    Profile.objects.get(user=viewer).interests.set([interests["jazz"]])
    for number in range(count):
        room = make_room(
            title=f"Room {number}",
            interests=[interests["jazz"], interests["books"]],
            hashtags=[f"tag{number}", "shared"],
        )
        if number % 3 == 0:
            make_member(room, viewer)
        if number % 4 == 0:
            chat(room, Membership.objects.get(room=room, role="owner"), 1)


@pytest.mark.parametrize("count", [3, 30])
def test_discover_page_query_count_is_fixed(
    count, make_room, make_user, make_member, interests, client, django_assert_max_num_queries
):
    viewer = make_user()
    _populate(make_room, make_user, make_member, interests, count, viewer)
    client.force_login(viewer)
    # + 4 at most for the room cards' likes (community/reactions/selectors.py).
    with django_assert_max_num_queries(14 + 4):
        response = client.get("/")
    assert response.status_code == 200


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/rooms/",
        "/api/v1/rooms/?q=room",
        "/api/v1/rooms/trending/",
        "/api/v1/rooms/for-you/",
    ],
)
def test_room_list_api_query_count_is_fixed(
    count, url, make_room, make_user, make_member, interests, django_assert_max_num_queries
):
    viewer = make_user()
    _populate(make_room, make_user, make_member, interests, count, viewer)
    client = client_for(viewer)
    # + 4 at most for the rooms' likes (community/reactions/selectors.py).
    with django_assert_max_num_queries(6 + 4):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) >= min(count, 1)


@pytest.mark.parametrize("count", [3, 30])
def test_search_page_query_count_is_fixed(
    count, make_room, make_user, make_member, interests, client, django_assert_max_num_queries
):
    viewer = make_user()
    _populate(make_room, make_user, make_member, interests, count, viewer)
    client.force_login(viewer)
    # + 4 at most for the room cards' likes (community/reactions/selectors.py).
    with django_assert_max_num_queries(9 + 4):
        response = client.get("/rooms/", {"q": "room"})
    assert response.status_code == 200


# --- PostgreSQL: trigram search -----------------------------------------------------------------


@pytest.mark.postgres_only
def test_trigram_index_exists(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'community_room_search_trgm'"
        )
        row = cursor.fetchone()
    assert row and "gin_trgm_ops" in row[0]


@pytest.mark.postgres_only
def test_trigram_search_tolerates_typos(make_room, api_client):
    make_room(title="Photography walks")
    make_room(title="Cooking")
    assert titles(api_client.get("/api/v1/rooms/", {"q": "photograpy"})) == ["Photography walks"]
