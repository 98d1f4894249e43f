"""Unread counts: per room, in total, mentions apart, my rooms list, concurrency."""

import threading

import pytest
from django.db import connection

from community.chat.services import mark_read, send_message
from community.notifications.services import set_room_notification_level
from community.rooms.models import Membership, Room
from tests.support.accounts import client_for

# Session, user, the list, three totals.
PAGE_QUERIES = 7


def my_rooms(user) -> dict[int, dict]:
    response = client_for(user).get("/api/v1/me/rooms/")
    assert response.status_code == 200
    return {row["room"]["id"]: row for row in response.json()["results"]}


@pytest.mark.django_db
def test_unread_counts_per_room_in_total_and_mentions_apart(make_user, make_room, make_member):
    reader, talker = make_user("reader"), make_user("talker")
    rooms = [make_room(owner=talker, title=f"Room {n}") for n in range(2)]
    readers = [make_member(room, reader, nickname="Reader") for room in rooms]
    talkers = [Membership.objects.get(room=room, user=talker) for room in rooms]
    for number in range(5):
        send_message(membership=talkers[0], body=f"hello {number}")
    send_message(membership=talkers[0], body="@reader are you there?")
    send_message(membership=talkers[1], body="one")
    # The reader's own message marks the room read up to it: own messages never count.
    send_message(membership=readers[1], body="mine")
    send_message(membership=talkers[1], body="two")

    rows = my_rooms(reader)
    assert (rows[rooms[0].pk]["unread"], rows[rooms[0].pk]["unread_mentions"]) == (6, 1)
    assert (rows[rooms[1].pk]["unread"], rows[rooms[1].pk]["unread_mentions"]) == (1, 0)
    counts = client_for(reader).get("/api/v1/me/unread/").json()
    assert counts == {"messages": 7, "mentions": 1, "notifications": 1}

    mark_read(membership=readers[0], seq=5)  # the mention (seq 6) stays unread
    assert my_rooms(reader)[rooms[0].pk]["unread_mentions"] == 1
    assert client_for(reader).post(f"/api/v1/rooms/{rooms[0].pk}/read/", {"seq": 6}).json() == {
        "last_read_seq": 6
    }
    counts = client_for(reader).get("/api/v1/me/unread/").json()
    # Reading past the mention read its notification too.
    assert (counts["messages"], counts["mentions"], counts["notifications"]) == (1, 0, 0)

    # Mentions-only and muted rooms leave the message total; muted drops mentions too.
    set_room_notification_level(user=reader, room_id=rooms[1].pk, level="mentions")
    assert client_for(reader).get("/api/v1/me/unread/").json()["messages"] == 0
    assert my_rooms(reader)[rooms[1].pk]["notification_level"] == "mentions"
    response = client_for(reader).put(
        f"/api/v1/rooms/{rooms[1].pk}/notifications/", {"level": "loud"}, format="json"
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_my_rooms_query_count_is_fixed(
    make_user, make_room, make_member, django_assert_max_num_queries
):
    reader, talker = make_user("reader"), make_user("talker")

    def add_rooms(count):
        for number in range(count):
            room = make_room(owner=talker, title=f"R{number}")
            make_member(room, reader, nickname="Reader")
            send_message(membership=Membership.objects.get(room=room, user=talker), body="@Reader")

    client = client_for(reader)
    browser = client_for(reader, session=True)
    add_rooms(3)
    with django_assert_max_num_queries(3):
        assert len(client.get("/api/v1/me/rooms/").json()["results"]) == 3
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert browser.get("/me/rooms/").status_code == 200
    add_rooms(27)
    with django_assert_max_num_queries(3):
        rows = client.get("/api/v1/me/rooms/?limit=100").json()["results"]
    assert len(rows) == 30
    assert all(row["unread_mentions"] == 1 for row in rows)
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert browser.get("/me/rooms/").content.decode().count("my-room-row") == 30


@pytest.mark.django_db
def test_my_rooms_page_shows_counts_and_title(make_user, make_room, make_member):
    reader, talker = make_user("reader"), make_user("talker")
    room = make_room(owner=talker, title="Late night jazz")
    make_member(room, reader, nickname="Reader")
    talker_membership = Membership.objects.get(room=room, user=talker)
    send_message(membership=talker_membership, body="hi")
    send_message(membership=talker_membership, body="hi @Reader")
    browser = client_for(reader, session=True)
    page = browser.get("/me/rooms/").content.decode()
    assert "<title>(2) My rooms · Moim</title>" in page
    assert '<span class="mention-count"' in page
    response = browser.post(f"/me/rooms/{room.pk}/level/", {"level": "muted"})
    assert response.status_code == 302
    assert my_rooms(reader)[room.pk]["notification_level"] == "muted"
    # Another user's room is not theirs to configure.
    assert browser.post("/me/rooms/99999/level/", {"level": "muted"}).status_code == 404


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_unread_arithmetic_under_concurrent_sends(make_user, make_room, make_member):
    """Eight senders and a reader marking as it goes: the counts stay exact."""
    reader = make_user("reader")
    owner = make_user("owner")
    room = make_room(owner=owner)
    reader_membership = make_member(room, reader, nickname="Reader")
    senders = [make_member(room, make_user(f"sender{n}"), nickname=f"S{n}") for n in range(8)]
    per_sender = 10
    errors = []

    def send_all(membership):
        try:
            for number in range(per_sender):
                send_message(membership=membership, body=f"@Reader {number}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def read_along():
        try:
            for _ in range(20):
                seq = Room.objects.get(pk=room.pk).last_message_seq
                mark_read(membership=reader_membership, seq=seq // 2)
        finally:
            connection.close()

    threads = [threading.Thread(target=send_all, args=(m,)) for m in senders]
    threads.append(threading.Thread(target=read_along))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = len(senders) * per_sender
    room.refresh_from_db()
    assert room.last_message_seq == total
    reader_membership.refresh_from_db()
    row = my_rooms(reader)[room.pk]
    assert row["unread"] == total - reader_membership.last_read_seq
    assert row["unread_mentions"] == total - reader_membership.last_read_seq
    counts = client_for(reader).get("/api/v1/me/unread/").json()
    assert counts["messages"] == row["unread"]
    # Every message mentions the reader; those read along have been read.
    assert counts["notifications"] == total - reader_membership.last_read_seq
    mark_read(membership=reader_membership, seq=total)
    assert my_rooms(reader)[room.pk]["unread"] == 0
    # A sender's own messages never count for them.
    assert my_rooms(senders[0].user)[room.pk]["unread"] <= total - per_sender


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_each_reader_gets_their_own_totals_from_concurrent_requests(
    make_user, make_room, make_member
):
    """The totals' query is compiled once per process and shared by its threads: each
    request still answers with its own user's totals."""
    talker = make_user("talker")
    room = make_room(owner=talker)
    readers = [make_user(f"reader{n}") for n in range(4)]
    memberships = [make_member(room, reader, nickname=f"R{n}") for n, reader in enumerate(readers)]
    for number in range(6):
        send_message(membership=Membership.objects.get(room=room, user=talker), body=f"m{number}")
    for seq, membership in enumerate(memberships):
        mark_read(membership=membership, seq=seq)  # reader n has 6 - n unread
    expected = {reader.pk: 6 - n for n, reader in enumerate(readers)}
    clients = {reader.pk: client_for(reader) for reader in readers}
    barrier = threading.Barrier(8)
    answers, errors = [], []

    def ask(user_id: int) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                body = clients[user_id].get("/api/v1/me/unread/").json()
                answers.append((user_id, body["messages"]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(readers[n % 4].pk,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(answers) == 40
    assert all(messages == expected[user_id] for user_id, messages in answers), answers
    # Someone with no rooms and no notifications: zeros, not someone else's row.
    loner = make_user("loner")
    assert client_for(loner).get("/api/v1/me/unread/").json() == {
        "messages": 0,
        "mentions": 0,
        "notifications": 0,
    }
