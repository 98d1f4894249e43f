"""Capacity under concurrent joins: never one member over (PostgreSQL row locks)."""

import pytest

from community.rooms.models import Membership, Room
from community.rooms.services import approve_join_request, join_room
from config.errors import ConflictError
from tests.concurrency import race

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

RACERS = 16


def test_many_joins_race_for_the_last_seat(make_room, make_user):
    room = make_room(capacity=3)
    join_room(room_id=room.pk, user=make_user(), nickname="early")  # 2 of 3 seats taken
    racers = [make_user() for _ in range(RACERS)]
    results, errors = race(
        [
            lambda user=user: join_room(room_id=room.pk, user=user, nickname=f"n{user.pk}")
            for user in racers
        ]
    )
    assert len(results) == 1
    assert len(errors) == RACERS - 1
    assert all(isinstance(error, ConflictError) and error.code == "room_full" for error in errors)
    room.refresh_from_db()
    assert room.member_count == room.capacity == 3
    assert Membership.objects.filter(room=room, state="active").count() == 3


def test_many_joins_fill_a_room_exactly(make_room, make_user):
    room = make_room(capacity=6)
    racers = [make_user() for _ in range(RACERS)]
    results, errors = race(
        [
            lambda user=user: join_room(room_id=room.pk, user=user, nickname=f"n{user.pk}")
            for user in racers
        ]
    )
    assert len(results) == 5
    assert len(errors) == RACERS - 5
    room.refresh_from_db()
    assert room.member_count == Membership.objects.filter(room=room, state="active").count() == 6


def test_approvals_race_with_joins_for_the_last_seat(make_room, make_user):
    owner = make_user()
    room = make_room(owner=owner, capacity=2, join_policy="approval")
    requests = [
        join_room(room_id=room.pk, user=make_user(), nickname=f"asker{number}")
        for number in range(RACERS)
    ]
    results, errors = race(
        [
            lambda request=request: approve_join_request(
                room_id=room.pk, request_id=request.pk, actor=owner
            )
            for request in requests
        ]
    )
    assert len(results) == 1
    assert all(isinstance(error, ConflictError) for error in errors)
    assert Room.objects.get(pk=room.pk).member_count == 2
