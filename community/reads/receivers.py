"""Signal receivers that keep the read counts cached with history pages
(``selectors.room_reads_version_key``) true: a save or delete of a membership or room
that changes who counts (state, join time, read marker, member count for the cap) gives
the room a new reads version. Wired in ``community.apps``; the bulk ``update()`` of a
read marker renews through ``services.read_marker_moved``."""

from community.reads.selectors import forget_room_reads
from community.rooms.models import Membership, Room

# The columns the counts read (``selectors._groups_queryset``); ``update_fields`` may
# name a foreign key by its field or its column.
_MEMBERSHIP_FIELDS = frozenset({"state", "joined_at", "last_read_seq", "room", "room_id"})
_ROOM_FIELDS = frozenset({"member_count"})


def _touches(update_fields, fields: frozenset) -> bool:
    return update_fields is None or not fields.isdisjoint(update_fields)


def membership_changed(sender, instance: Membership, update_fields=None, **kwargs) -> None:
    if _touches(update_fields, _MEMBERSHIP_FIELDS):
        forget_room_reads([instance.room_id])


def room_changed(sender, instance: Room, update_fields=None, **kwargs) -> None:
    if _touches(update_fields, _ROOM_FIELDS):
        forget_room_reads([instance.pk])
