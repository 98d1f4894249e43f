"""Rooms are readable only by those allowed (issue #19).

- Only members (and anyone, in a web-public room) see what is said in a room: the room
  page shows no messages to a signed-in non-member of a password, approval, unlisted or
  paid room, nor to a banned member.
- To someone not in it, a private room looks exactly like a missing one: the same status
  and the same body on every page, endpoint and socket (``community.access``).
"""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from community.chat.services import send_message
from community.moderation.services import check_ban_member
from community.rooms.models import Room
from community.rooms.services import create_invite, join_room
from tests.community.chat_support import (
    refusal_code,
)

SECRET = "the secret word is heron"


def _page(user, path: str):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(path)


def _api(user, method: str, path: str, data=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return getattr(client, method)(path, data, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "settings_of_room",
    [
        {"join_policy": Room.JoinPolicy.PASSWORD, "password": "pw-1234"},
        {"join_policy": Room.JoinPolicy.APPROVAL},
        {"visibility": Room.Visibility.UNLISTED},
        {},  # a listed, open room that is not web-public
    ],
    ids=["password", "approval", "unlisted", "listed"],
)
def test_a_signed_in_non_member_sees_no_messages_on_the_room_page(
    make_user, make_room, settings_of_room
):
    host = make_user("host")
    room = make_room(owner=host, **settings_of_room)
    from community.rooms.models import Membership

    send_message(membership=Membership.objects.get(room=room, user=host), body=SECRET)
    response = _page(make_user("outsider"), f"/rooms/{room.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert SECRET not in page
    assert "Only members can read the conversation." in page


@pytest.mark.django_db
def test_a_paid_rooms_messages_are_for_members_only(make_user, make_room):
    from commerce.services import set_room_price
    from community.rooms.models import Membership

    host = make_user("host")
    room = make_room(owner=host)
    set_room_price(actor=host, room_id=room.pk, kind="entry", amount=5000, currency="KRW")
    send_message(membership=Membership.objects.get(room=room, user=host), body=SECRET)
    assert SECRET not in _page(make_user("outsider"), f"/rooms/{room.pk}/").content.decode()


@pytest.mark.django_db
def test_a_banned_member_sees_nothing_said_after_the_ban(make_user, make_room, make_member):
    from community.rooms.models import Membership

    host, banned = make_user("host"), make_user("banned")
    room = make_room(owner=host)
    victim = make_member(room, banned, nickname="Gone")
    check_ban_member(room_id=room.pk, actor=host, member_id=victim.pk)
    send_message(membership=Membership.objects.get(room=room, user=host), body=SECRET)
    assert SECRET not in _page(banned, f"/rooms/{room.pk}/").content.decode()
    assert _api(banned, "get", f"/api/v1/rooms/{room.pk}/messages/").status_code == 403


@pytest.mark.django_db
def test_a_web_public_room_still_shows_its_latest_messages_to_anyone(make_user, make_room):
    from community.rooms.models import Membership

    host = make_user("host")
    room = make_room(owner=host, is_web_public=True)
    send_message(membership=Membership.objects.get(room=room, user=host), body=SECRET)
    assert SECRET in _page(make_user("reader"), f"/rooms/{room.pk}/").content.decode()
    assert SECRET in _page(None, f"/rooms/{room.pk}/").content.decode()


# --- a private room is a missing room -------------------------------------------------------


@pytest.fixture
def hidden(make_user, make_room):
    """A private room with a used-up invite, its message, and an id no room has."""
    from community.rooms.models import Membership

    owner = make_user("owner")
    room = make_room(
        owner=owner,
        title="Heron hideout",
        description="Where the herons meet",
        visibility=Room.Visibility.PRIVATE,
    )
    invite = create_invite(room_id=room.pk, actor=owner, max_uses=1)
    join_room(room_id=room.pk, user=make_user("guest"), nickname="Guest", invite_code=invite.code)
    message = send_message(membership=Membership.objects.get(room=room, user=owner), body=SECRET)
    return {
        "room": room.pk,
        "invite": invite.code,
        "message": message.pk,
        "missing": room.pk + 1000,
        "missing_message": message.pk + 1000,
    }


PAGES = [
    "/rooms/{room}/",
    "/rooms/{room}/members/",
    "/rooms/{room}/join/",
    "/rooms/{room}/join/?invite={invite}",
    "/wallet/rooms/{room}/",
]

ENDPOINTS = [
    ("get", "/api/v1/rooms/{room}/"),
    ("get", "/api/v1/rooms/{room}/messages/"),
    ("get", "/api/v1/rooms/{room}/members/"),
    ("get", "/api/v1/rooms/{room}/similar/"),
    ("get", "/api/v1/rooms/{room}/reactions/"),
    ("post", "/api/v1/rooms/{room}/reactions/"),
    ("get", "/api/v1/messages/{message}/reactions/"),
    ("post", "/api/v1/messages/{message}/reactions/"),
    ("get", "/api/v1/rooms/{room}/blocks/"),
    ("post", "/api/v1/rooms/{room}/join/"),
]


def _normalised(response, room_id: int) -> str:
    """The page with what differs between any two requests taken out: the CSRF token,
    and the requested room id (echoed in the log-in form's ``next``)."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return text.replace(f"/rooms/{room_id}/", "/rooms/<id>/")


@pytest.mark.django_db
@pytest.mark.parametrize("template", PAGES)
def test_private_room_pages_answer_as_a_missing_room(hidden, make_user, template):
    outsider = make_user("outsider")
    private = _page(outsider, template.format(**hidden))
    missing = _page(outsider, template.format(room=hidden["missing"], invite=hidden["invite"]))
    assert private.status_code == missing.status_code == 404
    assert _normalised(private, hidden["room"]) == _normalised(missing, hidden["missing"])
    assert b"Heron" not in private.content and SECRET.encode() not in private.content


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template"), ENDPOINTS)
def test_private_room_endpoints_answer_as_a_missing_room(hidden, make_user, method, template):
    outsider = make_user("outsider")
    body = {"emoji": "👍", "nickname": "Nosy"}
    private = _api(outsider, method, template.format(**hidden), body)
    missing = _api(
        outsider,
        method,
        template.format(room=hidden["missing"], message=hidden["missing_message"]),
        body,
    )
    assert (private.status_code, private.json()) == (missing.status_code, missing.json())
    assert private.status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_socket_closes_4404_for_a_private_room_as_for_a_missing_one(hidden):
    from channels.db import database_sync_to_async

    from profiles.services import register_user

    outsider = await database_sync_to_async(register_user)(
        username="outsider", password="a-long-test-password-42"
    )
    assert await refusal_code(outsider, hidden["room"]) == 4404
    assert await refusal_code(outsider, hidden["missing"]) == 4404
