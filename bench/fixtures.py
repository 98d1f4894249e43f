"""Data the benchmarks run against, created through Moim's own services."""

import itertools
import time
from contextlib import contextmanager

from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile

from community.chat.services import send_message
from community.rooms.models import Membership, Room
from community.rooms.services import create_room, join_room
from profiles.models import Profile, User
from profiles.services import handle_key

_batch = itertools.count(1)
# bench_users' usernames: ``bench<digits>_<n>``.
BENCH_USERNAME = r"^bench[0-9]+_[0-9]+$"


def retire_earlier_bench_rooms() -> int:
    """Archive the rooms that earlier runs' benchmark users left listed, so that a run's
    discover page and trending rank this run's rooms only: a search suite's room of
    1,000,000 messages left behind made the next run's discover rows rank it."""
    return Room.objects.filter(owner__username__regex=BENCH_USERNAME, is_archived=False).update(
        is_archived=True
    )


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
                handle_key=handle_key(handle=user.username),
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


HISTORY_EMOJI = ("👍", "❤️", "😂", "🎉", "🔥")


@contextmanager
def _tasks_inline():
    """Run Celery tasks in this process (the media processing), whatever the broker."""
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = eager


def room_with_history(
    messages: int = 50, members: int = 10, *, image_every: int = 5
) -> tuple[Room, list[Membership]]:
    """A room whose history page makes the endpoint do all its work: authors, replies,
    several emoji with counts on most messages, and processed images (one message in
    ``image_every``), all written through the services."""
    from bench.media import make_photos
    from community.chat.services import send_media_message
    from community.reactions.models import ReactionTarget
    from community.reactions.services import check_add_reaction

    room, memberships = room_with_members(members, title="Bench history")
    photos = iter(make_photos(messages // image_every + 1, (1200, 800)))
    sent = []
    with _tasks_inline():
        for number in range(messages):
            membership = memberships[number % len(memberships)]
            if number % image_every == image_every - 1:
                upload = SimpleUploadedFile(f"photo{number}.jpg", next(photos), "image/jpeg")
                message = send_media_message(
                    membership=membership,
                    file=upload,
                    body=f"Photo {number}",
                    client_id=f"h{number}",
                ).message
            else:
                message = send_message(
                    membership=membership,
                    body=f"History {number} 안녕하세요 こんにちは @{memberships[0].nickname}",
                    client_id=f"h{number}",
                    reply_to_id=sent[-1].pk if sent and number % 3 == 0 else None,
                )
            sent.append(message)
    # 0–4 reactors per message, over three of the emoji: several emoji, counts above one.
    for number, message in enumerate(sent):
        for reactor in range(number % 5):
            check_add_reaction(
                user=memberships[(number + reactor) % len(memberships)].user,
                target_type=ReactionTarget.MESSAGE,
                target_id=message.pk,
                emoji=HISTORY_EMOJI[(number + reactor) % 3],
            )
    return room, memberships
