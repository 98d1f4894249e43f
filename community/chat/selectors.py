"""Reads for chat messages, and the ONE message payload shared by REST, sockets and
broadcasts.

A payload shows its author only as the room membership (nickname, avatar, membership
id): never the username, handle or user id, so an open profile stays open.
"""

import functools
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, router
from django.db.models import BooleanField, Exists, OuterRef, QuerySet, Subquery
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_init, pre_init
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from community.access import (
    can_read_room_content,
    room_is_hidden_from_non_members,
    room_not_found_error,
)
from community.chat.models import Message
from community.media.selectors import AVATAR_SIZE, image_url, media_payload, member_avatar_url
from community.notifications.models import MessageMention, RoomNotificationLevel
from community.notifications.selectors import my_rooms, room_level
from community.reactions.models import ReactionCount, ReactionTarget
from community.reactions.selectors import reaction_summaries, room_reactions_version_key
from community.rooms.models import Membership, Room
from config.api.rendering import ITEM_SEPARATOR, KEY_SEPARATOR, EncodedList, encode_json
from config.cache_versions import current_version, renew_pending_versions, renew_versions
from config.compiled_queries import CompiledQuery, CompiledRows, int_slot
from config.errors import DomainError, PermissionDeniedError
from profiles.selectors import (
    blocked_member_ids_in_room,
    blocks_anyone,
    hidden_membership_q,
    with_collapsed_flags,
)

# Parts of the payload that features above chat add (polls, meetups, tips, link
# previews, read counts…) without chat importing them: each registers a loader in its
# AppConfig.ready (community/apps.py) with ``register_payload_part``.
PayloadPartLoader = Callable[[list[Message], Any], dict[int, Any]]
_PAYLOAD_PARTS: dict[str, PayloadPartLoader] = {}
# Parts the same for every viewer, cached with history pages: their room version's key.
_SHARED_PART_VERSIONS: dict[str, Callable[[int], str]] = {}


def register_payload_part(
    name: str, loader: PayloadPartLoader, *, version_key: Callable[[int], str] | None = None
) -> None:
    """Add ``payload[name]`` to every message payload.

    ``loader(messages, viewer)`` gets one page of live (not deleted) messages and returns
    ``{message_id: part}`` with a constant number of queries per page (history pages are
    pinned). ``viewer`` is None for a broadcast (one payload shared by the whole room):
    a part must then hold only what every member may see alike; a viewer's own state (my
    vote, my RSVP) comes with a viewer. Messages the loader leaves out get ``None``.

    ``version_key(room_id)``: the part is the same for every viewer and is cached with
    a history page (``history_page``), loaded with ``viewer=None`` and used while the
    page's version and the room's version under that key are the ones it was stored
    under: every writer of what the part reads must renew that version
    (``config.cache_versions.renew_versions``).
    """
    if name in _PAYLOAD_PARTS and _PAYLOAD_PARTS[name] is not loader:
        raise ValueError(f"payload part {name!r} is already registered")
    _PAYLOAD_PARTS[name] = loader
    if version_key is not None:
        _SHARED_PART_VERSIONS[name] = version_key


logger = logging.getLogger(__name__)

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
REPLY_PREVIEW_LENGTH = 140


# The related rows a payload reads, and only the columns it reads of them: a page of 50
# otherwise loads ~150 full rows (rooms with their descriptions, assets with their file
# names), and Django's per-column cost dominated the history endpoint. Whatever reads
# another column of these rows must name it here, or it costs a query per message.
PAYLOAD_MEDIA_COLUMNS = (
    "id", "key", "room_id", "kind", "state", "failure_reason", "content_type", "width",
    "height", "duration_seconds", "is_animated", "placeholder", "thumbnails", "poster_name",
)  # fmt: skip
_PAYLOAD_COLUMNS = (
    *(f.name for f in Message._meta.concrete_fields),
    "author__id", "author__nickname", "author__role", "author__room_id",
    "author__avatar_media_id", "author__is_open_profile", "author__user__id",
    "author__user__is_active", "author__user__profile__id", "author__user__profile__handle",
    *(f"author__avatar_media__{c}" for c in ("id", "key", "room_id", "state", "thumbnails")),
    "author__avatar_media__room__id", "author__avatar_media__room__visibility",
    "reply_to__id", "reply_to__seq", "reply_to__body", "reply_to__deleted_at",
    "reply_to__author_id", "reply_to__author__id", "reply_to__author__nickname",
    *(f"media__{c}" for c in PAYLOAD_MEDIA_COLUMNS),
    "media__room__id", "media__room__visibility",
)  # fmt: skip


def _with_payload_relations(queryset: QuerySet[Message]) -> QuerySet[Message]:
    return queryset.select_related(
        "author__avatar_media__room",
        "author__user__profile",
        "reply_to",
        "reply_to__author",
        "media",
        "media__room",
    ).only(*_PAYLOAD_COLUMNS)


def _author_payload(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {
        "membership_id": membership.pk,
        "nickname": membership.nickname,
        "avatar": member_avatar_url(membership),
        # "owner" or "cohost" earn a badge next to the nickname; "member" none.
        "role": membership.role,
        "profile_url": member_profile_url(membership),
    }


def member_profile_url(membership: Membership) -> str | None:
    """The main profile's page of a member who shows it in the room; None for an open
    profile (the nickname must never lead to the account) and for a closed account."""
    if membership.is_open_profile or not membership.user.is_active:
        return None
    return reverse("profile", kwargs={"handle": membership.user.profile.handle})


def _reply_payload(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    author = message.author
    return {
        "id": message.pk,
        "seq": message.seq,
        "deleted": message.is_deleted,
        "body": "" if message.is_deleted else message.body[:REPLY_PREVIEW_LENGTH],
        "author": None
        if author is None
        else {"membership_id": author.pk, "nickname": author.nickname},
        "collapsed": False,
    }


def _mentions_by_message(messages: list[Message]) -> dict[int, list[dict[str, Any]]]:
    """Mentioned members (by room nickname) per message: one query per page, none for
    a message just sent (``do_send_message`` keeps its mentions in ``mention_list``)."""
    found: dict[int, list[dict[str, Any]]] = {}
    missing = []
    for message in messages:
        if hasattr(message, "mention_list"):
            found[message.pk] = [
                {"membership_id": member.pk, "nickname": member.nickname}
                for member in message.mention_list
            ]
        elif message.body and "@" in message.body and not message.is_deleted:
            missing.append(message.pk)
    if missing:
        rows = (
            MessageMention.objects.filter(message_id__in=missing)
            .order_by("id")
            .values_list("message_id", "membership_id", "membership__nickname")
        )
        for message_id, membership_id, nickname in rows:
            found.setdefault(message_id, []).append(
                {"membership_id": membership_id, "nickname": nickname}
            )
    return found


def _shared_payload(message: Message, mentions: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """What every viewer of ``message`` sees alike, read from the message's own row and
    the rows ``_with_payload_relations`` loads with it (author, reply, media, rooms behind
    assets) and its mentions: the part of a history page that may be cached
    (``history_page``). Reactions, the registered parts and ``collapsed`` come after."""
    deleted = message.is_deleted
    return {
        "id": message.pk,
        "room_id": message.room_id,
        "seq": message.seq,
        "kind": message.kind,
        "body": "" if deleted else message.body,
        "author": _author_payload(message.author),
        "reply_to": _reply_payload(message.reply_to),
        "client_id": message.client_id,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
        "deleted_at": message.deleted_at.isoformat() if deleted else None,
        "mentions": mentions.get(message.pk, []),
        "media": None if deleted else media_payload(message.media),
    }


def _reaction_ids(messages: list[Message]) -> list[int]:
    # A message just sent (``do_send_message`` marks it with ``mention_list``) has no
    # reactions yet: no query for it, on the path of every send.
    return [m.pk for m in messages if not m.is_deleted and not hasattr(m, "mention_list")]


def _viewer_parts(
    messages: list[Message],
    *,
    viewer,
    check_blocks: bool,
    reactions: dict[int, list] | None = None,
    cached_parts: dict[str, dict[int, Any]] | None = None,
) -> tuple[dict[int, list], dict[str, dict[int, Any]]]:
    """The reactions (``me``, blocked members' share left out when ``check_blocks``) and
    the registered parts of ``messages`` for ``viewer``, read now (the reactions and the
    parts the caller has: ``history_page``'s cached ones)."""
    if reactions is None:
        reactions = reaction_summaries(
            ReactionTarget.MESSAGE,
            _reaction_ids(messages),
            viewer,
            viewer_blocks_anyone=check_blocks,
        )
    live = [m for m in messages if not m.is_deleted]
    cached_parts = cached_parts or {}
    parts = {
        name: cached_parts[name] if name in cached_parts else loader(live, viewer) if live else {}
        for name, loader in _PAYLOAD_PARTS.items()
    }
    return reactions, parts


def _viewer_payloads(
    shared: list[dict[str, Any]],
    messages: list[Message],
    *,
    viewer,
    viewer_blocks_anyone: bool | None,
    reactions: dict[int, list] | None = None,
    cached_parts: dict[str, dict[int, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The full payloads: ``shared`` (``_shared_payload`` of ``messages``, in order) with
    the reactions (``me``, blocked members' share left out), the registered parts and
    ``collapsed`` of this viewer, read now (``reactions``: already read, for a viewer
    who hides no one; ``cached_parts``: parts the same for every viewer, already read)."""
    signed_in = viewer is not None and viewer.is_authenticated and bool(messages)
    check_blocks = signed_in and viewer_blocks_anyone is not False
    reactions, parts = _viewer_parts(
        messages,
        viewer=viewer,
        check_blocks=check_blocks,
        reactions=None if check_blocks else reactions,
        cached_parts=cached_parts,
    )
    payloads = []
    for part in shared:
        pk = part["id"]
        payloads.append(
            {
                "id": pk,
                "room_id": part["room_id"],
                "seq": part["seq"],
                "kind": part["kind"],
                "body": part["body"],
                "author": part["author"],
                "reply_to": part["reply_to"],
                "client_id": part["client_id"],
                "created_at": part["created_at"],
                "edited_at": part["edited_at"],
                "deleted": part["deleted"],
                "deleted_at": part["deleted_at"],
                "mentions": part["mentions"],
                "reactions": reactions.get(pk, []),
                "media": part["media"],
                "collapsed": False,
                **{name: loaded.get(pk) for name, loaded in parts.items()},
            }
        )
    if check_blocks:
        blocked: set[int] = set()
        for room_id in {message.room_id for message in messages}:
            blocked |= blocked_member_ids_in_room(viewer, room_id)
        if blocked:
            payloads = with_collapsed_flags(payloads, blocked)
    return payloads


def _encoded_shared(part: dict[str, Any]) -> tuple[str, str]:
    """A ``_shared_payload`` as JSON text (``config.api.rendering.encode_json``): the
    object up to its mentions without the closing brace, and its media. A full payload
    puts the viewer's reactions between the two and ``collapsed`` and the registered
    parts after them (the order of ``_viewer_payloads``)."""
    head = dict(part)
    media = head.pop("media")
    return encode_json(head)[:-1], encode_json(media)


def _decoded_shared(head: str, media: str) -> dict[str, Any]:
    """``_shared_payload`` back from ``_encoded_shared``: the same keys in the same order,
    and the same JSON once encoded again."""
    part = json.loads(head + "}")
    part["media"] = json.loads(media)
    return part


def _encoded_viewer_payloads(
    encoded: list[tuple[str, str]],
    messages: list[Message],
    *,
    viewer,
    reactions: dict[int, list] | None = None,
    cached_parts: dict[str, dict[int, Any]] | None = None,
) -> EncodedList:
    """``_viewer_payloads`` of a viewer who hides no one (anonymous, or blocks no one:
    nothing ``collapsed``) as one JSON array, the shared parts spliced in as they were
    cached: the bytes DRF's renderer writes for the dicts, without building them."""
    reactions, parts = _viewer_parts(
        messages,
        viewer=viewer,
        check_blocks=False,
        reactions=reactions,
        cached_parts=cached_parts,
    )
    item, key = ITEM_SEPARATOR, KEY_SEPARATOR
    reactions_key = f"{item}{encode_json('reactions')}{key}"
    media_key = f"{item}{encode_json('media')}{key}"
    # What follows the media: ``collapsed`` (false: this viewer hides no one), then the
    # registered parts. A part that left every message out is ``null`` for all of them,
    # written once with its neighbours instead of once per message.
    tail: list[str | tuple[str, dict[int, Any]]] = [f"{item}{encode_json('collapsed')}{key}false"]
    for name, loaded in parts.items():
        prefix = f"{item}{encode_json(name)}{key}"
        if loaded:
            tail.append((prefix, loaded))
        elif isinstance(tail[-1], str):
            tail[-1] += f"{prefix}null"
        else:
            tail.append(f"{prefix}null")
    pieces = ["["]
    for index, (message, (head, media)) in enumerate(zip(messages, encoded, strict=True)):
        pk = message.pk
        if index:
            pieces.append(item)
        pieces += (head, reactions_key, encode_json(reactions.get(pk, [])), media_key, media)
        for segment in tail:
            if isinstance(segment, str):
                pieces.append(segment)
            else:
                pieces += (segment[0], encode_json(segment[1].get(pk)))
        pieces.append("}")
    pieces.append("]")
    return EncodedList("".join(pieces))


def message_payloads(
    messages: list[Message], *, viewer=None, viewer_blocks_anyone: bool | None = None
) -> list[dict[str, Any]]:
    """Payloads for ``messages`` (loaded with ``_with_payload_relations``), in order.

    Batch-shaped on purpose: reactions and media fill their parts with one query per
    page, not one per message. ``viewer`` sets each reaction's ``me`` (and hides the
    reactions of members they blocked) and ``collapsed`` on messages by members they
    blocked (``profiles.selectors.hidden_membership_q``); broadcasts, shared by a room,
    pass none and each socket flags its copy. ``viewer_blocks_anyone=False`` (the caller
    knows the viewer blocks no one) saves the query for their blocks.
    """
    mentions = _mentions_by_message(messages)
    shared = [_shared_payload(message, mentions) for message in messages]
    return _viewer_payloads(
        shared, messages, viewer=viewer, viewer_blocks_anyone=viewer_blocks_anyone
    )


def message_payload(message: Message, *, viewer=None) -> dict[str, Any]:
    return message_payloads([message], viewer=viewer)[0]


def message_payload_by_id(message_id: int, *, viewer=None) -> dict[str, Any]:
    message = _with_payload_relations(Message.objects.filter(pk=message_id)).get()
    return message_payload(message, viewer=viewer)


# Read on every socket frame: compiled once per process (config/compiled_queries.py).
_MEMBERSHIP_FOR_USER = CompiledQuery(
    Membership,
    lambda room_id, user_id: (
        Membership.objects.select_related("room", "user")
        .filter(room_id=room_id, user_id=user_id)
        .order_by("-id")[:1]
    ),
    kinds=(int, int),
)


def membership_for_user(*, room_id: int, user_id: int) -> Membership | None:
    """The user's latest membership in the room in any state (banned and left included):
    the current one when there is one (a rejoin makes a new, later membership)."""
    return _MEMBERSHIP_FOR_USER.first(room_id, user_id)


def _readable_room_queryset(*, room_id: int, user_id: int | None) -> QuerySet[Room]:
    rooms = Room.objects.filter(pk=room_id).only(
        "id", "visibility", "is_web_public", "is_suspended", "last_message_seq"
    )
    if user_id is not None:
        active = Membership.objects.filter(
            room=OuterRef("pk"), user_id=user_id, state=Membership.State.ACTIVE
        ).order_by()
        rooms = rooms.annotate(
            viewer_is_member=Exists(active),
            viewer_last_read_seq=Subquery(active.values("last_read_seq")[:1]),
            viewer_blocks_anyone=blocks_anyone(user_id),
        )
    return rooms.order_by()[:1]


@functools.cache
def _readable_room_query(*, alias: str, signed_in: bool) -> CompiledRows:
    """``readable_room``'s query, compiled once per process and database: building its
    subqueries took ~2.5 ms of CPU per history request, running it ~0.2 ms
    (docs/performance.md, "Message history")."""
    slots = {"room": int_slot(1), "user": int_slot(2)} if signed_in else {"room": int_slot(1)}
    queryset = _readable_room_queryset(room_id=slots["room"], user_id=slots.get("user"))
    return CompiledRows.build(queryset, alias=alias, slots=slots)


_ROOM_FIELDS = ("id", "visibility", "is_web_public", "is_suspended", "last_message_seq")


def _read_room(*, room_id: int, user_id: int | None) -> Room | None:
    # The database the ORM would read a room from (config/db_routing.py).
    alias = router.db_for_read(Room)
    query = _readable_room_query(alias=alias, signed_in=user_id is not None)
    values = {"room": int(room_id)} if user_id is None else {"room": int(room_id), "user": user_id}
    names, rows = query.fetch(**values)
    if not rows:
        return None
    row = dict(zip(names, rows[0], strict=True))
    room = Room.from_db(alias, _ROOM_FIELDS, [row[name] for name in _ROOM_FIELDS])
    # Booleans as booleans whatever the database returns.
    room.is_web_public = bool(room.is_web_public)
    room.is_suspended = bool(room.is_suspended)
    if user_id is not None:
        room.viewer_is_member = bool(row["viewer_is_member"])
        room.viewer_last_read_seq = row["viewer_last_read_seq"]
        room.viewer_blocks_anyone = bool(row["viewer_blocks_anyone"])
    return room


def readable_room(*, room_id: int, user) -> tuple[Room, int | None]:
    """The room if ``user`` may read its history (active members, or anyone when the
    room is readable without an account), and the user's read marker there (None when
    not a member). Raises NotFound / PermissionDenied.

    One query: the active membership is a subquery of the room's row, which only has
    the columns the history endpoint reads. ``room.viewer_blocks_anyone`` (signed-in
    viewers) lets the page skip loading the viewer's blocks when there are none."""
    signed_in = user is not None and user.is_authenticated
    room = _read_room(room_id=room_id, user_id=user.pk if signed_in else None)
    if room is None:
        raise room_not_found_error()
    is_member = signed_in and room.viewer_is_member
    if not is_member and room_is_hidden_from_non_members(room):
        raise room_not_found_error()
    if not can_read_room_content(room, is_member=is_member):
        raise PermissionDeniedError(_("Only members can read this room."), code="not_member")
    return room, room.viewer_last_read_seq if is_member else None


def room_history(
    *,
    room_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = HISTORY_DEFAULT_LIMIT,
) -> tuple[list[Message], bool]:
    """Messages in ascending ``seq`` and whether more exist beyond the page.

    ``after``: the first ``limit`` messages with seq > after (resync, forward paging).
    ``before``: the last ``limit`` messages with seq < before (scrolling back).
    Neither: the latest ``limit`` messages. Tombstones are included, content hidden.
    """
    limit = max(1, min(limit, HISTORY_MAX_LIMIT))
    queryset = _with_payload_relations(Message.objects.filter(room_id=room_id))
    if after is not None:
        queryset = queryset.filter(seq__gt=after)
        if before is not None:
            queryset = queryset.filter(seq__lt=before)
        rows = list(queryset.order_by("seq")[: limit + 1])
        return rows[:limit], len(rows) > limit
    if before is not None:
        queryset = queryset.filter(seq__lt=before)
    rows = list(queryset.order_by("-seq")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, has_more


def history_around(
    *, room_id: int, seq: int, limit: int = HISTORY_DEFAULT_LIMIT
) -> tuple[list[Message], bool, bool]:
    """The messages around ``seq`` (it included, about half before and half after) in
    ascending ``seq``, whether older ones exist before the page and whether newer ones
    exist after it: where a search result or a pinned notice jumps to."""
    limit = max(1, min(limit, HISTORY_MAX_LIMIT))
    older_count = limit // 2 + 1  # ``seq`` itself and those before it
    messages = _with_payload_relations(Message.objects.filter(room_id=room_id))
    older = list(messages.filter(seq__lte=seq).order_by("-seq")[: older_count + 1])
    newer = list(messages.filter(seq__gt=seq).order_by("seq")[: limit - older_count + 1])
    has_older = len(older) > older_count
    has_newer = len(newer) > limit - older_count
    older = older[:older_count]
    older.reverse()
    return older + newer[: limit - older_count], has_older, has_newer


# --- the shared part of history pages, cached ---------------------------------------
# A history page is the same for every viewer but for the reactions (``me``, blocked
# members' share), the registered parts (my vote, read counts…) and ``collapsed``: the
# rest (``_shared_payload``: the messages with their authors, replies, media and
# mentions) is cached per room, page window, language and signed-URL period, under the
# room's *version*. Every write of a row that part reads gives the room a new version
# (``forget_room_histories``): saves and deletes of messages, members, media, rooms,
# users and profiles through signals (``community.chat.receivers``, the admin included),
# and the bulk ``update()`` calls explicitly. A version is a random token, not a
# counter: a version lost from the cache comes back as a token no page was stored
# under. The viewer's parts are read live on every request, but for the reactions
# (``_page_reactions``) and the registered parts shared by every viewer (read counts:
# ``register_payload_part(..., version_key=...)``, ``_page_shared_parts``), which are
# cached next to the page under versions of their own.

_STUB_FIELDS = (
    "id", "room_id", "seq", "kind", "body", "client_id", "author_id", "created_at",
    "edited_at", "deleted_at",
)  # fmt: skip


def _history_version_key(room_id: int) -> str:
    return f"chat:history-version:{room_id}"


def forget_room_histories(room_ids) -> None:
    """The cached history pages of these rooms are stale: give each a new version now
    (what this transaction reads from here on) and again once it commits (a page read
    by someone else before the commit, stored under the first new version, is dropped)."""
    ids = {int(pk) for pk in room_ids if pk is not None}
    if not ids or not settings.CHAT_HISTORY_CACHE_SECONDS:
        return
    renew_versions((_history_version_key(pk) for pk in ids), what="history cache")


def _page_key(room_id: int, window: tuple) -> str:
    # Signed media URLs change every MEDIA_SIGNED_URL_SECONDS (media_url): a page never
    # outlives the period its URLs were signed in.
    period = int(time.time()) // settings.MEDIA_SIGNED_URL_SECONDS
    window_key = ":".join("" if value is None else str(value) for value in window)
    return f"chat:history-json:{room_id}:{window_key}:{get_language() or ''}:{period}"


# What ``Message(**stub)`` would set for the columns a stub does not carry (no default
# beyond None among them): the stub is built without ``Model.__init__``, whose per-field
# work was 15 % of a cached page's CPU (50 messages a page).
_STUB_DEFAULTS = {
    field.attname: field.get_default()
    for field in Message._meta.concrete_fields
    if field.attname not in _STUB_FIELDS
}


def _stub_messages(stubs: list[tuple]) -> list[Message]:
    """``Message`` instances with the stubs' columns, as ``Message(**stub)`` makes them
    (the same instance dict and state) without running ``Model.__init__``."""
    if pre_init.has_listeners(Message) or post_init.has_listeners(Message):
        return [Message(**dict(zip(_STUB_FIELDS, values, strict=True))) for values in stubs]
    messages = []
    new = Message.__new__
    for values in stubs:
        message = new(Message)
        message._state = ModelState()
        message.__dict__.update(_STUB_DEFAULTS)
        message.__dict__.update(zip(_STUB_FIELDS, values, strict=True))
        messages.append(message)
    return messages


def _load_history(*, room_id: int, before, after, around, limit):
    if around is not None:
        return history_around(room_id=room_id, seq=around, limit=limit)
    messages, has_more = room_history(room_id=room_id, before=before, after=after, limit=limit)
    return messages, has_more, None


def _page_reactions(
    messages: list[Message],
    *,
    viewer,
    stamp: tuple[str, str],
    counts_entry,
    mine_entry,
    counts_key: str,
    mine_key: str | None,
    ttl: int,
) -> dict[int, list]:
    """``reaction_summaries`` of a page for a viewer who hides no one, from the cache
    when the page and the room's reactions are as they were stored (``stamp``: the
    page's version and the room's reaction version, ``forget_room_reactions``): the
    counts shared by every reader, and this reader's own emoji (``me``, ``mine_key``;
    None for anonymous readers). What is missing is read in one query and stored."""
    ids = _reaction_ids(messages)
    counts = counts_entry[1] if counts_entry is not None and counts_entry[0] == stamp else None
    if mine_key is None:
        mine: frozenset | None = frozenset()
    else:
        mine = mine_entry[1] if mine_entry is not None and mine_entry[0] == stamp else None
    if counts is not None and mine is not None:
        return {
            pk: [
                {"emoji": emoji, "count": n, "me": (pk, emoji) in mine}
                for emoji, n in counts.get(pk, ())
            ]
            for pk in ids
        }
    summaries = reaction_summaries(ReactionTarget.MESSAGE, ids, viewer, viewer_blocks_anyone=False)
    if router.db_for_read(ReactionCount) == DEFAULT_DB_ALIAS:
        fresh: dict[str, tuple] = {}
        if counts is None:
            shared = {
                pk: tuple((row["emoji"], row["count"]) for row in rows)
                for pk, rows in summaries.items()
                if rows
            }
            fresh[counts_key] = (stamp, shared)
        if mine is None:
            own = frozenset(
                (pk, row["emoji"]) for pk, rows in summaries.items() for row in rows if row["me"]
            )
            fresh[mine_key] = (stamp, own)
        try:
            cache.set_many(fresh, timeout=ttl)
        except Exception:
            logger.warning("history cache: could not store a page's reactions", exc_info=True)
    return summaries


def _page_shared_parts(
    messages: list[Message], *, found: dict[str, tuple], version: str, ttl: int
) -> dict[str, dict[int, Any]]:
    """The registered parts the same for every viewer (``version_key`` given) of a page,
    from the cache when the page and the part's room version are as they were stored
    (``found``: ``{name: (part version, entry, entry key)}``); the others are loaded
    (``viewer=None``) and stored. Parts without a version in ``found`` are left out."""
    parts: dict[str, dict[int, Any]] = {}
    fresh: dict[str, tuple] = {}
    live = None
    for name, (part_version, entry, entry_key) in found.items():
        stamp = (version, part_version)
        if entry is not None and entry[0] == stamp:
            parts[name] = entry[1]
            continue
        if live is None:
            live = [m for m in messages if not m.is_deleted]
        parts[name] = _PAYLOAD_PARTS[name](live, None) if live else {}
        fresh[entry_key] = (stamp, parts[name])
    if fresh and router.db_for_read(Membership) == DEFAULT_DB_ALIAS:
        try:
            if len(fresh) == 1:  # one SET with its expiry; set_many pipelines an EXPIRE each
                cache.set(*fresh.popitem(), timeout=ttl)
            else:
                cache.set_many(fresh, timeout=ttl)
        except Exception:
            logger.warning("history cache: could not store a page's shared parts", exc_info=True)
    return parts


def history_page(
    *,
    room_id: int,
    viewer,
    viewer_blocks_anyone: bool | None = None,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int = HISTORY_DEFAULT_LIMIT,
    as_json: bool = False,
) -> dict[str, Any]:
    """``{"results", "has_more"}`` (with ``around``, also ``has_newer``): the page of
    ``room_history`` (or ``history_around``) as ``message_payloads`` for ``viewer``.

    The caller checked that the viewer may read the room (``readable_room``). The shared
    part comes from the cache, as JSON text, when the room has not changed since it was
    stored; only pages read from the primary database are stored (a replica may lag
    behind a version). ``as_json``: ``results`` is the page's JSON array
    (``config.api.rendering.EncodedList``, for ``PreEncodedJSONRenderer``) when the
    viewer hides no one (``viewer_blocks_anyone=False``, or anonymous), the same bytes as
    the dicts would be rendered to; otherwise, and without it, a list of dicts."""
    limit = max(1, min(limit, HISTORY_MAX_LIMIT))
    ttl = settings.CHAT_HISTORY_CACHE_SECONDS
    signed_in = viewer is not None and viewer.is_authenticated
    # Nothing of this viewer's hides anything: the page's reactions may come from the cache.
    hides_none = not signed_in or viewer_blocks_anyone is False
    entry = version = key = None
    reactions_version = counts_entry = mine_entry = counts_key = mine_key = None
    # The parts shared by every viewer: {name: (part version, cached entry, entry key)}.
    shared_found: dict[str, tuple] = {}
    if ttl:
        version_key = _history_version_key(room_id)
        key = _page_key(room_id, (before, after, around, limit))
        keys = [version_key, key]
        part_keys = {
            name: (version_of(room_id), f"{key}:part:{name}")
            for name, version_of in _SHARED_PART_VERSIONS.items()
        }
        for part_key_pair in part_keys.values():
            keys += part_key_pair
        if hides_none:
            reactions_version_key = room_reactions_version_key(room_id)
            counts_key = f"{key}:reactions"
            keys += [reactions_version_key, counts_key]
            if signed_in:
                mine_key = f"{counts_key}:{viewer.pk}"
                keys.append(mine_key)
        try:
            renew_pending_versions(keys)  # this connection's own writes, not committed yet
            found = cache.get_many(keys)  # one round trip
            version = current_version(found, version_key)
            entry = found.get(key)
            if hides_none:
                reactions_version = current_version(found, reactions_version_key)
                counts_entry = found.get(counts_key)
                mine_entry = found.get(mine_key) if mine_key else None
            shared_found = {
                name: (current_version(found, part_version_key), found.get(entry_key), entry_key)
                for name, (part_version_key, entry_key) in part_keys.items()
            }
        except Exception:
            logger.warning("history cache: unavailable", exc_info=True)
            version = reactions_version = None
            shared_found = {}
    if entry is not None and version is not None and entry[0] == version:
        _version, has_more, has_newer, encoded, stubs = entry
        messages = _stub_messages(stubs)
    else:
        messages, has_more, has_newer = _load_history(
            room_id=room_id, before=before, after=after, around=around, limit=limit
        )
        mentions = _mentions_by_message(messages)
        encoded = [_encoded_shared(_shared_payload(message, mentions)) for message in messages]
        if version is not None and router.db_for_read(Message) == DEFAULT_DB_ALIAS:
            stubs = [
                (m.pk, m.room_id, m.seq, m.kind, m.body, m.client_id, m.author_id,
                 m.created_at, m.edited_at, m.deleted_at)
                for m in messages
            ]  # fmt: skip
            try:
                cache.set(key, (version, has_more, has_newer, encoded, stubs), timeout=ttl)
            except Exception:
                logger.warning("history cache: could not store a page", exc_info=True)
    reactions = None
    if hides_none and version is not None and reactions_version is not None:
        reactions = _page_reactions(
            messages,
            viewer=viewer if signed_in else None,
            stamp=(version, reactions_version),
            counts_entry=counts_entry,
            mine_entry=mine_entry,
            counts_key=counts_key,
            mine_key=mine_key,
            ttl=ttl,
        )
    cached_parts = None
    if version is not None and shared_found and messages:
        cached_parts = _page_shared_parts(messages, found=shared_found, version=version, ttl=ttl)
    results: list[dict[str, Any]] | EncodedList
    if as_json and hides_none:
        # The cached JSON spliced as it is.
        results = _encoded_viewer_payloads(
            encoded, messages, viewer=viewer, reactions=reactions, cached_parts=cached_parts
        )
    else:
        results = _viewer_payloads(
            [_decoded_shared(head, media) for head, media in encoded],
            messages,
            viewer=viewer,
            viewer_blocks_anyone=viewer_blocks_anyone,
            reactions=reactions,
            cached_parts=cached_parts,
        )
    page = {"results": results, "has_more": has_more}
    if around is not None:
        page["has_newer"] = has_newer
    return page


# --- search inside a room ---------------------------------------------------------------
# docs/search.md explains the choices: terms in Korean, Japanese or Chinese match inside
# words (substring), other terms match whole words; every term must match. On PostgreSQL
# an n-gram GIN index (migration 0023) serves any length of term: trigrams for terms of
# three characters or more, bigrams for two, single characters for one.

SEARCH_MAX_QUERY_LENGTH = 100
SEARCH_MAX_TERMS = 5
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 50
# The newest messages scanned in seq order before the index is asked: a common term fills
# its page from these at once (the index would fetch every match in the room, then sort);
# a rarer one (fewer than a page in this window) comes from the index, which then only
# has few matches to fetch.
SEARCH_RECENT_WINDOW = 2000

# Hangul, kana, CJK ideographs (and their compatibility and half-width forms): scripts
# written without spaces between words, searched inside words.
_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f]"
)


@dataclass(frozen=True)
class SearchTerm:
    text: str
    # False: matched inside words (CJK); True: matched as a whole word.
    whole_word: bool

    def pattern(self, *, boundary: str) -> str:
        """The term as a case-insensitive regular expression (PostgreSQL ARE or Python
        re: only non-word characters are escaped, both read ``\\<char>`` as the char);
        ``boundary`` marks a word edge (``\\y`` in PostgreSQL, ``\\b`` in Python)."""
        escaped = re.sub(r"(\W)", r"\\\1", self.text)
        if not self.whole_word:
            return escaped
        start = boundary if re.match(r"\w", self.text) else ""
        end = boundary if re.search(r"\w$", self.text) else ""
        return f"{start}{escaped}{end}"


def parse_search_query(q: str) -> list[SearchTerm]:
    """The terms of a search (space-separated, at most ``SEARCH_MAX_TERMS``), or a
    DomainError for an empty or too long query."""
    q = unicodedata.normalize("NFC", q or "").strip()
    if not q:
        raise DomainError(_("Type something to search for."), fields={"q": [_("Required.")]})
    if len(q) > SEARCH_MAX_QUERY_LENGTH:
        raise DomainError(
            _("Search for at most %(count)s characters.") % {"count": SEARCH_MAX_QUERY_LENGTH},
            fields={"q": [_("Too long.")]},
        )
    words = list(dict.fromkeys(q.split()))[:SEARCH_MAX_TERMS]
    return [SearchTerm(text=word, whole_word=not _CJK.search(word)) for word in words]


def search_highlights(body: str, terms: list[SearchTerm]) -> list[list[int]]:
    """``[start, end)`` ranges of the terms in ``body``, in Unicode code points, sorted
    and merged: the client marks them itself (no markup in the payload)."""
    ranges = []
    for term in terms:
        pattern = term.pattern(boundary=r"\b")
        ranges.extend(match.span() for match in re.finditer(pattern, body, re.IGNORECASE))
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if end == start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _like_pattern(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _search_ids_postgresql(
    *, room_id: int, terms: list[SearchTerm], before: int | None, limit: int, hidden_sql, params
):
    """One statement for the ids of the page: the newest matches among the
    latest ``SEARCH_RECENT_WINDOW`` messages, and only when those are fewer than a page,
    the older ones through the n-gram index (``moim_message_grams``, migration 0023)."""
    match_sql, match_params = [], []
    for term in terms:
        # Hangul, kana and ideographs have no case: LIKE spares ILIKE's lower-casing.
        cased = term.text.lower() != term.text.upper()
        match_sql.append("body ILIKE %s" if cased else "body LIKE %s")
        match_params.append(_like_pattern(term.text))
        if term.whole_word:
            match_sql.append("body ~* %s")
            match_params.append(term.pattern(boundary=r"\y"))
    match = " AND ".join(match_sql)
    grams = " || ".join(["moim_search_grams(%s, %s)"] * len(terms))
    grams_params = [value for term in terms for value in (room_id, term.text)]
    not_hidden = f"(author_id IS NULL OR author_id NOT IN ({hidden_sql}))" if hidden_sql else "TRUE"
    sql = f"""
        WITH recent AS MATERIALIZED (
            SELECT id, seq, body, author_id, deleted_at FROM community_message
            WHERE room_id = %s AND seq < %s ORDER BY seq DESC LIMIT %s
        ), recent_hits AS MATERIALIZED (
            SELECT id, seq FROM recent
            WHERE deleted_at IS NULL AND {match} AND {not_hidden}
            ORDER BY seq DESC LIMIT %s
        )
        SELECT id FROM recent_hits
        UNION ALL
        SELECT id FROM (
            SELECT id FROM community_message
            WHERE room_id = %s AND deleted_at IS NULL
              AND moim_message_grams(room_id, body) @> ({grams})
              AND {match} AND {not_hidden}
              AND seq < (SELECT coalesce(min(seq), 0) FROM recent)
            ORDER BY seq DESC LIMIT %s
        ) older
        -- Outside the LIMIT, so the planner cannot push it down: a full page among the
        -- latest skips the index part before it starts (parallel workers included).
        WHERE (SELECT count(*) FROM recent_hits) < %s
    """  # noqa: S608 (every value is a parameter: only fixed SQL is formatted in)
    before = before if before is not None else 2**63 - 1
    hidden_params = list(params) if hidden_sql else []
    all_params = [
        room_id, before, SEARCH_RECENT_WINDOW,
        *match_params, *hidden_params, limit,
        room_id, *grams_params, *match_params, *hidden_params, limit, limit,
    ]  # fmt: skip
    return sql, all_params


def search_messages(
    *,
    room_id: int,
    viewer,
    terms: list[SearchTerm],
    before: int | None = None,
    limit: int = SEARCH_DEFAULT_LIMIT,
    viewer_blocks_anyone: bool | None = None,
) -> tuple[list[Message], bool]:
    """Messages of the room matching every term, newest first, and whether more exist
    (the next page: ``before`` the last one's seq). Deleted and hidden messages never
    match, nor do the messages of members the viewer blocked. One query (the payload's
    own queries aside), whatever the room's size."""
    limit = max(1, min(limit, SEARCH_MAX_LIMIT))
    hidden = None
    signed_in = viewer is not None and viewer.is_authenticated
    if signed_in and viewer_blocks_anyone is not False:
        hidden = Membership.objects.filter(hidden_membership_q(viewer), room_id=room_id).values(
            "id"
        )
    messages = _with_payload_relations(Message.objects.all())
    if connection.vendor == "postgresql":
        hidden_sql, hidden_params = ("", ()) if hidden is None else hidden.query.sql_with_params()
        sql, params = _search_ids_postgresql(
            room_id=room_id,
            terms=terms,
            before=before,
            limit=limit + 1,
            hidden_sql=hidden_sql,
            params=hidden_params,
        )
        # ``= ANY(ARRAY(…))``, not ``IN (…)``: the ids are computed once, first, and the
        # page's rows fetched by primary key; as an ``IN`` the planner cannot tell the
        # subquery yields one page, and hash-joins the room's every message.
        messages = messages.filter(
            RawSQL(  # noqa: S611 (parameters only: see _search_ids_postgresql)
                f"community_message.id = ANY(ARRAY({sql}))", params, output_field=BooleanField()
            )
        )
    else:
        # SQLite (the embedded default): a plain scan of the room's messages.
        messages = messages.filter(room_id=room_id, deleted_at__isnull=True).exclude(body="")
        if before is not None:
            messages = messages.filter(seq__lt=before)
        for term in terms:
            messages = messages.filter(body__icontains=term.text)
            if term.whole_word:
                messages = messages.filter(body__iregex=term.pattern(boundary=r"\b"))
        if hidden is not None:
            messages = messages.exclude(author__in=hidden)
    rows = list(messages.order_by("-seq")[: limit + 1])
    return rows[:limit], len(rows) > limit


# --- the chat list (the signed-in home) ------------------------------------------------------

CHAT_LIST_LIMIT = 100
PREVIEW_LENGTH = 120


def _last_visible_message_id(user) -> Subquery:
    """The latest message of the membership's room that the user may see in a preview:
    not deleted (or hidden by a moderator, which deletes it), not by a member they
    blocked; a subquery of a ``Membership`` row."""
    hidden_authors = Membership.objects.filter(hidden_membership_q(user)).values("pk")
    return Subquery(
        Message.objects.filter(room_id=OuterRef("room_id"), deleted_at__isnull=True)
        .exclude(author_id__in=hidden_authors)
        .order_by("-seq")
        .values("pk")[:1]
    )


def _preview_text(message: Message) -> str:
    """The body, or for a message without text (a photo, a poll…) what kind it is."""
    return message.body[:PREVIEW_LENGTH] if message.body else str(message.get_kind_display())


def chat_list(*, user, limit: int = CHAT_LIST_LIMIT) -> list[dict[str, Any]]:
    """The user's joined rooms, latest activity first, each with its cover, the last
    message they may see (text preview, author nickname, time), unread and mention
    counts and the notification level: two queries whatever the length.

    Authors appear by room nickname only; a message by a member the user blocked, a
    deleted or a hidden one never becomes the preview (the one before it does)."""
    memberships = list(
        my_rooms(user_id=user.pk)
        .select_related("room__cover_media__room")
        .annotate(last_message_id=_last_visible_message_id(user))
        .order_by("-activity", "-id")[:limit]
    )
    last_ids = [m.last_message_id for m in memberships if m.last_message_id]
    last_messages = {
        message.pk: message
        for message in Message.objects.filter(pk__in=last_ids)
        .select_related("author")
        .only("id", "seq", "kind", "body", "created_at", "author_id", "author__nickname")
    }
    chats = []
    for membership in memberships:
        room = membership.room
        message = last_messages.get(membership.last_message_id)
        level = room_level(membership)
        chats.append(
            {
                "room_id": room.pk,
                "title": room.title,
                "cover": image_url(room.cover_media, AVATAR_SIZE) or None,
                "nickname": membership.nickname,
                "last_activity_at": room.last_activity_at.isoformat(),
                "last_message": None
                if message is None
                else {
                    "id": message.pk,
                    "seq": message.seq,
                    "kind": message.kind,
                    "author_nickname": message.author.nickname if message.author else None,
                    "is_mine": message.author_id == membership.pk,
                    "preview": _preview_text(message),
                    "created_at": message.created_at.isoformat(),
                },
                "unread": max(int(membership.unread), 0),
                "mentions": int(membership.unread_mentions),
                "level": level,
                "muted": level == RoomNotificationLevel.Level.MUTED,
                "is_archived": room.is_archived,
            }
        )
    return chats
