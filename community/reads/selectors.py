"""Read counts (KakaoTalk's "1"): how many members have not read a message yet.

A message's count is the number of the room's active members who joined before it was
sent and whose read marker (``Membership.last_read_seq``) is below its seq. The author
is never counted (sending moves their marker past the message), nor is someone who
joined later (they were not there to read it). So a message's count only ever goes
down: reads move markers forward, members leave, and joins do not change it.

Counts are the same for every member (aggregates, never a list of who read), so they
are part of the shared message payload. Rooms with more than
``READ_COUNTS_MAX_MEMBERS`` active members get ``None``: the count would cost more than
it tells (docs/performance.md, "Read counts").
"""

import functools
from bisect import bisect_left, bisect_right
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import Case, Count, DateTimeField, F, Value, When
from django.db.models.functions import Least

from community.chat.models import Message
from community.rooms.models import Membership
from config.cache_versions import renew_versions
from config.compiled_queries import CompiledRows, int_slot, time_slot

# A read.updated event carries the counts of the room's latest messages (live, not
# system), at most this many: older ones get fresh counts when history is loaded.
LIVE_WINDOW = 100


def _counts_room(member_count: int | None) -> bool:
    return member_count is not None and member_count <= settings.READ_COUNTS_MAX_MEMBERS


def _groups_queryset(room_id, last_seq, first_time, cap: int):
    return (
        Membership.objects.filter(
            room_id=room_id, state=Membership.State.ACTIVE, room__member_count__lte=cap
        )
        .annotate(
            marker=Least(F("last_read_seq"), Value(last_seq)),
            joined=Case(
                When(joined_at__lte=first_time, then=Value(None)),
                default=F("joined_at"),
                output_field=DateTimeField(),
            ),
        )
        .order_by()
        .values_list("marker", "joined")
        .annotate(members=Count("id"))
    )


@functools.cache
def _groups_query(*, alias: str, cap: int) -> CompiledRows:
    """The groups' query compiled once per process, database and cap: building it took
    ~1.2 ms of CPU per history page, running it ~0.2 ms (docs/performance.md, "Message
    history")."""
    slots = {"room": int_slot(1), "seq": int_slot(2), "time": time_slot(1)}
    queryset = _groups_queryset(slots["room"], slots["seq"], slots["time"], cap)
    return CompiledRows.build(queryset, alias=alias, slots=slots)


def _groups(room_id: int, last_seq: int, first_time) -> list[tuple]:
    alias = router.db_for_read(Membership)
    cap = settings.READ_COUNTS_MAX_MEMBERS
    if connections[alias].vendor != "postgresql":
        # Other databases return raw dates from a cursor: the ORM converts them.
        return list(_groups_queryset(room_id, last_seq, first_time, cap).using(alias))
    _names, rows = _groups_query(alias=alias, cap=cap).fetch(
        room=int(room_id), seq=int(last_seq), time=first_time
    )
    return rows


def _behind_counts(room_id: int, messages: list[tuple[int, int, Any]]) -> dict[int, int] | None:
    """``{message_id: unread}`` for ``(message_id, seq, created_at)`` of one room, or
    None when the room is over the cap. One query: the room's active members grouped by
    read marker (every marker at or past the page's last message is one group), and by
    join time for the few who joined during the page; a room over the cap has no rows.
    A group counts for the messages after its marker that were sent after it joined,
    which (seq and time rise together) is a suffix of the page: a difference array adds
    them up in one pass. Measured in docs/performance.md ("Read counts")."""
    messages = sorted(messages, key=lambda row: row[1])
    seqs = [seq for _id, seq, _at in messages]
    times = [created_at for _id, _seq, created_at in messages]
    groups = _groups(room_id, seqs[-1], times[0])
    if not groups:  # over the cap (or nobody left in the room)
        return None
    starts = [0] * (len(messages) + 1)
    for marker, joined, members in groups:
        first = bisect_right(seqs, marker)
        if joined is not None:
            first = max(first, bisect_left(times, joined))
        starts[first] += members
    counts, running = {}, 0
    for index, (message_id, _seq, _at) in enumerate(messages):
        running += starts[index]
        counts[message_id] = running
    return counts


def unread_counts(messages: list[Message], viewer: Any = None) -> dict[int, int | None]:
    """The ``unread_count`` payload part (``register_payload_part``): the same for every
    viewer; system messages get none. One query per room on the page (a page is one
    room); none for a message just sent (its room is in memory and its mentions attached
    by ``do_send_message``): everyone but the author is behind."""
    counts: dict[int, int | None] = {}
    by_room: dict[int, list[Message]] = {}
    for message in messages:
        if message.kind == Message.Kind.SYSTEM:
            continue
        if hasattr(message, "mention_list") and Message.room.is_cached(message):
            member_count = message.room.member_count
            counts[message.pk] = max(0, member_count - 1) if _counts_room(member_count) else None
        else:
            by_room.setdefault(message.room_id, []).append(message)
    for room_id, room_messages in by_room.items():
        behind = _behind_counts(room_id, [(m.pk, m.seq, m.created_at) for m in room_messages])
        for message in room_messages:
            counts[message.pk] = None if behind is None else behind[message.pk]
    return counts


def room_reads_version_key(room_id: int) -> str:
    """The key of the room's *reads version*: a history page's counts are cached with the
    page (``register_payload_part(..., version_key=...)``) while it stays the one they
    were stored under. The cap is part of the key: a new cap never reads counts (or
    ``None``s) cached under the old one."""
    return f"reads:room-version:{room_id}:{settings.READ_COUNTS_MAX_MEMBERS}"


def forget_room_reads(room_ids) -> None:
    """The cached read counts of these rooms' history pages are stale: a new reads
    version now and again once the transaction commits. Every writer of what the counts
    read renews it: a read marker moving (``community.reads.services.read_marker_moved``),
    a membership saved or deleted (joins, leaves, kicks, bans: ``community.reads.receivers``),
    a room's member count saved; the messages themselves renew the page's own version."""
    ids = {int(pk) for pk in room_ids if pk is not None}
    if not ids or not settings.CHAT_HISTORY_CACHE_SECONDS:
        return
    renew_versions((room_reads_version_key(pk) for pk in ids), what="read counts cache")


def live_unread_steps(*, room_id: int) -> tuple[int, int, list[list[int]]] | None:
    """The counts of the room's latest ``LIVE_WINDOW`` live messages, as steps: each
    ``[seq, unread]`` holds for the messages from ``seq`` up to the next step (counts
    never fall as seq grows, so a room where most have read the latest is a few steps).
    ``(from_seq, to_seq, steps)``, or None when the room is over the cap or has no
    message to count. Two queries."""
    rows = list(
        Message.objects.filter(room_id=room_id, deleted_at__isnull=True)
        .exclude(kind=Message.Kind.SYSTEM)
        .order_by("-seq")
        .values_list("pk", "seq", "created_at")[:LIVE_WINDOW]
    )
    if not rows:
        return None
    rows.reverse()
    counts = _behind_counts(room_id, rows)
    if counts is None:
        return None
    steps: list[list[int]] = []
    for message_id, seq, _created_at in rows:
        if not steps or steps[-1][1] != counts[message_id]:
            steps.append([seq, counts[message_id]])
    return rows[0][1], rows[-1][1], steps
