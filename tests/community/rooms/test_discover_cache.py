"""The discover page's shared shelves: ranked once for everyone, the anonymous HTML kept
for a few seconds, forgotten by every room writer that changes a card or the listing."""

import pytest
from django.test import Client

from community.moderation.services import do_set_room_suspended
from community.rooms.models import Room
from community.rooms.services import archive_room, leave_room, update_room


def anonymous_page() -> str:
    response = Client().get("/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def warm_room(make_room, django_capture_on_commit_callbacks):
    """A listed room already on the cached anonymous shelves."""
    with django_capture_on_commit_callbacks(execute=True):
        room = make_room(title="Cached jazz corner")
    assert "Cached jazz corner" in anonymous_page()
    return room


def test_anonymous_shelves_are_served_from_the_cache(warm_room, django_assert_num_queries):
    with django_assert_num_queries(0):
        page = anonymous_page()
    assert "Cached jazz corner" in page and "Trending now" in page and "New rooms" in page


def test_anonymous_shelves_are_cached_per_language(warm_room):
    korean = Client(headers={"accept-language": "ko"}).get("/").content.decode()
    assert "Cached jazz corner" in korean
    assert "Trending now" not in korean  # not the English shelves from the cache


def test_signed_in_cards_keep_their_own_badges(warm_room, make_user, make_member, client):
    member = make_user()
    make_member(warm_room, member)
    client.force_login(member)
    page = client.get("/discover/").content.decode()
    assert "Cached jazz corner" in page and "badge-joined" in page
    assert "badge-joined" not in anonymous_page()


def test_shared_order_never_shows_a_room_that_left_the_listing(warm_room, make_user, client):
    # The order is cached, not the rooms: a signed-in viewer's cards are read again with
    # the listing filters even when nothing forgot the cache (an admin edit, a bulk update).
    Room.objects.filter(pk=warm_room.pk).update(visibility=Room.Visibility.PRIVATE)
    client.force_login(make_user())
    assert "Cached jazz corner" not in client.get("/discover/").content.decode()


def test_creating_a_room_forgets_the_shelves(
    warm_room, make_room, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_room(title="Brand new room")
    assert "Brand new room" in anonymous_page()


def test_editing_a_room_forgets_the_shelves(warm_room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        update_room(room_id=warm_room.pk, actor=warm_room.owner, title="Renamed corner")
    page = anonymous_page()
    assert "Renamed corner" in page and "Cached jazz corner" not in page


def test_making_a_room_private_forgets_the_shelves(warm_room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        update_room(room_id=warm_room.pk, actor=warm_room.owner, visibility=Room.Visibility.PRIVATE)
    assert "Cached jazz corner" not in anonymous_page()


def test_archiving_a_room_forgets_the_shelves(warm_room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        archive_room(room_id=warm_room.pk, actor=warm_room.owner)
    assert "Cached jazz corner" not in anonymous_page()


def test_owner_leaving_with_archive_forgets_the_shelves(
    warm_room, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        leave_room(room_id=warm_room.pk, user=warm_room.owner, archive=True)
    assert "Cached jazz corner" not in anonymous_page()


def test_suspending_a_room_forgets_the_shelves(
    warm_room, make_user, django_capture_on_commit_callbacks
):
    moderator = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        do_set_room_suspended(actor=moderator, room_id=warm_room.pk, suspended=True, reason="spam")
    assert "Cached jazz corner" not in anonymous_page()


def test_room_page_similar_rooms_drop_a_room_that_left_the_listing(make_room, make_user, client):
    jazz = ["jazz"]
    room = make_room(title="Jazz corner", hashtags=jazz)
    make_room(title="Other jazz room", hashtags=jazz)
    client.force_login(make_user())
    assert "Other jazz room" in client.get(f"/rooms/{room.pk}/").content.decode()
    Room.objects.filter(title="Other jazz room").update(is_archived=True)
    # The order is still cached; the card is not.
    assert "Other jazz room" not in client.get(f"/rooms/{room.pk}/").content.decode()


@pytest.mark.parametrize("rooms", [2, 12])
def test_signed_in_discover_query_count_is_pinned(
    rooms, make_room, make_user, make_member, client, django_assert_num_queries
):
    viewer = make_user()
    for number in range(rooms):
        room = make_room(title=f"Room {number}", hashtags=["shared"])
        if number % 2:
            make_member(room, viewer)
    client.force_login(viewer)
    client.get("/discover/")  # the shared order is now cached
    # Session and user, the viewer's tastes (profile, interests), for you (rooms and two
    # card prefetches), the shelves' cards (rooms and two prefetches), likes, offers and
    # the interests shelf.
    with django_assert_num_queries(13):
        assert client.get("/discover/").status_code == 200
