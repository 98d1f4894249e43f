"""The membership state machine (community.rooms.services.MEMBERSHIP_TRANSITIONS),
through the API: join, leave, rejoin, kick, ban, unban; each step allowed only from its
states, the member count and roles kept right, and a refused step a 409 saying why."""

import pytest
from rest_framework.test import APIClient

from community.rooms.models import Membership
from community.rooms.services import MEMBERSHIP_TRANSITIONS

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def cast(make_user, make_room):
    host = make_user("host")
    room = make_room(owner=host)
    return room, host, make_user("guest")


def _join(room, user, nickname="Guest") -> int:
    response = _api(user).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": nickname})
    assert response.status_code == 201, response.content
    return response.json()["membership"]["id"]


def _count(room) -> int:
    room.refresh_from_db()
    return room.member_count


def _member(room, host, member_id: int, action: str, **body):
    return _api(host).post(
        f"/api/v1/rooms/{room.pk}/members/{member_id}/{action}/", body, format="json"
    )


def test_join_leave_rejoin_kick_ban_unban_rejoin(cast):
    room, host, guest = cast
    first = _join(room, guest)
    assert _count(room) == 2
    assert _api(guest).post(f"/api/v1/rooms/{room.pk}/leave/").status_code == 204
    assert _count(room) == 1
    # Rejoining makes a new membership; the old one stays left.
    second = _join(room, guest, "Again")
    assert second != first and _count(room) == 2
    assert _member(room, host, second, "kick").status_code == 204
    assert Membership.objects.get(pk=second).state == "left" and _count(room) == 1
    third = _join(room, guest, "Third")
    assert _member(room, host, third, "ban").status_code == 204
    assert _count(room) == 1
    refused = _api(guest).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Sneaky"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "banned")
    assert _member(room, host, third, "unban", reason="second chance").status_code == 204
    banned = Membership.objects.get(pk=third)
    assert (banned.state, banned.banned_at) == ("left", None)
    fourth = _join(room, guest, "Fourth")
    assert fourth not in (first, second, third) and _count(room) == 2


@pytest.mark.parametrize(
    ("setup", "action", "code"),
    [
        ("left", "kick", "not_member"),
        ("banned", "ban", "already_banned"),
        ("active", "unban", "not_banned"),
        ("left", "unban", "not_banned"),
    ],
)
def test_a_step_from_the_wrong_state_is_a_409_and_changes_nothing(cast, setup, action, code):
    room, host, guest = cast
    member_id = _join(room, guest)
    if setup == "left":
        _api(guest).post(f"/api/v1/rooms/{room.pk}/leave/")
    elif setup == "banned":
        _member(room, host, member_id, "ban")
    before = (Membership.objects.get(pk=member_id).state, _count(room))
    response = _member(room, host, member_id, action)
    assert (response.status_code, response.json()["error"]["code"]) == (409, code)
    assert (Membership.objects.get(pk=member_id).state, _count(room)) == before


def test_banning_someone_who_left_keeps_the_count_and_blocks_their_return(cast):
    room, host, guest = cast
    member_id = _join(room, guest)
    _api(guest).post(f"/api/v1/rooms/{room.pk}/leave/")
    assert _member(room, host, member_id, "ban").status_code == 204
    assert _count(room) == 1
    again = _api(guest).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Back"})
    assert again.status_code == 403


def test_a_removed_cohost_loses_the_role(cast):
    room, host, guest = cast
    member_id = _join(room, guest)
    _api(host).patch(f"/api/v1/rooms/{room.pk}/members/{member_id}/", {"role": "cohost"})
    assert Membership.objects.get(pk=member_id).role == "cohost"
    assert _member(room, host, member_id, "kick").status_code == 204
    assert Membership.objects.get(pk=member_id).role == "member"


def test_the_table_names_every_step_once():
    assert set(MEMBERSHIP_TRANSITIONS) == {
        "join",
        "leave",
        "lapse",
        "kick",
        "ban",
        "unban",
        "suspend",
        "readmit",
    }
    # Only a join (or a kick taken back) makes a membership active; every other step
    # leaves a state behind or (a site suspension) keeps it and closes the sockets.
    for name, rule in MEMBERSHIP_TRANSITIONS.items():
        assert (rule.target == "active") == (name in {"join", "suspend", "readmit"}), name
