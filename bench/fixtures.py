"""Data the benchmarks run against, created through Moim's own services."""

import itertools
import time

from django.contrib.auth.hashers import make_password

from community.models import Membership, Room
from community.services.messages import send_message
from community.services.rooms import create_room, join_room
from profiles.models import Profile, User
from profiles.services import handle_key

_batch = itertools.count(1)


def bench_users(count: int) -> list[User]:
    stamp = f"{time.time_ns() % 10**10}{next(_batch)}"
    password = make_password("bench-password-not-secret")
    users = User.objects.bulk_create(
        [User(username=f"bench{stamp}_{i}", password=password) for i in range(count)]
    )
    Profile.objects.bulk_create(
        [
            Profile(
                user=user,
                handle=user.username,
                handle_key=handle_key(user.username),
                display_name=user.username,
            )
            for user in users
        ]
    )
    return users


def room_with_members(members: int, *, title: str = "Bench room") -> tuple[Room, list[Membership]]:
    users = bench_users(members)
    owner, others = users[0], users[1:]
    room = create_room(owner=owner, title=title, nickname="host", capacity=max(members + 10, 100))
    memberships = [Membership.objects.get(room=room, user=owner)]
    memberships += [
        join_room(room_id=room.pk, user=user, nickname=f"m{i}") for i, user in enumerate(others)
    ]
    return room, memberships


def room_with_history(messages: int = 50, members: int = 10) -> tuple[Room, list[Membership]]:
    room, memberships = room_with_members(members, title="Bench history")
    for number in range(messages):
        send_message(
            membership=memberships[number % len(memberships)],
            body=f"History message {number} 안녕하세요 こんにちは",
            client_id=f"h{number}",
        )
    return room, memberships
