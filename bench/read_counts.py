"""How much a history page's read counts cost as a room grows: the figure behind
``READ_COUNTS_MAX_MEMBERS`` (docs/performance.md, "Read counts").

    .venv/bin/python -m bench.read_counts [--members 100,1000,5000] [--runs 20]

Against the migrated PostgreSQL database named by ``DATABASE_URL``; it adds a room per
size (members bulk-inserted, their read markers spread over the last 300 messages the
way a busy room's are) and prints the median time of the ``unread_count`` part of one
50-message page and of one ``read.updated`` computation.
"""

import argparse
import os
import random
import statistics
import time
from datetime import timedelta

import django


def measure(members: int, runs: int) -> tuple[float, float]:
    from django.utils import timezone

    from bench.fixtures import bench_users
    from community.chat.models import Message
    from community.reads.selectors import live_unread_steps, unread_counts
    from community.rooms.models import Membership, Room

    users = bench_users(members)
    start = timezone.now() - timedelta(days=1)
    messages = 300
    room = Room.objects.create(
        title=f"Read counts {members}",
        owner=users[0],
        capacity=members + 10,
        member_count=members,
        last_message_seq=messages,
    )
    rng = random.Random(members)
    Membership.objects.bulk_create(
        [
            Membership(
                room=room,
                user=user,
                nickname=f"m{number}",
                nickname_key=f"m{number}",
                # Most have read nearly everything; a long tail is far behind.
                last_read_seq=max(0, messages - int(rng.expovariate(1 / 40))),
            )
            for number, user in enumerate(users)
        ],
        batch_size=2000,
    )
    Message.objects.bulk_create(
        [Message(room=room, body=f"m{seq}", seq=seq) for seq in range(1, messages + 1)]
    )
    # joined_at / created_at: everyone joined before the first message.
    Membership.objects.filter(room=room).update(joined_at=start)
    Message.objects.filter(room=room).update(created_at=start + timedelta(hours=1))
    page = list(Message.objects.filter(room=room).order_by("-seq")[:50])
    page_times, live_times = [], []
    for _ in range(runs):
        began = time.perf_counter()
        counts = unread_counts(page)
        page_times.append(time.perf_counter() - began)
        began = time.perf_counter()
        live_unread_steps(room_id=room.pk)
        live_times.append(time.perf_counter() - began)
    assert len(counts) == 50 and all(value is not None for value in counts.values())
    return statistics.median(page_times) * 1000, statistics.median(live_times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", default="100,500,1000,2000,5000,20000")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("READ_COUNTS_MAX_MEMBERS", str(10**9))  # measure past the cap
    django.setup()
    print("| active members | page of 50 (ms) | read.updated (ms) |")
    print("| ---: | ---: | ---: |")
    for members in (int(value) for value in args.members.split(",")):
        page, live = measure(members, args.runs)
        print(f"| {members:,} | {page:.1f} | {live:.1f} |")


if __name__ == "__main__":
    main()
