"""The discover page's shared shelves: ranked once for everyone, the anonymous HTML kept
for a few seconds, forgotten by every room writer that changes a card or the listing."""

import re
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from commerce.services.rooms import set_room_price
from community.moderation.services import do_set_room_suspended
from community.reactions.services import check_add_reaction
from community.rooms import selectors
from community.rooms.models import Interest, Membership, Room
from community.rooms.services import archive_room, block_member, join_room, leave_room, update_room
from profiles.models import Profile
from tests.support.accounts import client_for


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
@pytest.mark.usefixtures("discover_cache_kept")
def test_signed_in_discover_query_count_is_pinned(
    rooms, make_room, make_user, make_member, client, django_assert_num_queries
):
    viewer = make_user()
    for number in range(rooms):
        room = make_room(title=f"Room {number}", hashtags=["shared"])
        if number % 2:
            make_member(room, viewer)
    client.force_login(viewer)
    client.get("/discover/")  # the shared order, trend map and cards are now cached
    # Session and user, the viewer's tastes (languages and interests) with the rooms
    # they are in or banned from (For you; one query on PostgreSQL, two elsewhere), and
    # which cards are still listed and carry the viewer's own badge or like (one
    # query): every card comes from the shared cache (the viewer's joined cards with
    # their badge on top).
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 5):
        assert client.get("/discover/").status_code == 200


def cards(page: str, heading: str) -> list[str]:
    """The card titles of one shelf of the discover page, in order."""
    section = page.split(f'id="{heading}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<h3 class="card-title" dir="auto">(.*?)</h3>', section)


def test_for_you_on_the_page_follows_the_api_order(make_room, make_user, make_member, client):
    jazz = Interest.objects.create(slug="jazz", name_en="Jazz")
    books = Interest.objects.create(slug="books", name_en="Books")
    viewer = make_user()
    profile = Profile.objects.get(user=viewer)
    profile.interests.set([jazz, books])
    profile.languages = ["ko"]
    profile.save(update_fields=["languages"])
    make_room(title="Jazz and books", interests=[jazz, books])
    make_room(title="Korean jazz", interests=[jazz], language="ko")
    make_room(title="Korean chat", language="ko")
    make_room(title="English chat")  # neither: not for them
    make_member(make_room(title="My jazz", interests=[jazz]), viewer)
    api = [
        room["title"] for room in client_for(viewer).get("/api/v1/rooms/for-you/").json()["results"]
    ]
    client.force_login(viewer)
    for _ in range(2):  # ranked, then from the cached trend map
        page = client.get("/discover/").content.decode()
        assert (
            cards(page, "for-you-heading")
            == api
            == ["Jazz and books", "Korean jazz", "Korean chat"]
        )


def test_for_you_on_the_page_falls_back_to_the_locale_and_leaves_out_banned_rooms(
    make_room, make_user, make_member, client
):
    viewer = make_user(locale="ja")
    make_room(title="Japanese chat", language="ja")
    make_room(title="English chat")  # not in a language they read
    banned = make_member(make_room(title="Japanese, banned", language="ja"), viewer)
    banned.state = Membership.State.BANNED
    banned.save(update_fields=["state"])
    client.force_login(viewer)
    for profile in ("without languages", "none"):
        if profile == "none":
            Profile.objects.filter(user=viewer).delete()
        cache.clear()
        api = [
            room["title"]
            for room in client_for(viewer).get("/api/v1/rooms/for-you/").json()["results"]
        ]
        for _ in range(2):  # ranked, then from the cached trend map
            page = client.get("/discover/").content.decode()
            assert cards(page, "for-you-heading") == api == ["Japanese chat"]


def test_shared_cards_carry_each_viewers_own_like(warm_room, make_user, make_member, client):
    fan, other = make_user(), make_user()
    make_member(warm_room, fan)
    make_member(warm_room, other)
    check_add_reaction(user=fan, target_type="room", target_id=warm_room.pk, emoji="👍")
    client.force_login(fan)
    # The shared card still has no like (likes wait for the cache's few seconds), the
    # liker's own card shows theirs at once.
    mine = client.get("/discover/").content.decode()
    assert 'data-me="true"' in mine and 'data-count="1"' in mine
    cache.clear()
    client.force_login(other)
    theirs = client.get("/discover/").content.decode()
    assert 'data-me="true"' not in theirs and 'data-count="1"' in theirs
    assert 'data-me="true"' not in anonymous_page()


def test_a_pending_request_shows_only_on_the_requesters_card(make_room, make_user, client):
    room = make_room(title="Ask first", join_policy=Room.JoinPolicy.APPROVAL)
    asker = make_user()
    join_room(room_id=room.pk, user=asker, nickname="asker")
    client.force_login(make_user())
    assert "Requested" not in client.get("/discover/").content.decode()  # the shared card
    client.force_login(asker)
    assert cards(client.get("/discover/").content.decode(), "fresh-heading") == ["Ask first"]
    assert "Requested" in client.get("/discover/").content.decode()


def test_a_viewer_who_blocked_a_member_does_not_count_their_like(
    make_room, make_user, make_member, client
):
    warm_room = make_room(title="Cached jazz corner")
    fan, viewer = make_user(), make_user()
    fan_membership = make_member(warm_room, fan)
    make_member(warm_room, viewer)
    check_add_reaction(user=fan, target_type="room", target_id=warm_room.pk, emoji="👍")
    client.force_login(make_user())
    assert 'data-count="1"' in client.get("/discover/").content.decode()  # cached for all
    block_member(room_id=warm_room.pk, actor=viewer, membership_id=fan_membership.pk)
    client.force_login(viewer)
    page = client.get("/discover/").content.decode()
    assert "Cached jazz corner" in page and 'data-count="1"' not in page


def test_editing_a_room_forgets_the_signed_in_cards(
    warm_room, make_user, client, django_capture_on_commit_callbacks
):
    client.force_login(make_user())
    assert "Cached jazz corner" in client.get("/discover/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        update_room(room_id=warm_room.pk, actor=warm_room.owner, title="Renamed corner")
    page = client.get("/discover/").content.decode()
    assert "Renamed corner" in page and "Cached jazz corner" not in page


def test_room_page_reads_its_topics_from_the_cache_until_an_edit(
    make_room, make_user, client, django_capture_on_commit_callbacks
):
    room = make_room(title="Jazz corner", hashtags=["jazz"])
    client.force_login(make_user())
    assert "#jazz" in client.get(f"/rooms/{room.pk}/info/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        update_room(room_id=room.pk, actor=room.owner, hashtags=["blues"])
    page = client.get(f"/rooms/{room.pk}/info/").content.decode()
    assert "#blues" in page and "#jazz" not in page


@pytest.mark.usefixtures("discover_cache_kept")
def test_room_page_query_count_is_pinned(make_room, client, django_assert_num_queries):
    room = make_room(title="Jazz corner", hashtags=["jazz"])
    make_room(title="Other jazz room", hashtags=["jazz"])
    client.force_login(room.owner)
    assert "Other jazz room" in client.get(f"/rooms/{room.pk}/info/").content.decode()
    # Session and user, the viewer's membership, the room (with "blocks anyone?" and its
    # notice), its likes and price, and the similar rooms still listed; the room's
    # interests and hashtags and the similar rooms' order are cached. (A host of a room
    # that takes requests adds the pending count.)
    with django_assert_num_queries(7):
        page = client.get(f"/rooms/{room.pk}/info/").content.decode()
    assert "#jazz" in page and "Other jazz room" in page


def test_room_page_counts_pending_requests_for_hosts_of_rooms_that_take_them(
    make_room, make_user, client
):
    room = make_room(title="Ask first", join_policy=Room.JoinPolicy.APPROVAL)
    join_room(room_id=room.pk, user=make_user(), nickname="asker")
    client.force_login(room.owner)
    assert "1 request<" in client.get(f"/rooms/{room.pk}/info/").content.decode()


def test_pricing_a_room_forgets_the_shared_cards(
    warm_room, make_user, client, django_capture_on_commit_callbacks
):
    client.force_login(make_user())
    assert "badge-price" not in client.get("/discover/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        set_room_price(
            actor=warm_room.owner, room_id=warm_room.pk, kind="entry", amount=1000, currency="KRW"
        )
    assert "badge-price" in client.get("/discover/").content.decode()
    assert "badge-price" in anonymous_page()


@pytest.fixture
def stale_at_once(monkeypatch):
    """Every ranked part of the discover page stale as soon as it is stored."""
    monkeypatch.setattr(selectors, "DISCOVER_CACHE_SECONDS", 0)


def _hold_rebuild(kind: str) -> str:
    """Take the rebuild lock of one shared part, as a request ranking it would."""
    lock = selectors.discover_rebuild_lock_key(selectors._discover_key(kind))
    assert cache.add(lock, 1, 60)
    return lock


@pytest.mark.usefixtures("stale_at_once")
def test_a_stale_shelf_is_shown_while_another_request_ranks_it_again(make_room, make_user, client):
    make_room(title="First room")
    client.force_login(make_user())
    assert cards(client.get("/discover/").content.decode(), "fresh-heading") == ["First room"]
    # Created without its commit hooks, so nothing forgot the shelves: only a new
    # ranking can show it, and another request is making one.
    make_room(title="Second room")
    lock = _hold_rebuild("ids")
    page = client.get("/discover/").content.decode()
    assert cards(page, "fresh-heading") == ["First room"]

    cache.delete(lock)  # that request is done: the next stale read ranks again, once
    page = client.get("/discover/").content.decode()
    assert cards(page, "fresh-heading") == ["Second room", "First room"]
    assert not cache.get(selectors.discover_rebuild_lock_key(selectors._discover_key("ids")))


@pytest.mark.usefixtures("discover_cache_kept")
def test_requests_during_a_rebuild_do_not_rank_the_rooms(
    make_room, make_user, client, monkeypatch, django_assert_num_queries
):
    for number in range(3):
        make_room(title=f"Room {number}")
    client.force_login(make_user())
    client.get("/discover/")
    # An hour on: the ranked parts are stale (the cards, kept by the fixture, are not).
    monkeypatch.setattr(selectors, "_now", lambda: time.time() + 3600)
    locks = [_hold_rebuild(kind) for kind in ("ids", "trend-map", "interests")]
    # As many queries as with every part fresh (test_signed_in_discover_query_count_is_pinned).
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 5):
        assert client.get("/discover/").status_code == 200

    cache.delete_many(locks)
    with CaptureQueriesContext(connection) as ranking:
        assert client.get("/discover/").status_code == 200
    assert len(ranking) > 5  # this request ranked the rooms again


@pytest.mark.usefixtures("discover_cache_kept")
def test_a_fresh_shelf_is_not_ranked_again(make_room, make_user, client):
    make_room(title="First room")
    client.force_login(make_user())
    client.get("/discover/")
    make_room(title="Second room")  # no commit hooks: nothing forgot the shelves
    page = client.get("/discover/").content.decode()
    assert cards(page, "fresh-heading") == ["First room"]


def test_a_writer_forgets_a_stale_shelf_even_during_a_rebuild(
    make_room, make_user, client, stale_at_once, django_capture_on_commit_callbacks
):
    make_room(title="First room")
    client.force_login(make_user())
    client.get("/discover/")
    _hold_rebuild("ids")
    with django_capture_on_commit_callbacks(execute=True):
        make_room(title="Second room")
    page = client.get("/discover/").content.decode()
    assert cards(page, "fresh-heading") == ["Second room", "First room"]


@pytest.mark.usefixtures("stale_at_once")
def test_stale_anonymous_shelves_are_shown_while_another_request_renders_them(make_room):
    make_room(title="First room")
    assert "First room" in anonymous_page()
    make_room(title="Second room")  # no commit hooks: nothing forgot the shelves
    lock = selectors.discover_rebuild_lock_key(selectors.anonymous_discover_html_key("en"))
    assert cache.add(lock, 1, 60)
    assert "Second room" not in anonymous_page()
    cache.delete(lock)
    assert "Second room" in anonymous_page()
