"""What one chat send costs the database, and the shortcuts that cost keeps honest: the
duplicate check and the "mark my mentions read" step ride on the member's read under
the room's lock, and the statements are compiled once per process."""

import pytest
from django.db import connection

from community.chat.models import Message
from community.chat.selectors import membership_for_user
from community.chat.services import check_send_message
from community.notifications.models import Notification

pytestmark = pytest.mark.django_db

# The socket's frame: the member (1), the room's screening rules come from the cache;
# then SAVEPOINT (a transaction in production), the room's lock, the member with their
# duplicate and unread-mention checks, then the seq, the message and the author's read
# marker (one statement on PostgreSQL, three elsewhere), RELEASE.
SEND_QUERIES = 6 if connection.vendor == "postgresql" else 8


@pytest.fixture
def chat(make_user, make_room, make_member):
    room = make_room(owner=make_user("costhost"))
    alice = make_member(room, make_user("costalice"), nickname="Alice")
    bob = make_member(room, make_user("costbob"), nickname="Bob")
    return room, alice, bob


def send(membership, body, client_id=""):
    fresh = membership_for_user(room_id=membership.room_id, user_id=membership.user_id)
    return check_send_message(membership=fresh, body=body, client_id=client_id)


def test_a_send_costs_a_fixed_number_of_statements(chat, django_assert_num_queries):
    _room, alice, bob = chat
    send(alice, "warm the rules cache")
    send(bob, "so alice is behind")
    with django_assert_num_queries(SEND_QUERIES):
        sent = send(alice, "hello", client_id="c-1")
    assert sent.created and sent.message.seq == 3
    assert sent.message.author_id == alice.pk


def test_a_retried_client_id_returns_the_stored_message(chat):
    room, alice, bob = chat
    first = send(alice, "hello", client_id="same")
    again = send(alice, "hello again", client_id="same")
    assert (again.created, again.message.pk, again.message.body) == (
        False,
        first.message.pk,
        "hello",
    )
    # Bob's client_id is his own.
    assert send(bob, "mine", client_id="same").created
    assert Message.objects.filter(room=room).count() == 2


def test_sending_marks_the_authors_mentions_read(chat):
    room, alice, bob = chat
    send(bob, "@Alice look")
    mention = Notification.objects.get(recipient_id=alice.user_id, room_id=room.pk)
    assert mention.read_at is None
    send(alice, "seen it")
    mention.refresh_from_db()
    assert mention.read_at is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement send")
def test_the_one_statement_send_sends_the_signals_the_orm_saves_send(chat, monkeypatch):
    """The statement sends the models' signals by hand: the same ones, with the same
    arguments and instance state, as the ORM's two saves (receivers renew the history
    cache, mark the author for read-your-own-writes, queue link previews)."""
    from django.db import connections
    from django.db.models.signals import post_save, pre_save

    _room, alice, bob = chat
    send(bob, "so alice is behind")

    def signals_of_a_send(body):
        seen = []

        def receiver(signal_name):
            def record(sender, instance, **kwargs):
                kwargs.pop("signal")
                kwargs["update_fields"] = kwargs.get("update_fields") and set(
                    kwargs["update_fields"]
                )
                state = (instance._state.db, instance._state.adding, instance.pk is not None)
                seen.append((signal_name, sender.__name__, kwargs, state))

            return record

        receivers = [(pre_save, receiver("pre_save")), (post_save, receiver("post_save"))]
        for signal, record in receivers:
            signal.connect(record, weak=False)
        try:
            sent = send(alice, body)
        finally:
            for signal, record in receivers:
                signal.disconnect(record)
        assert sent.created
        return [entry for entry in seen if entry[1] in ("Room", "Message")]

    one_statement = signals_of_a_send("one statement")
    send(bob, "alice behind again")
    # The ORM's writes: the path taken where the connection has no server-bound cursor.
    monkeypatch.delattr(type(connections["default"]), "server_bound_cursor")
    orm = signals_of_a_send("the ORM's saves")
    assert [entry[:2] for entry in one_statement] == [
        ("pre_save", "Room"),
        ("pre_save", "Message"),
        ("post_save", "Room"),
        ("post_save", "Message"),
    ]
    # The ORM sends Room's pre/post before Message's; the statement sends both pre_saves
    # first (it writes both at once): the same signals, each with the same arguments.
    assert sorted(one_statement, key=repr) == sorted(orm, key=repr)
