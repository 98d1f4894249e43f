"""Seeds the fuzzing server's database and prints an access token as JSON.

Run as a script by ``tests/api/test_fuzz.py`` (in its own process, against the server's
database): a user who hosts one room and is a member of another, with messages in both.
"""

import json
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()


from community.access import active_membership  # noqa: E402
from community.chat.services import check_send_message  # noqa: E402
from community.meetups.services import create_meetup  # noqa: E402
from community.polls.services import create_poll  # noqa: E402
from community.rooms.services import create_room, join_room  # noqa: E402
from profiles.services import create_status_post, register_user  # noqa: E402
from profiles.tokens import refresh_token_for  # noqa: E402


def seed() -> dict:
    suffix = secrets.token_hex(3)
    fuzzer = register_user(username=f"fuzzer{suffix}", password=secrets.token_urlsafe(16))
    host = register_user(username=f"fuzzhost{suffix}", password=secrets.token_urlsafe(16))
    hosted = create_room(owner=fuzzer, title="Fuzzing den", nickname="den-host")
    joined = create_room(owner=host, title="Jazz corner", nickname="jazz-host")
    join_room(room_id=joined.pk, user=fuzzer, nickname="listener")
    memberships, messages = [], []
    for room, author in ((hosted, fuzzer), (joined, host), (joined, fuzzer)):
        membership = active_membership(room_id=room.pk, user=author)
        memberships.append(membership.pk)
        for n in range(3):
            sent = check_send_message(
                membership=membership, body=f"hello {n}", enforce_limits=False
            )
            messages.append(sent.message.pk)
    poll = create_poll(
        user=host, room_id=joined.pk, question="Which album?", options=["Blue", "Kind of"]
    ).message.poll
    starts_at = datetime.now(UTC) + timedelta(days=3)
    meetup = create_meetup(
        user=host, room_id=joined.pk, title="Listening night", starts_at=starts_at, capacity=3
    ).message.meetup
    posts = [
        create_status_post(author=author, body="Listening to Coltrane").pk
        for author in (fuzzer, host)
    ]
    refresh = refresh_token_for(fuzzer)
    return {
        "access": str(refresh.access_token),
        "rooms": [joined.pk, hosted.pk],
        "memberships": memberships,
        "messages": messages,
        "posts": posts,
        "polls": [poll.pk],
        "meetups": [meetup.pk],
        "handles": [fuzzer.profile.handle, host.profile.handle],
        # Filled by mentions and replies when the notifications feature is present.
        "notifications": [1, 2],
    }


if __name__ == "__main__":
    print(json.dumps(seed()))
