from datetime import timedelta

import pytest
from django.utils import timezone

from community.rooms.models import Membership, Room
from community.rooms.services import update_room
from profiles.models import StatusPost
from profiles.services import block_user, create_status_post, follow_user

pytestmark = pytest.mark.django_db

FEED = "/api/v1/feed/friends/"


def befriend(a, b):
    follow_user(follower=a, followee=b)
    follow_user(follower=b, followee=a)


def join_with_main_profile(make_member, room, user):
    return make_member(room, user, is_open_profile=False)


@pytest.fixture
def alice_and_friends(user, make_user):
    bob, carol = make_user("bob"), make_user("carol")
    befriend(user, bob)
    befriend(user, carol)
    return user, bob, carol


def test_feed_shows_posts_of_people_i_follow(user, make_user, client_for):
    bob, stranger = make_user("bob"), make_user("stranger")
    follow_user(follower=user, followee=bob)
    create_status_post(author=bob, body="bob's news")
    create_status_post(author=stranger, body="stranger's news")
    create_status_post(author=user, body="my own news")
    results = client_for(user).get(FEED).json()["results"]
    assert [item["post"]["body"] for item in results] == ["bob's news"]
    assert results[0]["type"] == "status_post"
    assert results[0]["post"]["author"]["handle"] == "bob"


def test_feed_shows_rooms_friends_joined_with_their_main_profile_only(
    alice_and_friends, make_user, make_room, make_member, client_for
):
    alice, bob, carol = alice_and_friends
    host = make_user("host")
    public_room = make_room(owner=host, title="Open jazz")
    secret_room = make_room(owner=host, title="Anonymous jazz")
    private_room = make_room(owner=host, title="Private jazz")
    join_with_main_profile(make_member, public_room, bob)
    make_member(secret_room, carol)  # an open profile: must never show as carol's
    join_with_main_profile(make_member, private_room, carol)
    update_room(room_id=private_room.pk, actor=host, visibility=Room.Visibility.PRIVATE)

    results = client_for(alice).get(FEED).json()["results"]
    assert [(item["type"], item["room"]["title"]) for item in results] == [
        ("room_joined", "Open jazz")
    ]
    assert results[0]["friend"]["handle"] == "bob"
    body = str(results)
    assert "Anonymous jazz" not in body
    assert "Private jazz" not in body


def test_feed_hides_joins_of_people_who_only_follow_one_way(
    user, make_user, make_room, make_member, client_for
):
    bob = make_user("bob")
    follow_user(follower=user, followee=bob)  # not friends: bob does not follow back
    join_with_main_profile(make_member, make_room(owner=make_user()), bob)
    assert client_for(user).get(FEED).json()["results"] == []


def test_feed_excludes_blocked_people_both_ways(alice_and_friends, client_for):
    alice, bob, carol = alice_and_friends
    create_status_post(author=bob, body="from bob")
    create_status_post(author=carol, body="from carol")
    block_user(blocker=carol, blocked=alice)
    results = client_for(alice).get(FEED).json()["results"]
    assert [item["post"]["body"] for item in results] == ["from bob"]


def test_feed_merges_both_kinds_newest_first_and_pages_without_gaps(
    alice_and_friends, make_user, make_room, make_member, client_for
):
    alice, bob, carol = alice_and_friends
    host = make_user("host")
    now = timezone.now()
    expected = []
    for i in range(7):
        post = create_status_post(author=bob if i % 2 else carol, body=f"post {i}")
        # Two items share each timestamp, to exercise the tie-break.
        StatusPost.objects.filter(pk=post.pk).update(created_at=now - timedelta(minutes=i))
        membership = join_with_main_profile(
            make_member, make_room(owner=host, title=f"room {i}"), bob if i % 2 else carol
        )
        Membership.objects.filter(pk=membership.pk).update(joined_at=now - timedelta(minutes=i))
        expected += [f"post {i}", f"room {i}"]

    client = client_for(alice)
    seen = []
    body = client.get(FEED, {"limit": 3}).json()
    pages = 1
    while True:
        seen += [
            item["post"]["body"] if item["type"] == "status_post" else item["room"]["title"]
            for item in body["results"]
        ]
        if not body["next"]:
            break
        body = client.get(body["next"]).json()
        pages += 1
    assert seen == expected
    assert pages == 5


@pytest.mark.parametrize("count", [3, 30])
def test_feed_page_runs_a_fixed_number_of_queries(
    alice_and_friends,
    make_user,
    make_room,
    make_member,
    client_for,
    count,
    django_assert_max_num_queries,
):
    alice, bob, carol = alice_and_friends
    host = make_user("host")
    for i in range(count):
        StatusPost.objects.create(author=bob, body=f"post {i}")
        join_with_main_profile(make_member, make_room(owner=host, title=f"room {i}"), carol)
    client = client_for(alice)
    # + 4 at most for the posts' reaction summaries (community/reactions/selectors.py).
    with django_assert_max_num_queries(2 + 4):
        body = client.get(FEED, {"limit": 50}).json()
    assert len(body["results"]) == min(2 * count, 50)


def test_bad_cursor_is_a_clear_400(user, client_for):
    response = client_for(user).get(FEED, {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
