"""Every route that takes a room's (or a room object's) id, every method: to someone
outside a private room, the room and everything in it answer exactly as missing ones.

``test_room_access`` pins a list of pages and endpoints; this walks the URL conf, so a
new route (a host tool, a feature's endpoint) is checked the day it is added. A 403
where a missing id gets a 404 (``not_host``, "only members can invite") admits that a
private room exists; so does a different message.
"""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from community.chat.services import send_message
from community.meetups.services import create_meetup
from community.polls.services import create_poll
from community.rooms.models import Membership, Room
from community.rooms.services import create_invite, join_room

# The kwargs naming something inside a room, and the object of the private room each
# stands for. Other kwargs (an action's name, a held message's or a filter's id) are the
# same on both sides: only the room differs.
ROOM_KWARGS = {
    "room_id": "room",
    "message_id": "message",
    "membership_id": "membership",
    "member_id": "membership",
    "poll_id": "poll",
    "meetup_id": "meetup",
}
SAME_ON_BOTH_SIDES = {"action": "kick", "held_id": "1", "request_id": "1", "filter_id": "1"}
# ``pk`` is a message on /messages/<pk>/reactions/ and a room on /rooms/<pk>/reactions/.
PK_OWNERS = {"api/v1/messages/": "message", "api/v1/rooms/": "room"}


def _routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    for route in sorted(set(walk(get_resolver().url_patterns))):
        if route.startswith("admin/") or "(?P" in route:
            continue
        kwargs = re.findall(r"<(?:\w+:)?(\w+)>", route)
        owner_of_pk = next((o for p, o in PK_OWNERS.items() if route.startswith(p)), None)
        if "pk" in kwargs and owner_of_pk is None:
            continue  # a status post's reactions: not a room's
        if any(k in ROOM_KWARGS or k == "pk" for k in kwargs) and all(
            k in ROOM_KWARGS or k in SAME_ON_BOTH_SIDES or k == "pk" for k in kwargs
        ):
            yield route


ROUTES = list(_routes())


def _fill(route: str, ids: dict) -> str:
    def one(match):
        name = match.group(1)
        if name == "pk":
            name = next(o for p, o in PK_OWNERS.items() if route.startswith(p))
            return str(ids[name])
        if name in ROOM_KWARGS:
            return str(ids[ROOM_KWARGS[name]])
        return SAME_ON_BOTH_SIDES[name]

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", one, route)


@pytest.fixture
def private_room(make_user, make_room):
    """A private room with a member, a message, a poll and a meetup in it, the ids of
    each, and ids that nothing has."""
    owner = make_user("owner")
    room = make_room(owner=owner, title="Heron hideout", visibility=Room.Visibility.PRIVATE)
    invite = create_invite(room_id=room.pk, actor=owner, max_uses=1)
    guest = make_user("guest")
    join_room(room_id=room.pk, user=guest, nickname="Guest", invite_code=invite.code)
    owner_membership = Membership.objects.get(room=room, user=owner)
    message = send_message(membership=owner_membership, body="the herons meet at dawn")
    poll = create_poll(user=owner, room_id=room.pk, question="Dawn?", options=["yes", "no"])
    meetup = create_meetup(
        user=owner, room_id=room.pk, title="Dawn walk", starts_at=timezone.now() + timedelta(1)
    )
    private = {
        "room": room.pk,
        "message": message.pk,
        "membership": Membership.objects.get(room=room, user=guest).pk,
        "poll": poll.message.poll.pk,
        "meetup": meetup.message.meetup.pk,
    }
    missing = {name: value + 1000 for name, value in private.items()}
    return private, missing


def _normalised(response, ids: dict) -> tuple[int, str]:
    text = response.content.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    # The requested ids, echoed in paths (a log-in link's ``next``, a form's action).
    for name, value in ids.items():
        text = re.sub(rf"(/|%2F){value}(/|%2F)", rf"\g<1><{name}>\g<2>", text)
    return response.status_code, text


BODY = {"body": "x", "emoji": "👍", "nickname": "Nosy", "minutes": 10, "option_ids": [1]}


@pytest.mark.django_db
def test_the_walk_covers_the_room_routes():
    # A guard on the walk itself: if it matched nothing, the test below would prove nothing.
    assert "api/v1/rooms/<int:room_id>/members/<int:membership_id>/ban/" in ROUTES
    assert "api/v1/polls/<int:poll_id>/vote/" in ROUTES
    assert "rooms/<int:room_id>/" in ROUTES
    assert len(ROUTES) >= 60


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.startswith("api/")])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_api_routes_answer_a_private_room_as_a_missing_one(private_room, make_user, route, method):
    private, missing = private_room
    client = APIClient()
    client.force_authenticate(make_user("outsider"))
    answers = [
        _normalised(getattr(client, method)(_fill(route, ids), BODY, format="json"), ids)
        for ids in (private, missing)
    ]
    assert answers[0] == answers[1]
    assert b"Heron" not in answers[0][1].encode() and "herons" not in answers[0][1]


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if not r.startswith("api/")])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("signed_in", [True, False], ids=["outsider", "visitor"])
def test_pages_answer_a_private_room_as_a_missing_one(
    private_room, make_user, route, method, signed_in
):
    private, missing = private_room
    client = Client()
    if signed_in:
        client.force_login(make_user("outsider"))
    answers = [
        _normalised(getattr(client, method)(_fill(route, ids), BODY), ids)
        for ids in (private, missing)
    ]
    assert answers[0] == answers[1]
    assert "Heron" not in answers[0][1] and "herons" not in answers[0][1]
