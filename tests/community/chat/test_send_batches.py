"""Group commit of a busy room's socket sends (config/db_lanes.py ``in_lane_batch``,
``community.chat.services.check_send_messages``), over the real ASGI stack: the sends
that wait while the room's lane is busy share one transaction, keep their order, and
each is answered as it would be on its own."""

import asyncio
import threading
import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone

from community.chat import consumers, services
from community.chat.models import Message
from community.rooms.models import Membership
from config import db_lanes
from tests.community.chat_support import next_event, no_event, ready_socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


@pytest.fixture
def busy_room(make_user, make_room, make_member):
    """A room, its host, and three guests (the third reads Korean)."""
    host = make_user("batchhost")
    room = make_room(owner=host)
    guests = [make_user(f"batchguest{i}") for i in range(2)]
    guests.append(make_user("batchguestko", locale="ko"))
    for index, guest in enumerate(guests):
        make_member(room, guest, nickname=f"Guest {index}")
    return room, host, guests


class HeldLane:
    """The room's lane, busy until released: sends made meanwhile wait together."""

    def __init__(self, room_id: int):
        self.room_id = room_id
        self.release = threading.Event()

    async def __aenter__(self):
        self.busy = asyncio.ensure_future(db_lanes.in_lane(self.room_id, self.release.wait)(10))
        return self

    async def waiting(self, count: int) -> None:
        """Until exactly ``count`` sends wait for the lane's next batch (0: the batch on
        the lane took every send made so far)."""
        loop = asyncio.get_running_loop()
        for _ in range(200):
            queue = db_lanes._waiting.get(loop, {}).get((consumers._send_frames, self.room_id))
            if queue is not None and len(queue) == count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{count} sends never waited for the lane")

    async def __aexit__(self, *exc):
        self.release.set()
        await self.busy


def _transactions(bodies: list[str]) -> list[int]:
    """Each message's inserting transaction (PostgreSQL's ``xmin``), by body."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT body, xmin::text::bigint FROM {Message._meta.db_table} WHERE body = ANY(%s)",
            [bodies],
        )
        found = dict(cursor.fetchall())
    return [found[body] for body in bodies]


def _rate_count(user) -> int:
    """The member's count against CHAT_SEND_RATE in the current window."""
    window = settings.CHAT_SEND_RATE[1]
    start = int(time.time() // window) * window
    return int(cache.get(f"chat-rate:{user.pk}:{start}") or 0)


def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("transaction ids (xmin) are PostgreSQL's")


async def _sockets(room, *users):
    return [(await ready_socket(user, room.pk))[0] for user in users]


async def test_sends_waiting_for_the_lane_commit_together_in_order(busy_room):
    _needs_postgres()
    room, host, guests = busy_room
    watcher, *senders = await _sockets(room, host, *guests)
    async with HeldLane(room.pk) as lane:
        # The first send goes to the lane at once (a batch of one) and waits there;
        # the next three wait for the lane together.
        await watcher.send_json_to({"type": "message.send", "body": "first alone"})
        await lane.waiting(0)
        for index, socket in enumerate(senders):
            await socket.send_json_to({"type": "message.send", "body": f"together {index}"})
        await lane.waiting(3)
    bodies = ["first alone", "together 0", "together 1", "together 2"]
    seen = [await next_event(watcher, "message.created", "read.updated") for _ in range(5)]
    # The batch's read counts (its senders had not read "first alone") come after every
    # message they count, as they would after each message sent alone.
    assert [event["type"] for event in seen] == ["message.created"] * 4 + ["read.updated"]
    delivered = [event["message"] for event in seen[:4]]
    assert [m["body"] for m in delivered] == bodies
    seqs = [m["seq"] for m in delivered]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    first, *together = await database_sync_to_async(_transactions)(bodies)
    assert len(set(together)) == 1
    assert first not in together
    for socket in [watcher, *senders]:
        await socket.disconnect()


async def test_a_refused_send_in_a_batch_is_answered_alone_in_its_language(busy_room):
    room, host, guests = busy_room
    watcher, *senders = await _sockets(room, host, *guests)
    korean = guests[2]
    # Muted after the socket opened: the batch's own read of the member refuses it.
    await database_sync_to_async(Membership.objects.filter(room=room, user=korean).update)(
        muted_until=timezone.now() + timezone.timedelta(minutes=5)
    )
    async with HeldLane(room.pk) as lane:
        await watcher.send_json_to({"type": "message.send", "body": "host first"})
        await lane.waiting(0)
        await senders[0].send_json_to({"type": "message.send", "body": "before"})
        await senders[2].send_json_to({"type": "message.send", "body": "muted", "ref": 7})
        await senders[1].send_json_to({"type": "message.send", "body": "after"})
        await lane.waiting(3)
    error = await next_event(senders[2], "error")
    assert (error["code"], error["ref"]) == ("muted", 7)
    assert error["message"] == "이 방에서 음소거된 상태예요."
    delivered = [(await next_event(watcher, "message.created"))["message"] for _ in range(3)]
    assert [m["body"] for m in delivered] == ["host first", "before", "after"]
    assert delivered[2]["seq"] == delivered[1]["seq"] + 1
    await no_event(watcher, "message.created")
    assert not await database_sync_to_async(Message.objects.filter(body="muted").exists)()
    for socket in [watcher, *senders]:
        await socket.disconnect()


async def test_a_failing_send_rolls_its_batch_back_and_each_is_sent_alone(busy_room, monkeypatch):
    """A database error in one send of a batch (here: after its message row is written)
    leaves no trace of it; the others are sent, each in its own transaction."""
    room, host, guests = busy_room
    watcher, *senders = await _sockets(room, host, *guests)
    record_mentions = services.record_message_mentions

    def failing_for_boom(*, message):
        if message.body == "boom":
            raise DatabaseError("the disk is full")
        return record_mentions(message=message)

    monkeypatch.setattr(services, "record_message_mentions", failing_for_boom)
    async with HeldLane(room.pk) as lane:
        await watcher.send_json_to({"type": "message.send", "body": "host first"})
        await lane.waiting(0)
        await senders[0].send_json_to({"type": "message.send", "body": "fine 1"})
        await senders[1].send_json_to({"type": "message.send", "body": "boom", "ref": "b"})
        await senders[2].send_json_to({"type": "message.send", "body": "fine 2"})
        await lane.waiting(3)
    error = await next_event(senders[1], "error")
    assert (error["code"], error["ref"]) == ("try_again", "b")
    delivered = [(await next_event(watcher, "message.created"))["message"] for _ in range(3)]
    assert [m["body"] for m in delivered] == ["host first", "fine 1", "fine 2"]
    assert delivered[2]["seq"] == delivered[1]["seq"] + 1  # the rolled-back seq is reused
    assert not await database_sync_to_async(Message.objects.filter(body="boom").exists)()
    if connection.vendor == "postgresql":
        fine = await database_sync_to_async(_transactions)(["fine 1", "fine 2"])
        assert fine[0] != fine[1]
    for socket in [watcher, *senders]:
        await socket.disconnect()


async def test_one_client_id_twice_in_a_batch_is_sent_once(busy_room):
    """The same member's two sockets (a reconnect resending what the old socket sent)
    send one client_id in one batch: one message; the second socket gets it back."""
    room, host, guests = busy_room
    watcher, old, new = await _sockets(room, host, guests[0], guests[0])
    async with HeldLane(room.pk) as lane:
        await watcher.send_json_to({"type": "message.send", "body": "host first"})
        await lane.waiting(0)
        frame = {"type": "message.send", "body": "once", "client_id": "c-1"}
        await old.send_json_to(frame)
        await new.send_json_to(frame)
        await lane.waiting(2)
    assert (await next_event(watcher, "message.created"))["message"]["body"] == "host first"
    once = (await next_event(watcher, "message.created"))["message"]
    assert once["body"] == "once"
    await no_event(watcher, "message.created")
    # The room's broadcast, then the retry's own copy of the stored message.
    seen = [(await next_event(new, "message.created"))["message"] for _ in range(3)]
    assert [m["id"] for m in seen if m["body"] == "once"] == [once["id"], once["id"]]
    count = database_sync_to_async(Message.objects.filter(client_id="c-1").count)
    assert await count() == 1
    # The retry was counted with the batch, then given back: one send against the limit.
    assert await database_sync_to_async(_rate_count)(guests[0]) == 1
    for socket in [watcher, old, new]:
        await socket.disconnect()


async def test_each_send_of_a_batch_counts_against_the_rate_limit(busy_room, settings):
    settings.CHAT_SEND_RATE = (2, 60)
    room, host, guests = busy_room
    watcher, *sockets = await _sockets(room, host, guests[1], guests[1], guests[1])
    async with HeldLane(room.pk) as lane:
        await watcher.send_json_to({"type": "message.send", "body": "host first"})
        await lane.waiting(0)
        for index, socket in enumerate(sockets):
            await socket.send_json_to({"type": "message.send", "body": f"n{index}", "ref": index})
        await lane.waiting(3)
    error = await next_event(sockets[2], "error")
    assert (error["code"], error["ref"]) == ("rate_limited", 2)
    assert 1 <= error["retry_after"] <= 60
    bodies = [(await next_event(watcher, "message.created"))["message"]["body"] for _ in range(3)]
    assert bodies == ["host first", "n0", "n1"]
    assert await database_sync_to_async(_rate_count)(guests[1]) == 3
    for socket in [watcher, *sockets]:
        await socket.disconnect()
