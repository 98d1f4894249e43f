"""Read counts (KakaoTalk's "1"): each message's ``unread_count`` in the one payload
(REST history, sends, sockets) and ``read.updated`` as members read."""

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from community.chat.services import send_message, send_system_message
from community.reads import tasks as reads_tasks
from community.rooms.models import Membership
from community.rooms.services import leave_room
from tests.community.chat_support import next_event, no_event, ready_socket


@pytest.fixture
def trio(make_user, make_room, make_member):
    """``(room, host, ann, bo)``: a room its host opened, two members joined."""
    host = make_user("host")
    room = make_room(owner=host)
    ann, bo = make_user("ann"), make_user("bob")
    make_member(room, ann, nickname="Ann")
    make_member(room, bo, nickname="Bo")
    return room, host, ann, bo


def _membership(room, user) -> Membership:
    return Membership.objects.get(room=room, user=user, state=Membership.State.ACTIVE)


def _room_with_unread(trio, make_user, make_member, *, extra_readers: int):
    """The trio's room with more readers, and as many messages from the host as there
    are readers, none of them read yet: (room, readers)."""
    room, host, ann, bo = trio
    readers = [ann, bo] + [make_user(f"reader{n}") for n in range(extra_readers)]
    for reader in readers[2:]:
        make_member(room, reader)
    membership = _membership(room, host)
    for number in range(len(readers)):
        send_message(membership=membership, body=f"m{number}")
    return room, readers


def _counts(client, room) -> dict[int, int | None]:
    response = client.get(f"/api/v1/rooms/{room.pk}/messages/")
    assert response.status_code == 200
    return {message["seq"]: message["unread_count"] for message in response.json()["results"]}


def _read(client, room, seq: int) -> None:
    response = client.post(f"/api/v1/rooms/{room.pk}/read/", {"seq": seq}, format="json")
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_counts_go_down_as_members_read_and_the_author_never_counts(trio, client_for):
    room, host, ann, bo = trio
    as_host, as_ann, as_bo = client_for(host), client_for(ann), client_for(bo)
    sent = as_host.post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "one"}, format="json")
    assert sent.status_code == 201
    assert sent.json()["unread_count"] == 2  # Ann and Bo; never the author
    for body in ("two", "three"):
        send_message(membership=_membership(room, host), body=body)
    assert _counts(as_ann, room) == {1: 2, 2: 2, 3: 2}

    _read(as_ann, room, 2)
    assert _counts(as_host, room) == {1: 1, 2: 1, 3: 2}
    # Ann answers: sending reads everything before, so "three" is read by her too.
    send_message(membership=_membership(room, ann), body="four")
    assert _counts(as_host, room) == {1: 1, 2: 1, 3: 1, 4: 2}
    _read(as_bo, room, 4)
    assert _counts(as_bo, room) == {1: 0, 2: 0, 3: 0, 4: 1}


@pytest.mark.django_db
def test_joining_later_leaves_counts_alone_and_leaving_lowers_them(
    trio, client_for, make_user, make_member
):
    room, host, _ann, bo = trio
    send_message(membership=_membership(room, host), body="before")
    make_member(room, make_user("late"), nickname="Late")
    assert _counts(client_for(host), room) == {1: 2}  # the newcomer was not there
    send_message(membership=_membership(room, host), body="after")
    assert _counts(client_for(host), room) == {1: 2, 2: 3}
    leave_room(room_id=room.pk, user=bo)
    assert _counts(client_for(host), room) == {1: 1, 2: 2}


@pytest.mark.django_db
def test_system_and_deleted_messages_have_no_count(trio, client_for):
    room, host, ann, _bo = trio
    send_system_message(room_id=room.pk, body="Welcome")
    message = send_message(membership=_membership(room, ann), body="oops")
    response = client_for(ann).delete(f"/api/v1/messages/{message.pk}/")
    assert response.status_code == 204
    assert _counts(client_for(host), room) == {1: None, 2: None}


@pytest.mark.django_db
def test_rooms_over_the_cap_show_no_counts(trio, client_for):
    room, host, _ann, _bo = trio
    send_message(membership=_membership(room, host), body="hello")
    with override_settings(READ_COUNTS_MAX_MEMBERS=2):  # the room has three
        assert _counts(client_for(host), room) == {1: None}
        sent = client_for(host).post(
            f"/api/v1/rooms/{room.pk}/messages/", {"body": "more"}, format="json"
        )
        assert sent.json()["unread_count"] is None
    with override_settings(READ_COUNTS_MAX_MEMBERS=3):
        assert _counts(client_for(host), room) == {1: 2, 2: 2}


@pytest.mark.django_db
def test_history_pages_count_in_constant_queries(trio, client_for):
    room, host, ann, _bo = trio
    membership = _membership(room, host)
    client = client_for(ann)
    send_message(membership=membership, body="first")
    with CaptureQueriesContext(connection) as small:
        assert len(_counts(client, room)) == 1
    for number in range(30):
        send_message(membership=membership, body=f"more {number}")
    _read(client, room, 12)
    with CaptureQueriesContext(connection) as large:
        counts = _counts(client, room)
    assert len(counts) == 31 and counts[12] == 1 and counts[13] == 2
    assert len(small) == len(large)


@pytest.mark.django_db
def test_counts_never_name_a_reader(trio, client_for):
    room, host, ann, _bo = trio
    send_message(membership=_membership(room, host), body="hi")
    _read(client_for(ann), room, 1)
    page = client_for(host).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"][0]
    assert set(page) & {"read_by", "readers", "unread_by"} == set()
    assert "Ann" not in str(page) and ann.username not in str(page)


# --- live: read.updated -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
@override_settings(READ_COUNTS_BROADCAST_SECONDS=0)
async def test_a_read_frame_sends_the_room_the_new_counts(trio):
    room, host, ann, _bo = trio
    membership = await database_sync_to_async(_membership)(room, host)
    for body in ("one", "two", "three"):
        await database_sync_to_async(send_message)(membership=membership, body=body)
    host_socket, _ = await ready_socket(host, room.pk)
    ann_socket, _ = await ready_socket(ann, room.pk)

    await ann_socket.send_json_to({"type": "read", "seq": 2})
    await next_event(ann_socket, "read.ok")
    event = await next_event(host_socket, "read.updated")
    assert event == {
        "type": "read.updated",
        "room_id": room.pk,
        "from_seq": 1,
        "to_seq": 3,
        "unread": [[1, 1], [3, 2]],  # 1 and 2: one left (Bo); 3: both
    }
    # Reading again to the same place moves nothing: no event.
    await ann_socket.send_json_to({"type": "read", "seq": 2})
    await next_event(ann_socket, "read.ok")
    await no_event(host_socket, "read.updated")
    for socket in (host_socket, ann_socket):
        await socket.disconnect()


@pytest.mark.django_db
@override_settings(READ_COUNTS_BROADCAST_SECONDS=5)
def test_many_reads_in_a_window_make_one_event_and_one_trailing_flush(
    trio, client_for, make_user, make_member, monkeypatch, django_capture_on_commit_callbacks
):
    """A busy room does not broadcast per read: the first read is announced at once, the
    rest of the window are folded into one trailing announcement."""
    room, readers = _room_with_unread(trio, make_user, make_member, extra_readers=4)

    announced, queued = [], []
    monkeypatch.setattr(
        "community.reads.services.events.send_now",
        lambda group, *sent: announced.extend((group, event) for event in sent) or True,
    )
    monkeypatch.setattr(
        reads_tasks.announce_read_counts,
        "apply_async",
        lambda kwargs, countdown: queued.append((kwargs, countdown)),
    )
    for seq, reader in enumerate(readers, start=1):
        with django_capture_on_commit_callbacks(execute=True):  # a request, a transaction
            _read(client_for(reader), room, seq)
    assert len(announced) == 1
    assert queued == [({"room_id": room.pk}, 5)]
    # The trailing flush (the queued task) reads the counts as they are when it runs.
    assert reads_tasks.announce_read_counts(room_id=room.pk) is True
    group, event = announced[-1]
    assert group == f"room.{room.pk}"
    assert event["unread"] == [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 5]]


@pytest.mark.django_db
@override_settings(READ_COUNTS_BROADCAST_SECONDS=0, READ_COUNTS_MAX_MEMBERS=2)
def test_rooms_over_the_cap_get_no_read_events(trio, client_for, monkeypatch):
    room, host, ann, _bo = trio
    send_message(membership=_membership(room, host), body="hello")
    announced = []
    monkeypatch.setattr(
        "community.reads.services.events.send_now", lambda group, *sent: announced.append(sent)
    )
    _read(client_for(ann), room, 1)
    assert announced == []


@pytest.mark.django_db
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")
@override_settings(READ_COUNTS_BROADCAST_SECONDS=5)
def test_the_throttle_costs_one_redis_command_per_read(
    trio, client_for, make_user, make_member, monkeypatch, django_capture_on_commit_callbacks
):
    """Every send of a member who was behind moves their marker: the throttle that folds
    those moves asks Redis once per move, whether it leads, queues or folds."""
    room, readers = _room_with_unread(trio, make_user, make_member, extra_readers=3)
    monkeypatch.setattr("community.reads.services.events.send_now", lambda *args: True)
    monkeypatch.setattr(
        reads_tasks.announce_read_counts, "apply_async", lambda kwargs, countdown: None
    )
    throttle_commands = []
    execute = redis.Redis.execute_command

    def counting(client, *args, **options):
        # The throttle's keys (reads:announced:, reads:trailing:), not the reads version.
        if any(
            isinstance(arg, str) and (":reads:announced:" in arg or ":reads:trailing:" in arg)
            for arg in args
        ):
            throttle_commands.append(args[0])
        return execute(client, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    for seq, reader in enumerate(readers, start=1):
        with django_capture_on_commit_callbacks(execute=True):  # a request, a transaction
            _read(client_for(reader), room, seq)
    assert len(throttle_commands) == len(readers)
