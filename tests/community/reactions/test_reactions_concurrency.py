"""Bursts of concurrent reactions on PostgreSQL: exact in the database and in the last event.

Real threads, each with its own database connection, hit the API at once (released by a
barrier); the events are read from the real channel layer (Redis when ``REDIS_URL`` is
set). 100 users react through a pool of ``BURST_THREADS`` threads, each user once: a
pool rather than 100 threads keeps the test within a shared server's connection limit
while still queueing dozens of transactions on the same counter row at the same instant.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from community.chat.services import send_message
from community.reactions.models import Reaction, ReactionCount
from community.rooms.models import Membership
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

USERS = 100
BURST_THREADS = 25
EMOJI = "🔥"


def _burst(users, request_for) -> list[int]:
    """Send one request per user from BURST_THREADS threads released together."""
    batches = [users[i::BURST_THREADS] for i in range(BURST_THREADS)]
    barrier = threading.Barrier(BURST_THREADS)

    def run(batch):
        client = APIClient()
        try:
            barrier.wait(timeout=60)
            statuses = []
            for user in batch:
                client.force_authenticate(user)
                statuses.append(request_for(client).status_code)
            return statuses
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=BURST_THREADS) as pool:
        return [status for statuses in pool.map(run, batches) for status in statuses]


@pytest.fixture
def crowded_room(make_user, make_room, make_member):
    owner = make_user("burst-owner")
    room = make_room(owner=owner, nickname="host")
    message = send_message(membership=Membership.objects.get(room=room, user=owner), body="go!")
    users = [make_user(f"burst{i}") for i in range(USERS)]
    for user in users:
        make_member(room, user)
    return room, message, users


def test_100_concurrent_adds_then_removes_are_exact_in_db_and_last_event(
    crowded_room, layer_listener
):
    room, message, users = crowded_room
    listener = layer_listener(room.group_name)
    path = f"/api/v1/messages/{message.pk}/reactions/"

    started = time.monotonic()
    statuses = _burst(users, lambda client: client.post(path, {"emoji": EMOJI}, format="json"))
    add_seconds = time.monotonic() - started
    assert statuses == [200] * USERS
    assert ReactionCount.objects.get(message=message, emoji=EMOJI).count == USERS
    assert Reaction.objects.filter(message=message, emoji=EMOJI).count() == USERS

    events = listener.events(quiet=3)
    assert len(events) == USERS
    counts = [event["reactions"][0]["count"] for event in events]
    # Each event is read after its own commit under the target lock, so they never go back.
    assert counts == sorted(counts)
    assert events[-1]["reactions"] == [{"emoji": EMOJI, "count": USERS}]

    statuses = _burst(users, lambda client: client.delete(f"{path}?emoji={EMOJI}"))
    assert statuses == [200] * USERS
    assert ReactionCount.objects.get(message=message, emoji=EMOJI).count == 0
    events = listener.events(quiet=3)
    assert len(events) == USERS
    assert events[-1]["reactions"] == []
    print(f"{USERS} concurrent adds over {BURST_THREADS} threads: {add_seconds:.2f}s")


def test_one_user_double_tapping_ten_emoji_at_once_stays_within_the_cap(crowded_room):
    _room, message, users = crowded_room
    reactor = users[0]
    many = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🔥", "🎉", "👀", "💯", "🚀", "✨"]
    # The same user on every thread: 2 taps of each of 12 emoji race for 10 slots.
    taps = [emoji for emoji in many for _ in range(2)]
    barrier = threading.Barrier(len(taps))

    def tap(emoji):
        client = client_for(reactor)
        try:
            barrier.wait(timeout=60)
            path = f"/api/v1/messages/{message.pk}/reactions/"
            return client.post(path, {"emoji": emoji}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(taps)) as pool:
        statuses = list(pool.map(tap, taps))
    assert set(statuses) <= {200, 409}
    assert Reaction.objects.filter(message=message, user=reactor).count() == 10
    assert sum(ReactionCount.objects.filter(message=message).values_list("count", flat=True)) == 10
