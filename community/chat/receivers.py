"""Signal receivers that keep the cached history pages (``selectors.history_page``)
true: every save or delete of a row the pages' shared part reads gives its rooms a new
version at once and again when the write commits. Wired in ``community.apps``; the
bulk ``update()`` calls, which send no signal, call ``forget_room_histories``."""

from community.chat.models import Message
from community.chat.selectors import PAYLOAD_MEDIA_COLUMNS, forget_room_histories
from community.media.models import MediaAsset
from community.rooms.models import Membership

# The columns of each model the shared part reads (``_PAYLOAD_COLUMNS``): a save naming
# only other fields (a read marker, a notification level, a room's last seq) changes
# no page.
# (``update_fields`` may name a foreign key by its field or its column.)
_MEMBERSHIP_FIELDS = frozenset(
    {"nickname", "role", "is_open_profile"}
    | {"room", "room_id", "avatar_media", "avatar_media_id", "user", "user_id"}
)
_MEDIA_FIELDS = frozenset({*PAYLOAD_MEDIA_COLUMNS, "room"})
_ROOM_FIELDS = frozenset({"visibility"})  # restricted media URLs are signed
_USER_FIELDS = frozenset({"is_active"})
_PROFILE_FIELDS = frozenset({"handle", "user", "user_id"})


def _touches(update_fields, fields: frozenset) -> bool:
    return update_fields is None or not fields.isdisjoint(update_fields)


def _rooms_of_user(user_id: int | None) -> list[int]:
    if user_id is None:
        return []
    return list(Membership.objects.filter(user_id=user_id).values_list("room_id", flat=True))


def message_changed(sender, instance: Message, **kwargs) -> None:
    forget_room_histories([instance.room_id])


def membership_changed(sender, instance: Membership, update_fields=None, **kwargs) -> None:
    if _touches(update_fields, _MEMBERSHIP_FIELDS):
        forget_room_histories([instance.room_id])


def media_changed(sender, instance: MediaAsset, update_fields=None, **kwargs) -> None:
    if not _touches(update_fields, _MEDIA_FIELDS):
        return
    if instance.room_id is not None:
        forget_room_histories([instance.room_id])
        return
    if instance.pk is None:
        return
    # An asset of no room: the rooms of the messages and members showing it.
    rooms = set(Message.objects.filter(media_id=instance.pk).values_list("room_id", flat=True))
    rooms |= set(
        Membership.objects.filter(avatar_media_id=instance.pk).values_list("room_id", flat=True)
    )
    forget_room_histories(rooms)


def room_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if _touches(update_fields, _ROOM_FIELDS):
        forget_room_histories([instance.pk])


def user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if _touches(update_fields, _USER_FIELDS):
        forget_room_histories(_rooms_of_user(instance.pk))


def profile_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if _touches(update_fields, _PROFILE_FIELDS):
        forget_room_histories(_rooms_of_user(instance.user_id))
