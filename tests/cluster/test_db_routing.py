"""Read-only paths read the replica; a client that just wrote reads the primary."""

import time

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from community.chat.services import send_message
from config.db_routing import READ_PRIMARY_COOKIE
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture
def room_setup(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    membership = make_member(room, guest, nickname="Guest")
    send_message(membership=membership, body="earlier", client_id="e1")
    cache.clear()  # the setup's send marked the guest as a recent writer; start unmarked
    return room, host, guest


def history(room) -> str:
    return f"/api/v1/rooms/{room.pk}/messages/"


def get_counting(client, url, **extra):
    """The response, and the SQL run on the primary and on the replica."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        response = client.get(url, **extra)
    return response, [q["sql"] for q in primary], [q["sql"] for q in replica]


def reads_messages(queries) -> bool:
    return any('FROM "community_message"' in sql for sql in queries)


def test_history_discover_and_profiles_read_the_replica(replica, room_setup):
    room, host, _guest = room_setup
    client = client_for(host)
    for url in (history(room), "/api/v1/rooms/", f"/api/v1/users/{host.profile.handle}/"):
        response, primary, replicated = get_counting(client, url)
        assert response.status_code == 200, (url, response.content[:300])
        assert replicated, f"{url} read nothing from the replica"
        assert not primary, f"{url} read the primary: {primary}"
    response, primary, replicated = get_counting(client, history(room))
    assert [m["body"] for m in response.json()["results"]] == ["earlier"]
    assert reads_messages(replicated) and not reads_messages(primary)


def test_other_paths_and_unsafe_methods_stay_on_the_primary(replica, room_setup):
    _room, host, _guest = room_setup
    response, primary, replicated = get_counting(client_for(host), "/api/v1/me/")
    assert response.status_code == 200
    assert primary and not replicated


def test_a_writer_reads_the_primary_for_the_window(replica, room_setup):
    room, _host, guest = room_setup
    client = client_for(guest)
    sent = client.post(history(room), {"body": "mine", "client_id": "m1"})
    assert sent.status_code == 201
    assert READ_PRIMARY_COOKIE in sent.cookies

    response, primary, replicated = get_counting(client, history(room))
    assert [m["body"] for m in response.json()["results"]][-1] == "mine"
    assert reads_messages(primary) and not reads_messages(replicated)

    # Another client of the same user (no cookie) is covered by the per-user mark: the
    # page comes from the primary, or from the room's cached page, which only a read of
    # the primary stores (community.chat.selectors.history_page), never the replica.
    response, primary, replicated = get_counting(client_for(guest), history(room))
    assert [m["body"] for m in response.json()["results"]][-1] == "mine"
    assert not reads_messages(replicated)


def test_the_cookie_alone_keeps_the_primary(replica, room_setup):
    room, _host, guest = room_setup
    client = client_for(guest)
    assert client.post(history(room), {"body": "mine", "client_id": "m2"}).status_code == 201
    cache.clear()  # the per-user mark gone (a cache restart): the signed cookie still holds
    _response, primary, replicated = get_counting(client, history(room))
    assert reads_messages(primary) and not reads_messages(replicated)


def test_a_forged_cookie_is_ignored(replica, room_setup):
    room, host, _guest = room_setup
    client = client_for(host)
    client.cookies[READ_PRIMARY_COOKIE] = "1"
    _response, primary, replicated = get_counting(client, history(room))
    assert reads_messages(replicated) and not reads_messages(primary)


def test_the_request_may_ask_for_the_primary(replica, room_setup):
    room, host, _guest = room_setup
    _response, primary, replicated = get_counting(
        client_for(host), history(room), HTTP_X_MOIM_READ_PRIMARY="1"
    )
    assert reads_messages(primary) and not reads_messages(replicated)


def test_a_new_chat_message_marks_its_author_whatever_carried_it(replica, room_setup):
    # The socket consumer and the REST view share the send service: its new message
    # marks the author, whatever carried it.
    room, _host, guest = room_setup
    membership = guest.memberships.get(room=room)
    send_message(membership=membership, body="over the socket", client_id="s1")
    _response, primary, replicated = get_counting(client_for(guest), history(room))
    assert reads_messages(primary) and not reads_messages(replicated)


def test_a_send_marks_its_author_and_no_other_member(replica, room_setup):
    # On PostgreSQL the send is one statement with the model signals sent by hand: the
    # mark is the author's alone, as with the ORM's saves (the host, who only reads,
    # stays on the replica).
    room, host, guest = room_setup
    send_message(membership=guest.memberships.get(room=room), body="sent", client_id="s2")
    _response, primary, replicated = get_counting(client_for(host), history(room))
    assert reads_messages(replicated) and not reads_messages(primary)
    _response, primary, replicated = get_counting(client_for(guest), history(room))
    assert reads_messages(primary) and not reads_messages(replicated)


def test_joining_is_a_write_the_joiner_reads_the_primary_for_the_window(
    replica, room_setup, make_user
):
    # The cluster's replica-lag scenario has a member who never sends: its join still
    # marks it, so the scenario waits the window out before expecting replica reads.
    room, _host, _guest = room_setup
    reader = make_user("reader")
    client = client_for(reader)
    joined = client.post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Reader"}, format="json")
    assert joined.status_code == 201, joined.content[:300]
    _response, primary, replicated = get_counting(client, history(room))
    assert reads_messages(primary) and not reads_messages(replicated)
    # Without the cookie too (another client of the same user): the user's mark. Another
    # page window, or the page the first read stored would be served from the cache.
    url = history(room) + "?limit=2"
    _response, primary, replicated = get_counting(client_for(reader), url)
    assert reads_messages(primary) and not reads_messages(replicated)
    cache.clear()  # the window over (its mark gone; a new client has no cookie)
    _response, primary, replicated = get_counting(client_for(reader), history(room))
    assert reads_messages(replicated) and not reads_messages(primary)


@pytest.mark.slow
def test_after_the_window_the_writer_reads_the_replica_again(replica, settings, room_setup):
    settings.DATABASE_REPLICA_READ_PRIMARY_SECONDS = 1
    room, _host, guest = room_setup
    client = client_for(guest)
    assert client.post(history(room), {"body": "mine", "client_id": "m3"}).status_code == 201
    time.sleep(2.1)
    _response, primary, replicated = get_counting(client, history(room))
    assert reads_messages(replicated) and not reads_messages(primary)


def test_without_a_replica_everything_reads_the_primary(settings, room_setup):
    settings.DATABASE_REPLICA_ALIAS = ""
    room, host, _guest = room_setup
    client = client_for(host)
    sent = client.post(history(room), {"body": "x", "client_id": "n1"})
    assert READ_PRIMARY_COOKIE not in sent.cookies
    _response, primary, replicated = get_counting(client, history(room))
    assert reads_messages(primary) and not replicated


def test_migrations_never_target_the_replica(replica):
    from django.db import router

    assert router.allow_migrate("replica", "community") is False
    assert router.allow_migrate("default", "community") is True


def test_a_post_that_writes_nothing_leaves_reads_on_the_replica(replica, room_setup):
    # A socket ticket (cache only) is not a write: the client's reads stay on the replica.
    room, _host, guest = room_setup
    client = client_for(guest)
    ticket = client.post("/api/v1/realtime/ticket/")
    assert ticket.status_code in (200, 201)
    assert READ_PRIMARY_COOKIE not in ticket.cookies
    _response, primary, replicated = get_counting(client, history(room))
    assert reads_messages(replicated) and not reads_messages(primary)


def test_a_refused_write_leaves_reads_on_the_replica(replica, room_setup, make_user):
    room, _host, _guest = room_setup
    outsider = make_user("outsider")
    client = client_for(outsider)
    refused = client.post(history(room), {"body": "not a member", "client_id": "x1"})
    assert refused.status_code in (403, 404)
    assert READ_PRIMARY_COOKIE not in refused.cookies


def test_an_object_read_from_the_replica_is_saved_to_the_primary(replica, room_setup):
    from django.db import router

    from community.rooms.models import Room

    room, _host, _guest = room_setup
    from_replica = Room.objects.using("replica").get(pk=room.pk)
    assert from_replica._state.db == "replica"
    assert router.db_for_write(Room, instance=from_replica) == "default"


def test_a_token_is_checked_against_the_primary(replica, room_setup):
    # A user who just signed up may not be on the replica yet: their token's user is
    # looked up on the primary, and only the page itself reads the replica.
    from profiles.tokens import refresh_token_for

    room, host, _guest = room_setup
    client = APIClient()
    access = refresh_token_for(host).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response, primary, replicated = get_counting(client, history(room))
    assert response.status_code == 200
    assert any('FROM "profiles_user"' in sql for sql in primary), primary
    assert not any('FROM "profiles_user"' in sql for sql in replicated)
    assert reads_messages(replicated) and not reads_messages(primary)
