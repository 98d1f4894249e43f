import pytest

from profiles import selectors

pytestmark = pytest.mark.django_db


def follow(client, handle):
    return client.post(f"/api/v1/users/{handle}/follow/")


def block(client, handle):
    return client.post(f"/api/v1/users/{handle}/block/")


def test_follow_and_unfollow(user, make_user, client_for):
    bob = make_user("bob")
    response = follow(client_for(user), "bob")
    assert response.status_code == 200
    assert response.json() == {
        "handle": "bob",
        "following": True,
        "follows_you": False,
        "blocked": False,
    }
    assert follow(client_for(user), "bob").status_code == 200  # idempotent
    assert selectors.is_following(user, bob)
    assert not selectors.are_friends(user, bob)
    response = client_for(user).delete("/api/v1/users/bob/follow/")
    assert response.json()["following"] is False
    assert not selectors.is_following(user, bob)


def test_mutual_follow_makes_friends(user, make_user, client_for):
    bob = make_user("bob")
    follow(client_for(user), "bob")
    follow(client_for(bob), "alice")
    assert selectors.are_friends(user, bob)
    assert selectors.friend_ids(user) == {bob.pk}
    detail = client_for(user).get("/api/v1/users/bob/").json()
    assert detail["is_friend"] is True
    assert detail["following"] is True
    assert detail["follows_you"] is True


def test_cannot_follow_or_block_yourself(user, client_for):
    for action in (follow, block):
        response = action(client_for(user), "alice")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "self"


def test_block_hides_my_profile_and_posts_from_the_blocked_user(user, make_user, client_for):
    bob = make_user("bob")
    post_id = client_for(user).post("/api/v1/users/alice/posts/", {"body": "hi"}).json()["id"]
    assert block(client_for(user), "bob").json()["blocked"] is True
    bob_client = client_for(bob)
    for url in [
        "/api/v1/users/alice/",
        "/api/v1/users/alice/posts/",
        f"/api/v1/posts/{post_id}/",
    ]:
        response = bob_client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    # The blocker still sees the person they blocked (to unblock them).
    assert client_for(user).get("/api/v1/users/bob/").json()["blocked"] is True


def test_blocked_user_cannot_follow(user, make_user, client_for):
    bob = make_user("bob")
    block(client_for(user), "bob")
    response = follow(client_for(bob), "alice")
    assert response.status_code == 404
    assert not selectors.is_following(bob, user)


def test_blocker_must_unblock_before_following(user, make_user, client_for):
    make_user("bob")
    block(client_for(user), "bob")
    response = follow(client_for(user), "bob")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "blocked"
    client_for(user).delete("/api/v1/users/bob/block/")
    assert follow(client_for(user), "bob").status_code == 200


def test_block_ends_follows_both_ways(user, make_user, client_for):
    bob = make_user("bob")
    follow(client_for(user), "bob")
    follow(client_for(bob), "alice")
    block(client_for(bob), "alice")
    assert not selectors.is_following(user, bob)
    assert not selectors.is_following(bob, user)


def test_block_selectors_for_other_areas(user, make_user, make_room, make_member, client_for):
    bob, carol = make_user("bob"), make_user("carol")
    block(client_for(user), "bob")
    assert selectors.blocked_user_ids(user) == {bob.pk}
    assert selectors.blocker_ids(bob) == {user.pk}
    assert selectors.is_blocked(user, bob)
    assert not selectors.is_blocked(bob, user)
    assert selectors.is_blocked_either_way(bob, user)
    assert not selectors.is_blocked_either_way(carol, user)

    room = make_room(owner=carol)
    bob_member = make_member(room, bob)
    make_member(room, user)
    # An account block never reaches an open profile ...
    assert selectors.blocked_member_ids_in_room(user, room.pk) == set()
    # ... only a member who shows their main profile.
    from community.rooms.services import update_my_membership

    update_my_membership(room_id=room.pk, user=bob, is_open_profile=False)
    blocked_members = selectors.blocked_member_ids_in_room(user, room.pk)
    assert blocked_members == {bob_member.pk}
    assert selectors.is_collapsed_for(bob_member.pk, blocked_members)
    assert not selectors.is_collapsed_for(None, blocked_members)
    assert selectors.blocked_member_ids_in_room(carol, room.pk) == set()

    client_for(user).delete("/api/v1/users/bob/block/")
    assert selectors.blocked_user_ids(user) == set()


def test_follow_unknown_user_is_404(user, client_for):
    assert follow(client_for(user), "ghost").status_code == 404
    assert block(client_for(user), "ghost").status_code == 404


def test_follow_requires_authentication(api_client, user):
    assert follow(api_client, "alice").status_code == 401


def test_collapsed_flags_for_chat_payloads(user, make_user, make_room, make_member, client_for):
    bob = make_user("bob")
    room = make_room(owner=make_user())
    # Shown with his main profile: an account block reaches only such memberships.
    bob_member = make_member(room, bob, is_open_profile=False)
    me = make_member(room, user)
    block(client_for(user), "bob")
    blocked = selectors.blocked_member_ids_in_room(user, room.pk)
    payloads = [
        {"id": 1, "author": {"membership_id": bob_member.pk, "nickname": "b"}},
        {"id": 2, "author": {"membership_id": me.pk, "nickname": "me"}},
        {"id": 3, "author": None},  # a system message
    ]
    flagged = selectors.with_collapsed_flags(payloads, blocked)
    assert [p["collapsed"] for p in flagged] == [True, False, False]
    assert "collapsed" not in payloads[0]  # the shared broadcast payload is not mutated


def test_block_and_unblock_tell_the_blockers_sockets(
    user, make_user, client_for, django_capture_on_commit_callbacks, layer_listener
):
    listener = layer_listener(selectors.blocks_group_name(user.pk))
    make_user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        block(client_for(user), "bob")
    event = listener.receive()
    # The blocker's room sockets reload their blocks and send their own blocks.changed.
    assert event == {"type": "moim.event", "event": {"type": "blocks.reload"}}
    with django_capture_on_commit_callbacks(execute=True):
        client_for(user).delete("/api/v1/users/bob/block/")
    assert listener.next_event()["type"] == "blocks.reload"


def test_collapsed_flags_fit_the_real_chat_payloads(user, make_user, make_room, make_member):
    chat = pytest.importorskip("community.chat.selectors")
    from community.chat.services import send_message
    from profiles.services import block_user

    bob = make_user("bob")
    room = make_room(owner=make_user())
    bob_member = make_member(room, bob, is_open_profile=False)
    me = make_member(room, user)
    send_message(membership=bob_member, body="from bob")
    send_message(membership=me, body="from me")
    block_user(blocker=user, blocked=bob)
    messages, _more = chat.room_history(room_id=room.pk)
    flagged = selectors.with_collapsed_flags(
        chat.message_payloads(messages), selectors.blocked_member_ids_in_room(user, room.pk)
    )
    assert [(p["body"], p["collapsed"]) for p in flagged] == [
        ("from bob", True),
        ("from me", False),
    ]
