"""The REST twin: send, history paging, edit, delete, read markers, Redis outage."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from community.chat.models import Message, MessageEdit
from community.chat.services import send_message
from community.rooms.models import Membership
from tests.support.accounts import client_for


@pytest.fixture
def room_setup(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    guest_membership = make_member(room, guest, nickname="Guest")
    return room, host, guest, guest_membership


def url(room) -> str:
    return f"/api/v1/rooms/{room.pk}/messages/"


@pytest.mark.django_db(transaction=True)
def test_post_stores_and_returns_the_message_payload(room_setup):
    room, _host, guest, membership = room_setup
    response = client_for(guest).post(url(room), {"body": " hello ", "client_id": "c1"})
    assert response.status_code == 201, response.json()
    payload = response.json()
    assert payload["body"] == "hello"
    assert payload["seq"] == 1
    assert payload["author"] == {
        "membership_id": membership.pk,
        "nickname": "Guest",
        "avatar": None,
        "role": "member",
        "profile_url": None,  # an open profile never links to the account
    }
    assert payload["reactions"] == []
    assert payload["media"] is None
    # The open profile never leaks who the member is.
    text = response.content.decode()
    assert guest.username not in text
    assert '"user_id"' not in text
    assert "handle" not in text

    again = client_for(guest).post(url(room), {"body": "hello", "client_id": "c1"})
    assert again.status_code == 200
    assert again.json() == payload
    assert Message.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "   "}, "body"),
        ({"body": "x" * 4001}, "body"),
        ({}, "body"),
        ({"body": "hi", "client_id": "x" * 65}, "client_id"),
        ({"body": "hi", "reply_to": 999999}, "reply_to"),
    ],
)
def test_post_rejects_bad_input_with_the_error_shape(room_setup, body, field):
    room, _host, guest, _membership = room_setup
    response = client_for(guest).post(url(room), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"]
    assert field in error["fields"]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_non_members_and_banned_members_cannot_post_or_read(room_setup, make_user):
    room, _host, guest, membership = room_setup
    stranger = make_user("stranger")
    assert client_for(stranger).post(url(room), {"body": "hi"}).status_code == 403
    assert client_for(stranger).get(url(room)).status_code == 403
    assert APIClient().get(url(room)).status_code == 403
    assert APIClient().post(url(room), {"body": "hi"}).status_code in (401, 403)
    Membership.objects.filter(pk=membership.pk).update(state=Membership.State.BANNED)
    response = client_for(guest).post(url(room), {"body": "hi"})
    assert response.status_code == 403
    assert client_for(guest).get(url(room)).status_code == 403
    assert client_for(guest).get("/api/v1/rooms/999999/messages/").status_code == 404
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_web_public_rooms_are_readable_without_an_account(room_setup):
    room, *_ = room_setup
    room.is_web_public = True
    room.save(update_fields=["is_web_public"])
    response = APIClient().get(url(room))
    assert response.status_code == 200
    assert response.json()["last_read_seq"] is None


@pytest.mark.django_db
def test_history_pages_both_ways_by_seq(room_setup):
    room, _host, guest, membership = room_setup
    for number in range(1, 8):
        send_message(membership=membership, body=f"m{number}")
    client = client_for(guest)

    latest = client.get(url(room), {"limit": 3}).json()
    assert [m["seq"] for m in latest["results"]] == [5, 6, 7]
    assert latest["has_more"] is True
    assert latest["last_seq"] == 7

    back = client.get(url(room), {"before": 5, "limit": 3}).json()
    assert [m["seq"] for m in back["results"]] == [2, 3, 4]
    assert back["has_more"] is True
    first = client.get(url(room), {"before": 2, "limit": 3}).json()
    assert [m["seq"] for m in first["results"]] == [1]
    assert first["has_more"] is False

    forward = client.get(url(room), {"after": 2, "limit": 3}).json()
    assert [m["seq"] for m in forward["results"]] == [3, 4, 5]
    assert forward["has_more"] is True
    rest = client.get(url(room), {"after": 5, "limit": 3}).json()
    assert [m["seq"] for m in rest["results"]] == [6, 7]
    assert rest["has_more"] is False

    assert client.get(url(room), {"limit": 0}).status_code == 400
    assert client.get(url(room), {"after": "x"}).status_code == 400


@pytest.mark.django_db
def test_history_runs_a_fixed_number_of_queries(room_setup, make_user, make_member):
    room, _host, guest, membership = room_setup
    client = client_for(guest)

    def fill(count: int):
        others = [make_member(room, make_user()) for _ in range(3)]
        previous = None
        for number in range(count):
            author = ([*others, membership])[number % 4]
            previous = send_message(
                membership=author,
                body=f"m{number}",
                reply_to_id=previous.pk if previous else None,
            )

    fill(3)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(url(room)).json()["results"]) == 3
    fill(30)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get(url(room)).json()["results"]) == 33
    assert len(small) == len(large)
    # + up to 4 for the reaction summaries (community/reactions/selectors.py).
    assert len(large) <= 4 + 4


@pytest.mark.django_db(transaction=True)
def test_edit_keeps_history_and_only_the_author_edits(room_setup):
    _room, host, guest, membership = room_setup
    message = send_message(membership=membership, body="first")
    detail = f"/api/v1/messages/{message.pk}/"
    assert client_for(host).patch(detail, {"body": "hijack"}).status_code == 403
    response = client_for(guest).patch(detail, {"body": "second"})
    assert response.status_code == 200
    assert response.json()["body"] == "second"
    assert response.json()["edited_at"]
    client_for(guest).patch(detail, {"body": "third"})
    assert list(MessageEdit.objects.values_list("previous_body", flat=True)) == [
        "first",
        "second",
    ]
    assert client_for(guest).patch(detail, {"body": ""}).status_code == 400
    assert client_for(guest).patch("/api/v1/messages/999999/", {"body": "x"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_delete_by_author_or_host_leaves_a_tombstone(room_setup, make_user, make_member):
    room, host, guest, membership = room_setup
    other = make_user("other")
    make_member(room, other)
    mine = send_message(membership=membership, body="secret one")
    second = send_message(membership=membership, body="secret two")
    assert client_for(other).delete(f"/api/v1/messages/{mine.pk}/").status_code == 403
    assert client_for(guest).delete(f"/api/v1/messages/{mine.pk}/").status_code == 204
    assert client_for(host).delete(f"/api/v1/messages/{second.pk}/").status_code == 204
    history = client_for(other).get(url(room)).json()["results"]
    assert [(m["seq"], m["deleted"], m["body"]) for m in history] == [
        (1, True, ""),
        (2, True, ""),
    ]
    assert "secret" not in str(history)
    # A deleted message cannot be edited.
    response = client_for(guest).patch(f"/api/v1/messages/{mine.pk}/", {"body": "back"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_reply_preview_hides_deleted_content(room_setup):
    room, _host, guest, membership = room_setup
    original = send_message(membership=membership, body="original words")
    client = client_for(guest)
    reply = client.post(url(room), {"body": "a reply", "reply_to": original.pk}).json()
    assert reply["reply_to"]["body"] == "original words"
    assert reply["reply_to"]["author"]["nickname"] == "Guest"
    client.delete(f"/api/v1/messages/{original.pk}/")
    history = client.get(url(room)).json()["results"]
    assert history[1]["reply_to"] == {
        "id": original.pk,
        "seq": 1,
        "deleted": True,
        "body": "",
        "author": {"membership_id": membership.pk, "nickname": "Guest"},
        "collapsed": False,
    }


@pytest.mark.django_db
def test_rest_slow_mode_answers_429_with_retry_after(room_setup):
    room, _host, guest, _membership = room_setup
    room.slow_mode_seconds = 60
    room.save(update_fields=["slow_mode_seconds"])
    client = client_for(guest)
    assert client.post(url(room), {"body": "one"}).status_code == 201
    response = client.post(url(room), {"body": "two"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "slow_mode"
    assert 58 <= int(response["Retry-After"]) <= 60


@pytest.mark.django_db
def test_read_marker_over_rest(room_setup):
    room, host, guest, _membership = room_setup
    # Sent by the host: the guest's own messages would count as read already.
    host_membership = room.memberships.get(user=host)
    for number in range(4):
        send_message(membership=host_membership, body=f"{number}")
    client = client_for(guest)
    read_url = f"/api/v1/rooms/{room.pk}/read/"
    assert client.post(read_url, {"seq": 3}).json() == {"last_read_seq": 3}
    assert client.post(read_url, {"seq": 1}).json() == {"last_read_seq": 3}
    assert client.post(read_url, {"seq": 50}).json() == {"last_read_seq": 4}
    assert client.post(read_url, {"seq": -1}).status_code == 400


DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.django_db(transaction=True)
def test_rest_send_survives_a_dead_channel_layer(room_setup, caplog):
    """Redis down: the message is stored, the answer is 201, the failure is logged."""
    from channels.layers import channel_layers

    room, _host, guest, _membership = room_setup
    dead_layer = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [DEAD_REDIS]},
        }
    }
    with override_settings(CHANNEL_LAYERS=dead_layer):
        channel_layers.backends.clear()
        response = client_for(guest).post(url(room), {"body": "still stored", "client_id": "d1"})
    channel_layers.backends.clear()
    assert response.status_code == 201
    assert Message.objects.get(client_id="d1").body == "still stored"
    assert "channel layer unavailable" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_rest_send_survives_redis_down_for_the_cache_too(room_setup):
    """The whole Redis gone (channel layer, cache, throttles, rate limit): still 201."""
    from channels.layers import channel_layers

    room, _host, guest, _membership = room_setup
    dead = {
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [DEAD_REDIS]},
            }
        },
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": DEAD_REDIS,
            }
        },
    }
    with override_settings(**dead):
        channel_layers.backends.clear()
        client = client_for(guest)
        response = client.post(url(room), {"body": "outage", "client_id": "d2"})
        history = client.get(url(room))
    channel_layers.backends.clear()
    assert response.status_code == 201
    assert history.status_code == 200
    assert [m["body"] for m in history.json()["results"]] == ["outage"]


@pytest.mark.django_db
def test_system_messages_have_no_author(room_setup):
    from community.chat.services import send_system_message

    room, _host, guest, _membership = room_setup
    send_system_message(room_id=room.pk, body="The room was renamed.")
    (message,) = client_for(guest).get(url(room)).json()["results"]
    assert message["kind"] == "system"
    assert message["author"] is None
    assert message["body"] == "The room was renamed."


@pytest.mark.django_db
def test_authors_with_their_main_profile_link_to_it_open_profiles_never(
    room_setup, make_user, make_member
):
    room, _host, guest, guest_membership = room_setup
    shown = make_member(room, make_user("shown"), nickname="Shown", is_open_profile=False)
    send_message(membership=shown, body="hello, it's me")
    send_message(membership=guest_membership, body="just a nickname")
    history = client_for(guest).get(url(room)).json()["results"]
    links = {m["author"]["nickname"]: m["author"]["profile_url"] for m in history}
    assert links == {"Shown": f"/u/{shown.user.profile.handle}/", "Guest": None}
    # A closed account links nowhere.
    shown.user.is_active = False
    shown.user.save(update_fields=["is_active"])
    history = client_for(guest).get(url(room)).json()["results"]
    assert {m["author"]["profile_url"] for m in history} == {None}
