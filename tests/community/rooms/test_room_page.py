"""The room page (``/rooms/<id>/info/``) for each kind of viewer: its queries are compiled
once per process (config/compiled_queries.py), so these check that every viewer still
gets their own page: anonymous visitors, members, non-members who asked to join,
viewers who block someone, and rooms they may not see."""

import pytest
from django.test import Client

from community.chat.services import check_send_message
from community.reactions.services import check_add_reaction
from community.rooms.models import Room
from community.rooms.services import block_member, join_room
from profiles.services import block_user
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


def info(room_id: int) -> str:
    return f"/rooms/{room_id}/info/"


def page(client, room) -> str:
    response = client.get(info(room.pk))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def liked_room(make_room, make_user, make_member):
    """A web-public room one member liked with 👍 (on their main profile, so an account
    block reaches their like too)."""
    room = make_room(title="Liked corner", is_web_public=True)
    fan = make_user()
    make_member(room, fan, nickname="Fan", is_open_profile=False)
    check_add_reaction(user=fan, target_type="room", target_id=room.pk, emoji="👍")
    return room, fan


def test_each_viewer_sees_the_likes_with_their_own(liked_room, make_user):
    room, fan = liked_room
    mine = page(client_for(fan, session=True), room)
    assert 'data-count="1" data-me="true"' in mine
    for client in (client_for(make_user(), session=True), Client()):
        theirs = page(client, room)
        assert 'data-count="1" data-me="false"' in theirs
    # One process, many viewers in turn: the compiled query never keeps a viewer.
    assert 'data-me="true"' in page(client_for(fan, session=True), room)


@pytest.mark.parametrize("how", ["member block", "account block"])
def test_a_viewer_who_blocked_the_liker_does_not_count_their_like(
    liked_room, make_user, make_member, how
):
    room, fan = liked_room
    viewer = make_user()
    make_member(room, viewer)
    client = client_for(viewer, session=True)
    assert 'data-count="1"' in page(client, room)
    if how == "member block":
        fan_membership = room.memberships.get(user=fan)
        block_member(room_id=room.pk, actor=viewer, membership_id=fan_membership.pk)
    else:
        block_user(blocker=viewer, blocked=fan)
    blocked = page(client, room)
    assert "Liked corner" in blocked and 'data-count="1"' not in blocked
    assert 'data-count="1"' in page(client_for(make_user(), session=True), room)


def test_members_and_non_members_get_their_own_actions(make_room, make_user, make_member):
    room = make_room(title="Ask first", join_policy=Room.JoinPolicy.APPROVAL)
    asker, stranger, member = make_user(), make_user(), make_user()
    join_room(room_id=room.pk, user=asker, nickname="Asker")
    room.join_policy = Room.JoinPolicy.OPEN
    room.save(update_fields=["join_policy"])
    make_member(room, member, nickname="Regular")
    room.join_policy = Room.JoinPolicy.APPROVAL
    room.save(update_fields=["join_policy"])

    asked = page(client_for(asker, session=True), room)
    assert "Your request is waiting for a host." in asked and "Ask to join" not in asked
    other = page(client_for(stranger, session=True), room)
    assert "Ask to join" in other and "waiting for a host" not in other
    joined = page(client_for(member, session=True), room)
    assert "You are “Regular” here" in joined and "Ask to join" not in joined
    anonymous = Client().get(info(room.pk))
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


def test_a_private_room_reads_as_a_missing_one(make_room, make_user):
    private = make_room(title="Hidden den", visibility=Room.Visibility.PRIVATE)
    outsider = client_for(make_user(), session=True)
    hidden, missing = outsider.get(info(private.pk)), outsider.get(info(private.pk + 1000))
    assert hidden.status_code == missing.status_code == 404
    assert "Hidden den" not in hidden.content.decode()
    hidden, missing = Client().get(info(private.pk)), Client().get(info(private.pk + 1000))
    assert hidden.status_code == missing.status_code == 302  # to log in, for both
    assert "Hidden den" in page(client_for(private.owner, session=True), private)


def test_a_visitor_who_blocked_an_author_sees_their_messages_folded(liked_room, make_user):
    room, fan = liked_room
    check_send_message(membership=room.memberships.get(user=fan), body="Hello from the fan")
    viewer = make_user()
    client = client_for(viewer, session=True)
    assert "Hello from the fan" in page(client, room)
    block_user(blocker=viewer, blocked=fan)
    folded = page(client, room)
    assert "Hello from the fan" not in folded and "Message from someone you blocked." in folded
    assert "Hello from the fan" in page(client_for(make_user(), session=True), room)


@pytest.mark.parametrize("room_id", [2**63, 10**30])
def test_an_id_out_of_range_is_a_missing_room(make_user, room_id):
    assert client_for(make_user(), session=True).get(info(room_id)).status_code == 404


@pytest.mark.usefixtures("discover_cache_kept")
def test_the_page_of_a_non_member_and_of_a_visitor_in_constant_queries(
    liked_room, make_user, django_assert_num_queries
):
    room, _fan = liked_room
    viewer = client_for(make_user(), session=True)
    visitor = Client()
    page(viewer, room)  # warm the room's cached topics and similar rooms
    # Session and user, the viewer's membership (none), the room (with "asked to join?"
    # and "blocks anyone?"), the latest messages of a web-public room with their
    # authors, its likes and price. (A viewer who blocks anyone adds the members they
    # blocked in the room.)
    with django_assert_num_queries(7):
        assert "Liked corner" in page(viewer, room)
    # No session: the room, its likes and price, the latest messages.
    with django_assert_num_queries(4):
        assert "Liked corner" in page(visitor, room)
