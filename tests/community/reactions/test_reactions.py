"""Reactions on messages, status posts and rooms, through the API and the channel layer."""

import contextlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from community.chat.services import send_message
from community.events import event_from_layer
from community.reactions.models import Reaction, ReactionCount
from community.reactions.selectors import (
    reaction_summaries,
    recent_room_likes,
    room_like_totals,
)
from community.reactions.services import remove_all_reactions_of_user
from community.rooms.models import Membership
from profiles.models import StatusPost
from tests.support.accounts import client_for

THUMBS = "👍"


@pytest.fixture
def room(make_room, user):
    return make_room(owner=user, nickname="alice-in-room")


@pytest.fixture
def owner_membership(room, user):
    return Membership.objects.get(room=room, user=user)


@pytest.fixture
def message(owner_membership):
    return send_message(membership=owner_membership, body="hello")


@pytest.fixture
def member(make_user, make_member, room):
    bob = make_user("bob")
    make_member(room, bob, nickname="Bobby")
    return bob


def url(kind: str, pk: int) -> str:
    return f"/api/v1/{kind}/{pk}/reactions/"


def add(client, kind, pk, emoji=THUMBS):
    return client.post(url(kind, pk), {"emoji": emoji}, format="json")


def remove(client, kind, pk, emoji=THUMBS):
    return client.delete(url(kind, pk) + "?" + _q(emoji))


def _q(emoji: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"emoji": emoji})


# --- add / remove / idempotence / cap ------------------------------------------------------
def test_add_reaction_to_message_returns_counts_and_me(message, member, auth_client):
    response = add(client_for(member), "messages", message.pk)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "target_type": "message",
        "target_id": message.pk,
        "reactions": [{"emoji": THUMBS, "count": 1, "me": True}],
    }
    response = add(auth_client, "messages", message.pk)
    assert response.json()["reactions"] == [{"emoji": THUMBS, "count": 2, "me": True}]
    summary = auth_client.get(url("messages", message.pk)).json()
    assert summary["reactions"] == [{"emoji": THUMBS, "count": 2, "me": True}]
    assert ReactionCount.objects.get(message=message, emoji=THUMBS).count == 2


def test_adding_the_same_emoji_twice_is_idempotent(message, auth_client):
    add(auth_client, "messages", message.pk)
    response = add(auth_client, "messages", message.pk)
    assert response.status_code == 200
    assert response.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "me": True}]
    assert Reaction.objects.filter(message=message).count() == 1


def test_heart_with_and_without_presentation_selector_is_one_reaction(message, auth_client):
    add(auth_client, "messages", message.pk, "❤")
    response = add(auth_client, "messages", message.pk, "❤️")
    assert response.json()["reactions"] == [{"emoji": "❤️", "count": 1, "me": True}]


def test_remove_reaction_and_remove_again(message, member, auth_client):
    add(auth_client, "messages", message.pk)
    add(client_for(member), "messages", message.pk)
    response = remove(auth_client, "messages", message.pk)
    assert response.status_code == 200
    assert response.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "me": False}]
    response = remove(auth_client, "messages", message.pk)
    assert response.status_code == 200
    assert response.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "me": False}]
    remove(client_for(member), "messages", message.pk)
    assert auth_client.get(url("messages", message.pk)).json()["reactions"] == []
    assert not Reaction.objects.exists()
    # The zero counter row is kept for concurrent re-adds, and re-adding counts from it.
    assert add(auth_client, "messages", message.pk).json()["reactions"][0]["count"] == 1


def test_at_most_ten_distinct_emoji_per_user_per_target(message, auth_client):
    ten = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🔥", "🎉", "👀", "💯"]
    for emoji in ten:
        assert add(auth_client, "messages", message.pk, emoji).status_code == 200
    response = add(auth_client, "messages", message.pk, "🚀")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reaction_limit"
    # Re-adding one already there is still fine, and removing frees a slot.
    assert add(auth_client, "messages", message.pk, "🔥").status_code == 200
    remove(auth_client, "messages", message.pk, "🔥")
    assert add(auth_client, "messages", message.pk, "🚀").status_code == 200
    assert Reaction.objects.filter(message=message).count() == 10


# --- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "emoji",
    [
        "👍🏽",  # skin tone
        "👋🏿",
        "🧑🏽‍🚀",  # ZWJ profession with skin tone
        "👩‍💻",
        "👨‍👩‍👧‍👦",  # ZWJ family
        "🏳️‍🌈",  # ZWJ flag
        "🏳‍🌈",  # same, typed without the presentation selector
        "🇰🇷",  # regional indicator flag
        "#️⃣",  # keycap
        " 🎉 ",
    ],
)
def test_multi_codepoint_emoji_are_accepted(message, auth_client, emoji):
    response = add(auth_client, "messages", message.pk, emoji)
    assert response.status_code == 200, response.content
    assert len(response.json()["reactions"]) == 1


@pytest.mark.parametrize(
    "emoji",
    [
        "",
        "a",
        "lol",
        ":thumbs_up:",
        "👍👍",  # two emoji
        "👍 ❤️",
        "👍a",
        "🏻",  # a skin-tone swatch alone
        "<script>",
        "1",
        "\u200d",
        "👍" * 40,
        5,
        None,
    ],
)
def test_junk_is_refused_with_a_clear_400(message, auth_client, emoji):
    response = auth_client.post(url("messages", message.pk), {"emoji": emoji}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert "emoji" in body["fields"]
    assert not Reaction.objects.exists()


def test_remove_with_junk_emoji_is_400(message, auth_client):
    assert remove(auth_client, "messages", message.pk, "nope").status_code == 400


# --- permissions ---------------------------------------------------------------------------
def test_non_member_cannot_react_or_see(message, make_user):
    stranger = client_for(make_user("stranger"))
    response = add(stranger, "messages", message.pk)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_member"
    assert stranger.get(url("messages", message.pk)).status_code == 403
    assert stranger.get(url("messages", message.pk) + "?" + _q(THUMBS)).status_code == 403
    assert not Reaction.objects.exists()


def test_banned_member_cannot_react(message, member, room):
    Membership.objects.filter(room=room, user=member).update(state=Membership.State.BANNED)
    response = add(client_for(member), "messages", message.pk)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "banned"
    response = add(client_for(member), "rooms", room.pk)
    assert response.status_code == 403


def test_member_who_left_cannot_react(message, member, room):
    Membership.objects.filter(room=room, user=member).update(state=Membership.State.LEFT)
    assert add(client_for(member), "messages", message.pk).status_code == 403


def test_muted_member_cannot_react_but_can_take_a_reaction_back(message, member, room):
    bob = client_for(member)
    add(bob, "messages", message.pk)
    Membership.objects.filter(room=room, user=member).update(
        muted_until=timezone.now() + timedelta(minutes=10)
    )
    response = add(bob, "messages", message.pk, "🔥")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "muted"
    assert add(bob, "rooms", room.pk).status_code == 403
    assert remove(bob, "messages", message.pk).json()["reactions"] == []
    # Once the mute ends they can react again.
    Membership.objects.filter(room=room, user=member).update(
        muted_until=timezone.now() - timedelta(seconds=1)
    )
    assert add(bob, "messages", message.pk, "🔥").status_code == 200


def test_deleted_message_and_missing_targets_are_404(message, auth_client):
    message.deleted_at = timezone.now()
    message.save(update_fields=["deleted_at"])
    assert add(auth_client, "messages", message.pk).status_code == 404
    assert add(auth_client, "messages", 999999).status_code == 404
    assert add(auth_client, "posts", 999999).status_code == 404
    assert add(auth_client, "rooms", 999999).status_code == 404


def test_anonymous_is_refused(message, api_client):
    response = add(api_client, "messages", message.pk)
    assert response.status_code in (401, 403)
    assert "error" in response.json()


# --- rooms ("likes" for trending) ---------------------------------------------------------
def test_room_like_by_members_with_public_counts(room, member, make_user):
    assert add(client_for(member), "rooms", room.pk, "❤️").status_code == 200
    stranger = client_for(make_user("stranger"))
    assert add(stranger, "rooms", room.pk, "❤️").status_code == 403
    # A room's like count is public, as on its card; who liked it is for members.
    summary = stranger.get(url("rooms", room.pk)).json()
    assert summary["reactions"] == [{"emoji": "❤️", "count": 1, "me": False}]
    assert stranger.get(url("rooms", room.pk) + "?" + _q("❤️")).status_code == 403


# --- who reacted ------------------------------------------------------------------------------
def test_who_reacted_shows_room_nicknames_never_accounts(
    room, message, member, make_user, make_member, auth_client
):
    carol = make_user("carol")
    make_member(room, carol, nickname="Caz")
    for reactor in (member, carol):
        add(client_for(reactor), "messages", message.pk)
    add(auth_client, "messages", message.pk, "🔥")

    response = auth_client.get(url("messages", message.pk) + "?" + _q(THUMBS) + "&limit=1")
    assert response.status_code == 200
    page = response.json()
    assert [row["nickname"] for row in page["results"]] == ["Caz"]
    assert page["next"]
    second = auth_client.get(page["next"]).json()
    assert [row["nickname"] for row in second["results"]] == ["Bobby"]
    row = second["results"][0]
    assert set(row) == {"membership_id", "nickname", "avatar", "reacted_at"}
    assert row["membership_id"] == Membership.objects.get(room=room, user=member).pk
    assert "bob" not in response.content.decode() + str(second)


def test_who_reacted_requires_a_valid_emoji(message, auth_client):
    response = auth_client.get(url("messages", message.pk) + "?" + _q("zz"))
    assert response.status_code == 400


# --- status posts --------------------------------------------------------------------------
@pytest.fixture
def post(user):
    return StatusPost.objects.create(author=user, body="Sunny day")


def test_status_post_reactions_and_who_list_by_profile(post, make_user, auth_client):
    bob = make_user("bob")
    assert add(client_for(bob), "posts", post.pk, "😍").status_code == 200
    summary = auth_client.get(url("posts", post.pk)).json()
    assert summary["reactions"] == [{"emoji": "😍", "count": 1, "me": False}]
    who = auth_client.get(url("posts", post.pk) + "?" + _q("😍")).json()["results"]
    assert [row["handle"] for row in who] == [bob.profile.handle]


def _block(blocker, blocked):
    try:
        block_model = apps.get_model("profiles", "Block")
    except LookupError:
        pytest.skip("profiles has no Block model on this branch")
    block_model.objects.create(blocker=blocker, blocked=blocked)


def test_blocked_user_cannot_react_and_their_reactions_are_hidden(post, user, make_user):
    bob, carol = make_user("bob"), make_user("carol")
    for reactor in (bob, carol):
        add(client_for(reactor), "posts", post.pk, "😍")
    _block(user, bob)
    alice = client_for(user)
    summary = alice.get(url("posts", post.pk)).json()["reactions"]
    assert summary == [{"emoji": "😍", "count": 1, "me": False}]
    who = alice.get(url("posts", post.pk) + "?" + _q("😍")).json()["results"]
    assert [row["handle"] for row in who] == [carol.profile.handle]
    # The blocked user cannot react; the block is not announced (the post is "not found").
    response = add(client_for(bob), "posts", post.pk, "🔥")
    assert response.status_code == 404
    assert client_for(bob).get(url("posts", post.pk)).status_code == 404
    # The blocker cannot react to the blocked user's posts either, and is told why.
    bobs_post = StatusPost.objects.create(author=bob, body="Hello?")
    response = add(alice, "posts", bobs_post.pk, "🔥")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "blocked"
    # Others still see every reaction.
    assert client_for(carol).get(url("posts", post.pk)).json()["reactions"][0]["count"] == 2


def test_blocked_members_reactions_are_hidden_from_the_blocker_in_rooms(
    room, message, member, user, make_user, make_member, auth_client
):
    carol = make_user("carol")
    make_member(room, carol, nickname="Caz")
    from community.rooms.models import Membership
    from community.rooms.services import block_member

    for reactor in (member, carol):
        add(client_for(reactor), "messages", message.pk)
    # Blocking bob's account changes nothing in a room where he has an open profile:
    # the count would otherwise tell which nickname is his.
    _block(user, member)
    summary = auth_client.get(url("messages", message.pk)).json()["reactions"]
    assert summary == [{"emoji": THUMBS, "count": 2, "me": False}]
    who = auth_client.get(url("messages", message.pk) + "?" + _q(THUMBS)).json()["results"]
    assert sorted(row["nickname"] for row in who) == ["Bobby", "Caz"]
    # Blocking the member "Bobby" in this room hides his reactions from me.
    bobby = Membership.objects.get(room=room, user=member, state="active")
    block_member(room_id=room.pk, actor=user, membership_id=bobby.pk)
    summary = auth_client.get(url("messages", message.pk)).json()["reactions"]
    assert summary == [{"emoji": THUMBS, "count": 1, "me": False}]
    who = auth_client.get(url("messages", message.pk) + "?" + _q(THUMBS)).json()["results"]
    assert [row["nickname"] for row in who] == ["Caz"]
    # Blocks in rooms hide, they do not gag: the blocked member can still react there.
    assert add(client_for(member), "messages", message.pk, "🔥").status_code == 200
    assert client_for(carol).get(url("messages", message.pk)).json()["reactions"][0]["count"] == 2


# --- summaries: a fixed number of queries per page ------------------------------------------
# The viewer's blocks, then the counters with the viewer's own reactions and blocked
# users' share as subqueries.
SUMMARY_QUERIES = 2


def _page_of_messages(membership, reactors, n):
    messages = [send_message(membership=membership, body=f"m{i}") for i in range(n)]
    for message in messages:
        for reactor in reactors:
            add(client_for(reactor), "messages", message.pk)
        add(client_for(reactors[0]), "messages", message.pk, "🔥")
    return [m.pk for m in messages]


def test_reaction_summaries_run_a_fixed_number_of_queries(
    owner_membership, member, user, django_assert_max_num_queries
):
    small = _page_of_messages(owner_membership, [user, member], 3)
    with django_assert_max_num_queries(SUMMARY_QUERIES):
        summaries = reaction_summaries("message", small, user)
    assert summaries[small[0]] == [
        {"emoji": THUMBS, "count": 2, "me": True},
        {"emoji": "🔥", "count": 1, "me": True},
    ]
    large = _page_of_messages(owner_membership, [member, user], 30)
    with django_assert_max_num_queries(SUMMARY_QUERIES):
        summaries = reaction_summaries("message", large, user)
    assert len(summaries) == 30
    assert all(s[0]["count"] == 2 for s in summaries.values())


def test_status_post_summaries_are_fixed_even_with_blocks(
    user, make_user, django_assert_max_num_queries
):
    bob = make_user("bob")
    posts = [StatusPost.objects.create(author=bob, body=f"p{i}") for i in range(20)]
    for post_ in posts:
        add(client_for(bob), "posts", post_.pk, "😍")
    with contextlib.suppress(LookupError):
        apps.get_model("profiles", "Block").objects.create(blocker=user, blocked=bob)
    with django_assert_max_num_queries(SUMMARY_QUERIES):
        summaries = reaction_summaries("status_post", [p.pk for p in posts], user)
    assert len(summaries) == 20


# --- live events -------------------------------------------------------------------------------
def test_reaction_updated_event_reaches_the_room_group(
    room, message, member, django_capture_on_commit_callbacks, layer_listener
):
    listener = layer_listener(room.group_name)
    with django_capture_on_commit_callbacks(execute=True):
        add(client_for(member), "messages", message.pk, "🎉")
    frame = listener.receive()
    assert frame["type"] == "moim.event"
    event = event_from_layer(frame)
    assert event == {
        "type": "reaction.updated",
        "target_type": "message",
        "target_id": message.pk,
        "room_id": room.pk,
        "emoji": "🎉",
        "action": "added",
        "membership_id": Membership.objects.get(room=room, user=member).pk,
        "reactions": [{"emoji": "🎉", "count": 1}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        remove(client_for(member), "messages", message.pk, "🎉")
    event = listener.next_event()
    assert (event["action"], event["reactions"]) == ("removed", [])


def test_idempotent_add_sends_nothing(message, auth_client, django_capture_on_commit_callbacks):
    add(auth_client, "messages", message.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        add(auth_client, "messages", message.pk)
        remove(auth_client, "messages", message.pk, "🔥")
    assert callbacks == []


# --- rate limit --------------------------------------------------------------------------------
def test_reactions_are_rate_limited(message, auth_client, throttle_rates):
    throttle_rates(reactions="3/min")
    for _ in range(3):
        assert add(auth_client, "messages", message.pk).status_code == 200
    response = add(auth_client, "messages", message.pk)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert remove(auth_client, "messages", message.pk).status_code == 429
    # Reading counts and who reacted does not spend the tapping budget.
    assert auth_client.get(url("messages", message.pk)).status_code == 200


# --- web ---------------------------------------------------------------------------------------
# The room search page's own queries (its test pins 9) plus the likes' summary queries.
SEARCH_PAGE_QUERIES = 9 + 2


def test_room_cards_show_like_counts_in_a_fixed_number_of_queries(
    client, make_room, make_user, make_member, django_assert_max_num_queries
):
    viewer = make_user("viewer")

    def rooms_with_likes(n):
        for i in range(n):
            owner = make_user()
            room = make_room(owner=owner, title=f"Room {i}")
            add(client_for(owner), "rooms", room.pk, "❤️")
            if i == 0:
                make_member(room, viewer)
                add(client_for(viewer), "rooms", room.pk, "❤️")

    rooms_with_likes(3)
    client.force_login(viewer)
    with django_assert_max_num_queries(SEARCH_PAGE_QUERIES):
        response = client.get("/rooms/")
    html = response.content.decode()
    assert html.count('data-reactions-target="room"') == 3
    assert html.count('data-emoji="❤️" data-count="1" data-me="false"') == 2
    assert 'data-emoji="❤️" data-count="2" data-me="true"' in html
    # Only members may like: the other cards are read-only.
    assert html.count('data-readonly="true"') == 2
    assert "js/reactions.js" in html
    rooms_with_likes(20)
    with django_assert_max_num_queries(SEARCH_PAGE_QUERIES):
        response = client.get("/rooms/")
    assert response.content.decode().count('data-reactions-target="room"') == 23


def test_home_and_room_page_show_likes(client, room, member, make_user):
    add(client_for(member), "rooms", room.pk, "❤️")
    client.force_login(member)
    # Discover (a member's home is Chats) and the room's page (at room info for members).
    discover = client.get("/discover/").content.decode()
    assert 'data-emoji="❤️" data-count="1" data-me="true"' in discover
    html = client.get(f"/rooms/{room.pk}/info/").content.decode()
    assert f'data-reactions-target="room" data-reactions-id="{room.pk}"' in html
    assert 'data-emoji="❤️" data-count="1" data-me="true"' in html
    assert "js/reactions.js" in html


def test_room_api_payloads_carry_likes(room, member, make_user):
    add(client_for(member), "rooms", room.pk, "❤️")
    stranger = client_for(make_user("stranger"))
    detail = stranger.get(f"/api/v1/rooms/{room.pk}/").json()
    assert detail["reactions"] == [{"emoji": "❤️", "count": 1, "me": False}]
    listed = client_for(member).get("/api/v1/rooms/").json()["results"]
    assert [r["reactions"] for r in listed if r["id"] == room.pk] == [
        [{"emoji": "❤️", "count": 1, "me": True}]
    ]


def test_likes_heat_trending(make_room, make_user, make_member):
    from community.rooms.selectors import trending_rooms

    plain, liked = make_room(title="Plain"), make_room(title="Liked")
    for i in range(4):
        fan = make_user(f"fan{i}")
        for target in (plain, liked):
            make_member(target, fan)
        add(client_for(fan), "rooms", liked.pk, "❤️")
    ranked = list(trending_rooms(viewer=None))
    assert [room.pk for room in ranked][:2] == [liked.pk, plain.pk]
    assert ranked[0].heat > ranked[1].heat


@pytest.mark.parametrize("kind", ["messages", "posts", "rooms"])
def test_out_of_range_ids_are_404_not_500(auth_client, kind):
    huge = 2**70
    assert add(auth_client, kind, huge).status_code == 404
    assert auth_client.get(url(kind, huge)).status_code == 404


# --- trending and account deletion ------------------------------------------------------------
def test_room_like_totals_and_recent_likes_feed_trending(make_room, make_user, make_member):
    quiet, busy = make_room(title="Quiet"), make_room(title="Busy")
    for i in range(3):
        fan = make_user(f"fan{i}")
        make_member(busy, fan)
        add(client_for(fan), "rooms", busy.pk, "❤️")
        add(client_for(fan), "rooms", busy.pk, "🔥")
    assert room_like_totals([quiet.pk, busy.pk]) == {quiet.pk: 0, busy.pk: 6}
    hour_ago = timezone.now() - timedelta(hours=1)
    assert recent_room_likes(since=hour_ago) == [(busy.pk, 6)]
    assert recent_room_likes(since=timezone.now() + timedelta(seconds=1)) == []


def test_account_deletion_takes_back_reactions_and_export_lists_them(
    room, message, member, user, auth_client
):
    from tests.support.accounts import TEST_PASSWORD

    bob = client_for(member)
    add(bob, "messages", message.pk, "👍")
    add(bob, "rooms", room.pk, "❤️")
    add(auth_client, "messages", message.pk, "👍")
    export = bob.get("/api/v1/me/export/").json()["sections"]["reactions"]
    assert [(row["emoji"], row["target_type"], row["as_nickname"]) for row in export] == [
        ("👍", "message", "Bobby"),
        ("❤️", "room", "Bobby"),
    ]
    response = bob.delete(
        "/api/v1/me/", {"password": TEST_PASSWORD, "messages": "anonymise"}, format="json"
    )
    assert response.status_code == 204
    assert not Reaction.objects.filter(user=member).exists()
    assert auth_client.get(url("messages", message.pk)).json()["reactions"] == [
        {"emoji": "👍", "count": 1, "me": True}
    ]
    assert auth_client.get(url("rooms", room.pk)).json()["reactions"] == []


def test_removing_all_of_a_users_reactions_keeps_counters_exact(
    room, message, member, user, auth_client
):
    post = StatusPost.objects.create(author=user, body="hi")
    bob = client_for(member)
    for emoji in ("👍", "🔥"):
        add(bob, "messages", message.pk, emoji)
    add(bob, "rooms", room.pk, "❤️")
    add(bob, "posts", post.pk, "😍")
    add(auth_client, "messages", message.pk, "👍")
    assert remove_all_reactions_of_user(user=member) == 4
    assert auth_client.get(url("messages", message.pk)).json()["reactions"] == [
        {"emoji": "👍", "count": 1, "me": True}
    ]
    assert auth_client.get(url("rooms", room.pk)).json()["reactions"] == []
    assert auth_client.get(url("posts", post.pk)).json()["reactions"] == []
    assert remove_all_reactions_of_user(user=member) == 0


def test_status_posts_on_profile_and_friends_pages_carry_reaction_bars(client, user, make_user):
    bob = make_user("bob")
    post = StatusPost.objects.create(author=bob, body="Sunny day")
    add(client_for(user), "posts", post.pk, "😍")
    client.force_login(user)
    html = client.get(f"/u/{bob.profile.handle}/").content.decode()
    assert f'data-reactions-target="status_post" data-reactions-id="{post.pk}"' in html
    assert 'data-emoji="😍" data-count="1" data-me="true"' in html
    assert "js/reactions.js" in html


def test_recount_reactions_repairs_counters_after_out_of_band_deletes(
    room, message, member, user, auth_client
):
    from io import StringIO

    from django.core.management import call_command

    add(auth_client, "messages", message.pk, "👍")
    add(client_for(member), "messages", message.pk, "👍")
    add(client_for(member), "rooms", room.pk, "❤️")
    # Deleted behind the services' back (say, a raw admin delete): the counters drift.
    Reaction.objects.filter(user=member, message=message).delete()
    ReactionCount.objects.filter(room=room).delete()
    out = StringIO()
    call_command("recount_reactions", stdout=out)
    assert "message: 1 counter(s) corrected" in out.getvalue()
    assert "room: 1 counter(s) corrected" in out.getvalue()
    assert auth_client.get(url("messages", message.pk)).json()["reactions"] == [
        {"emoji": "👍", "count": 1, "me": True}
    ]
    assert auth_client.get(url("rooms", room.pk)).json()["reactions"] == [
        {"emoji": "❤️", "count": 1, "me": False}
    ]
    out = StringIO()
    call_command("recount_reactions", "--target", "message", stdout=out)
    assert out.getvalue().strip() == "message: 0 counter(s) corrected"


# --- admin ---------------------------------------------------------------------------------------
@pytest.fixture
def moderator(make_user):
    staff = make_user("moderator")
    staff.is_staff = staff.is_superuser = True
    staff.save(update_fields=["is_staff", "is_superuser"])
    return staff


def test_admin_changelists_run_a_fixed_number_of_queries(
    client, moderator, owner_membership, member, user, django_assert_max_num_queries
):
    client.force_login(moderator)
    post = StatusPost.objects.create(author=user, body="hi")
    add(client_for(member), "posts", post.pk, "😍")
    _page_of_messages(owner_membership, [user, member], 3)
    with django_assert_max_num_queries(ADMIN_QUERIES):
        assert client.get("/admin/community/reaction/").status_code == 200
    with django_assert_max_num_queries(ADMIN_QUERIES):
        assert client.get("/admin/community/reactioncount/").status_code == 200
    _page_of_messages(owner_membership, [user, member], 20)
    with django_assert_max_num_queries(ADMIN_QUERIES):
        response = client.get("/admin/community/reaction/")
    assert "Bobby" in response.content.decode()
    with django_assert_max_num_queries(ADMIN_QUERIES):
        assert client.get("/admin/community/reactioncount/").status_code == 200


# Session, user, counts for the paginator and the date hierarchy, the page of rows.
ADMIN_QUERIES = 10


def test_moderator_deleting_reactions_in_admin_keeps_counters_exact(
    client, moderator, message, member, user
):
    add(client_for(member), "messages", message.pk, "🖕")
    add(client_for(user), "messages", message.pk, "🖕")
    add(client_for(user), "messages", message.pk, "👍")
    rude = Reaction.objects.filter(emoji="🖕").order_by("id")
    client.force_login(moderator)
    response = client.post(
        "/admin/community/reaction/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in rude], "post": "yes"},
    )
    assert response.status_code == 302
    assert ReactionCount.objects.get(message=message, emoji="🖕").count == 0
    assert reaction_summaries("message", [message.pk], user)[message.pk] == [
        {"emoji": "👍", "count": 1, "me": True}
    ]
    one = Reaction.objects.get(emoji="👍")
    response = client.post(f"/admin/community/reaction/{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert ReactionCount.objects.get(message=message, emoji="👍").count == 0


def test_every_picker_emoji_is_valid_and_stored_as_offered():
    from community.reactions.emoji import PICKER_EMOJI, normalise_emoji

    offered = [emoji for group in PICKER_EMOJI.values() for emoji in group]
    assert len(offered) == len(set(offered)) > 150
    assert [e for e in offered if normalise_emoji(e) != e] == []


def test_status_post_api_payloads_carry_reactions(post, user, make_user):
    from profiles.services import follow_user

    bob = make_user("bob")
    bobby = client_for(bob)
    bobby.post(url("posts", post.pk), {"emoji": "😍"}, format="json")
    detail = bobby.get(f"/api/v1/posts/{post.pk}/").json()
    assert detail["reactions"] == [{"emoji": "😍", "count": 1, "me": True}]
    listed = client_for(user).get(f"/api/v1/users/{user.profile.handle}/posts/").json()
    assert listed["results"][0]["reactions"] == [{"emoji": "😍", "count": 1, "me": False}]
    follow_user(follower=bob, followee=user)
    feed = bobby.get("/api/v1/feed/friends/").json()["results"]
    assert [item["post"]["reactions"] for item in feed if item["type"] == "status_post"] == [
        [{"emoji": "😍", "count": 1, "me": True}]
    ]
