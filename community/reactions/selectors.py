"""Reads for reactions: per-page summaries, "who reacted", and who may see or react.

Counts come from the denormalised :class:`~community.reactions.models.ReactionCount` rows rather
than from one ``GROUP BY`` over the reactions per page. A page of 50 messages in a busy
room would otherwise scan every reaction row of those messages (thousands, on a popular
announcement) on every history load and every room-card list; the counter rows are
one per distinct emoji per target, so a page costs the same whatever the reaction
volume. The price is a hot row under a burst (concurrent reactors to one emoji queue
on its row lock for a few milliseconds each), which is also what makes every count,
and the count in every live event, exact. Room "likes" read the same rows for trending.

A page costs a fixed number of queries whatever its size:
1. status posts only: the users the viewer blocked (skipped for anonymous viewers and
   when the caller passes them);
2. the counter rows of all targets on the page, each with whether the viewer reacted
   with that emoji (``me``) and how many of its reactions the viewer does not want to
   see, subtracted from the count: on status posts those of blocked users, in rooms
   those of blocked *members* (``profiles.selectors.hidden_membership_q``; an account
   block counts only where the reactor shows their main profile, so a count never
   tells a blocker which open profile belongs to the account they blocked).

Live ``reaction.updated`` events go to a whole room at once, so they carry the room's
shared counts; a blocker's next page load shows their own (smaller) numbers again.
"""

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import connections, router
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from community import access
from community.chat.models import Message
from community.reactions.models import Reaction, ReactionCount, ReactionTarget
from community.rooms.models import Membership, Room
from config.cache_versions import renew_versions
from config.compiled_queries import CompiledRows, int_slot
from config.errors import DomainError, NotFoundError, PermissionDeniedError
from profiles import selectors as profile_selectors
from profiles.models import StatusPost, User
from profiles.selectors import hidden_membership_q

ReactionSummary = list[dict]

logger = logging.getLogger(__name__)


# The longest page of messages whose reactions use a compiled query (one per length).
COMPILED_PAGE_MAX = 100


def _same_target(kind: ReactionTarget) -> QuerySet[Reaction]:
    return Reaction.objects.filter(
        **{kind.field: OuterRef(kind.field)}, emoji=OuterRef("emoji")
    ).order_by()


def _counts_queryset(
    kind: ReactionTarget, ids: list, viewer, *, ids_array: bool = False
) -> QuerySet[ReactionCount]:
    """The counter rows of the targets, with the viewer's own ``me`` as a subquery:
    one round trip for the page, not two. ``ids_array`` (PostgreSQL): the ids are one
    array parameter, ``= ANY(%s)``, instead of one parameter each."""
    if ids_array:
        column = (
            f'"{ReactionCount._meta.db_table}"."{ReactionCount._meta.get_field(kind.field).column}"'
        )
        targets = RawSQL(f"{column} = ANY(%s)", (ids,), output_field=BooleanField())  # noqa: S611 (names from the model; the ids a parameter)
        counts = ReactionCount.objects.filter(targets, count__gt=0)
    else:
        counts = ReactionCount.objects.filter(**{f"{kind.field}__in": ids}, count__gt=0)
    counts = counts.order_by("id")
    if viewer is not None:
        counts = counts.annotate(me=Exists(_same_target(kind).filter(user=viewer)))
    return counts


# The targets whose counts use a compiled query when the viewer hides no one: pages of
# messages (one query per page length) and a room's likes on its page.
_COMPILED_KINDS = (ReactionTarget.MESSAGE, ReactionTarget.ROOM)


@functools.cache
def _compiled_counts_query(
    *, kind: ReactionTarget, alias: str, ids: int, signed_in: bool
) -> CompiledRows:
    """``_counts_queryset`` of ``ids`` messages (or rooms) compiled once per process,
    database and page size: building it took ~1.5 ms of CPU per history page, running it
    ~0.2 ms (docs/performance.md, "Message history"); ~0.7 ms of a room page. ``ids=0``:
    the ids as one array (slot ``ids``, PostgreSQL), one query for every page size;
    psycopg parses a statement of over 50 parameters again on every call (a page of 50
    had 52), one of few only once."""
    slots: dict = {f"id{index}": int_slot(100 + index) for index in range(ids)}
    if not ids:
        slots["ids"] = [int_slot(100)]
    if signed_in:
        slots["viewer"] = int_slot(1)
    queryset = _counts_queryset(
        kind,
        slots["ids"] if not ids else [slots[f"id{index}"] for index in range(ids)],
        slots.get("viewer"),
        ids_array=not ids,
    ).values(kind.field, "emoji", "count", *(["me"] if signed_in else []))
    return CompiledRows.build(queryset, alias=alias, slots=slots)


def reaction_summaries(
    target_type: str,
    ids: Iterable[int],
    viewer: User | None,
    *,
    blocked_ids: set[int] | None = None,
    viewer_blocks_anyone: bool | None = None,
) -> dict[int, ReactionSummary]:
    """``{target id: [{"emoji", "count", "me"}]}`` for a page of targets, emoji in first-used order.

    Every id asked for is in the result (an empty list when nothing is on it). Reactions
    the viewer does not want to see are left out of the counts:

    - on status posts (main profiles), those of users the viewer blocked; pass
      ``blocked_ids`` when the caller already has them
      (``profiles.selectors.blocked_user_ids``) to save a query;
    - in rooms (messages, room likes), those of the members the viewer blocked
      (``profiles.selectors.hidden_membership_q``: member blocks, and account blocks
      only where the reactor shows their main profile), as a subquery of the same
      query; ``viewer_blocks_anyone=False`` leaves it out.
    """
    kind = ReactionTarget(target_type)
    ids = list(dict.fromkeys(ids))
    summaries: dict[int, ReactionSummary] = {target_id: [] for target_id in ids}
    if not ids:
        return summaries
    field = kind.field
    signed_in = viewer is not None and viewer.is_authenticated
    hides_none = not signed_in or viewer_blocks_anyone is False
    if kind in _COMPILED_KINDS and hides_none and len(ids) <= COMPILED_PAGE_MAX:
        # A page of messages (or a room) with nobody's share to hide: the query compiled once.
        alias = router.db_for_read(ReactionCount)
        as_array = connections[alias].vendor == "postgresql"
        query = _compiled_counts_query(
            kind=kind, alias=alias, ids=0 if as_array else len(ids), signed_in=signed_in
        )
        values: dict = (
            {"ids": ids}
            if as_array
            else {f"id{index}": target_id for index, target_id in enumerate(ids)}
        )
        if signed_in:
            values["viewer"] = viewer.pk
        names, rows = query.fetch(**values)
        for row in rows:
            found = dict(zip(names, row, strict=True))
            if found["count"] > 0:
                summaries[found[field]].append(
                    {"emoji": found["emoji"], "count": found["count"], "me": bool(found.get("me"))}
                )
        return summaries
    counts = _counts_queryset(kind, ids, viewer if signed_in else None)
    columns = [field, "emoji", "count"]
    if signed_in:
        columns.append("me")
        same_target = _same_target(kind)
        hidden_rows = None
        if kind == ReactionTarget.STATUS_POST:
            if blocked_ids is None:
                blocked_ids = blocked_user_ids(viewer)
            if blocked_ids:
                hidden_rows = same_target.filter(user_id__in=blocked_ids)
        elif viewer_blocks_anyone is not False:
            hidden_rows = same_target.filter(hidden_membership_q(viewer, prefix="membership__"))
        if hidden_rows is not None:
            hidden = hidden_rows.values(field).annotate(n=Count("id")).values("n")
            counts = counts.annotate(hidden=Coalesce(Subquery(hidden), 0))
            columns.append("hidden")
    for row in counts.values(*columns):
        count = row["count"] - row.get("hidden", 0)
        if count > 0:
            summaries[row[field]].append(
                {"emoji": row["emoji"], "count": count, "me": row.get("me", False)}
            )
    return summaries


# --- The reactions of cached history pages -----------------------------------------------
# A history page keeps its messages' reaction counts (and each reader's own ``me``) in the
# cache under the room's reaction version (community.chat.selectors.history_page), apart
# from the page's messages: a tap renews only this version, so the next reader pays one
# query for the counts, not a miss of the whole page. Every writer of message reactions
# or their counters renews it: ``do_add_reaction``, ``do_remove_reaction``,
# ``take_back_reactions`` (moderators, account deletion), ``recount_reaction_counters``.


def room_reactions_version_key(room_id: int) -> str:
    return f"reactions:room-version:{room_id}"


def forget_room_reactions(room_ids) -> None:
    """The cached reactions of these rooms' history pages are stale: a new version now
    (what this transaction reads from here on) and again once it commits (counts read by
    someone else before the commit, stored under the first new version, are dropped)."""
    ids = {int(pk) for pk in room_ids if pk is not None}
    if not ids or not settings.CHAT_HISTORY_CACHE_SECONDS:
        return
    renew_versions((room_reactions_version_key(pk) for pk in ids), what="reactions cache")


def forget_message_reactions(message_ids) -> None:
    """``forget_room_reactions`` for the rooms of these messages (one query)."""
    ids = {int(pk) for pk in message_ids if pk is not None}
    if ids and settings.CHAT_HISTORY_CACHE_SECONDS:
        forget_room_reactions(
            Message.objects.filter(pk__in=ids).values_list("room_id", flat=True).distinct()
        )


def with_reaction_summaries(target_type: str, objects: list, *, viewer: User | None) -> list:
    """Set ``reaction_summary`` on each object of a page (rooms, posts, for templates and
    serializers) with one :func:`reaction_summaries` call; returns the objects."""
    summaries = reaction_summaries(target_type, [obj.pk for obj in objects], viewer)
    for obj in objects:
        obj.reaction_summary = summaries[obj.pk]
    return objects


def reaction_summary(target_type: str, target_id: int, viewer: User | None) -> ReactionSummary:
    return reaction_summaries(target_type, [target_id], viewer)[target_id]


def reaction_counts(target_type: str, target_id: int) -> list[dict]:
    """``[{"emoji", "count"}]`` as committed, for the live event every viewer shares."""
    field = ReactionTarget(target_type).field
    rows = (
        ReactionCount.objects.filter(**{field: target_id}, count__gt=0)
        .order_by("id")
        .values_list("emoji", "count")
    )
    return [{"emoji": emoji, "count": count} for emoji, count in rows]


# --- Blocks -----------------------------------------------------------------------------
def blocked_user_ids(user: User) -> set[int]:
    """Ids of the users ``user`` has blocked (blocks belong to profiles)."""
    return set(profile_selectors.blocked_user_ids(user))


# --- Targets and permissions ---------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedTarget:
    """A reaction target and the room it lives in (None for status posts)."""

    kind: ReactionTarget
    id: int
    room_id: int | None = None
    author_id: int | None = None  # status posts: the profile owner

    @property
    def column(self) -> dict[str, int]:
        """``{"message_id": 5}``: the filter and the constructor argument for this target."""
        return {self.kind.field: self.id}

    @property
    def group(self) -> str | None:
        return f"room.{self.room_id}" if self.room_id is not None else None


def resolve_target(target_type: str, target_id: int) -> ResolvedTarget:
    """The target, or NotFoundError (also for a deleted message or a closed room)."""
    try:
        kind = ReactionTarget(target_type)
    except ValueError as exc:
        raise NotFoundError(_("Unknown reaction target.")) from exc
    if kind == ReactionTarget.MESSAGE:
        message = (
            Message.objects.filter(
                pk=target_id,
                deleted_at__isnull=True,
                room__is_archived=False,
                room__is_suspended=False,
            )
            .values_list("room_id", flat=True)
            .first()
        )
        if message is None:
            raise NotFoundError(_("This message does not exist or was deleted."))
        return ResolvedTarget(kind=kind, id=target_id, room_id=message)
    if kind == ReactionTarget.ROOM:
        if not Room.objects.filter(pk=target_id, is_archived=False, is_suspended=False).exists():
            raise NotFoundError(_("This room does not exist or is closed."))
        return ResolvedTarget(kind=kind, id=target_id, room_id=target_id)
    author_id = StatusPost.objects.filter(pk=target_id).values_list("author_id", flat=True).first()
    if author_id is None:
        raise NotFoundError(_("This post does not exist."))
    return ResolvedTarget(kind=kind, id=target_id, author_id=author_id)


def reacting_membership(*, room_id: int, user: User, lock: bool = False) -> Membership:
    """The user's active membership in the room (community.access), or
    PermissionDeniedError saying why not (banned, or not a member)."""
    membership = access.active_membership(room_id=room_id, user=user, lock=lock)
    if membership is not None:
        return membership
    if Membership.objects.filter(
        room_id=room_id, user_id=user.pk, state=Membership.State.BANNED
    ).exists():
        raise PermissionDeniedError(_("You are banned from this room."), code="banned")
    raise PermissionDeniedError(_("Join this room to react."), code="not_member")


def check_can_react(*, membership: Membership) -> None:
    if membership.muted_until is not None and membership.muted_until > timezone.now():
        raise PermissionDeniedError(_("You are muted in this room."), code="muted")


def check_not_blocked(*, author_id: int, user: User) -> None:
    """Neither side of a block sees or reacts to the other's posts' reactions.

    A user the author blocked gets "not found", as for the post itself in the profiles
    app (a block is not announced); a user who blocked the author is told why.
    """
    if author_id == user.pk:
        return
    blocked_by_author, blocked_by_user = _blocks_between(author_id=author_id, user_id=user.pk)
    if blocked_by_author:
        raise NotFoundError(_("This post does not exist."))
    if blocked_by_user:
        raise PermissionDeniedError(
            _("You blocked this person. Unblock them to see or add reactions."), code="blocked"
        )


def _blocks_between(*, author_id: int, user_id: int) -> tuple[bool, bool]:
    """(author blocked user, user blocked author), in one query when blocks exist."""
    try:
        block_model = apps.get_model("profiles", "Block")
    except LookupError:
        return False, False
    pairs = set(
        block_model.objects.filter(
            Q(blocker_id=author_id, blocked_id=user_id)
            | Q(blocker_id=user_id, blocked_id=author_id)
        ).values_list("blocker_id", flat=True)
    )
    return author_id in pairs, user_id in pairs


def check_target_visible(*, target: ResolvedTarget, viewer: User | None) -> None:
    """A message or a like in a private (or suspended) room is missing to anyone who is
    not in it: the same 404 as a missing target, before any other check answers 403."""
    if target.room_id is None:
        return
    room = Room.objects.filter(pk=target.room_id).only("visibility", "is_suspended").first()
    if room is None or not access.room_is_hidden_from_non_members(room):
        return
    in_room = (
        viewer is not None
        and viewer.is_authenticated
        and Membership.objects.filter(
            room_id=target.room_id,
            user=viewer,
            state__in=[Membership.State.ACTIVE, Membership.State.BANNED],
        ).exists()
    )
    if not in_room:
        if target.kind == ReactionTarget.ROOM:
            raise NotFoundError(_("This room does not exist or is closed."))
        raise NotFoundError(_("This message does not exist or was deleted."))


def check_can_view_reactions(*, target: ResolvedTarget, viewer: User) -> None:
    """Message reactions are for the room's members; a room's likes are public like its
    card; a status post's are hidden from a user the author blocked."""
    if target.kind == ReactionTarget.MESSAGE:
        reacting_membership(room_id=target.room_id, user=viewer)
    elif target.kind == ReactionTarget.STATUS_POST:
        check_not_blocked(author_id=target.author_id, user=viewer)


# --- Who reacted ------------------------------------------------------------------------------
def reactors(*, target: ResolvedTarget, emoji: str, viewer: User) -> QuerySet[Reaction]:
    """Who put ``emoji`` on the target, for the viewer; ordered by the paginator.

    In a room, only members see who reacted, and people appear as their room
    membership (nickname), never as their account. Reactions of users the viewer
    blocked are left out; on status posts a user blocked by the author sees none.
    """
    if not emoji:
        raise DomainError(_("Choose an emoji."), fields={"emoji": [_("Required.")]})
    reactions = Reaction.objects.filter(**target.column, emoji=emoji)
    if target.room_id is not None:
        reacting_membership(room_id=target.room_id, user=viewer)
        # Members the viewer blocked; an account block only where the reactor shows
        # their main profile (an open profile is never singled out by a handle).
        hidden = hidden_membership_q(viewer, prefix="membership__")
        return reactions.exclude(hidden).select_related("membership__avatar_media__room").only(
            "id", "emoji", "created_at", "membership__id", "membership__nickname",
            "membership__room_id", "membership__avatar_media",
        )  # fmt: skip
    check_not_blocked(author_id=target.author_id, user=viewer)
    return (
        reactions.exclude(user_id__in=blocked_user_ids(viewer))
        .select_related("user__profile__avatar_media")
        .only(
            "id", "emoji", "created_at", "user__id", "user__profile__handle",
            "user__profile__display_name", "user__profile__avatar_media",
        )
    )  # fmt: skip


# --- Trending -------------------------------------------------------------------------------
def room_like_totals(room_ids: Iterable[int]) -> dict[int, int]:
    """``{room id: reactions on the room, all emoji}`` in one query, for ranking rooms."""
    ids = list(room_ids)
    totals = dict.fromkeys(ids, 0)
    rows = (
        ReactionCount.objects.filter(room_id__in=ids, count__gt=0)
        .values("room_id")
        .annotate(total=Sum("count"))
        .values_list("room_id", "total")
    )
    totals.update(rows)
    return totals


def recent_room_likes(*, since, limit: int = 100) -> list[tuple[int, int]]:
    """``[(room id, likes since ``since``)]``, most liked first: the "rising" signal."""
    return list(
        Reaction.objects.filter(room__isnull=False, created_at__gte=since)
        .values("room_id")
        .annotate(n=Count("id"))
        .order_by("-n", "room_id")
        .values_list("room_id", "n")[:limit]
    )


# --- Export ----------------------------------------------------------------------------------
def export_reactions(user: User) -> list[dict]:
    """The user's reactions for "export everything about me" (rooms by the user's nickname)."""
    rows = (
        Reaction.objects.filter(user=user)
        .select_related("membership")
        .order_by("id")
        .only("emoji", "created_at", "membership__nickname", *ReactionTarget.values)
    )
    return [
        {
            "emoji": reaction.emoji,
            "target_type": reaction.target_type.value,
            "target_id": reaction.target_id,
            "as_nickname": reaction.membership.nickname if reaction.membership else None,
            "reacted_at": reaction.created_at,
        }
        for reaction in rows
    ]


# The quick reaction bar offers this many of a room's favourites.
TOP_EMOJI_LIMIT = 6


def room_top_emoji(*, room_id: int, limit: int = TOP_EMOJI_LIMIT) -> list[str]:
    """The emoji most used on the room's messages, most used first, in one query (the
    chat's quick reaction bar offers them before the defaults)."""
    rows = (
        ReactionCount.objects.filter(message__room_id=room_id, count__gt=0)
        .values("emoji")
        .annotate(total=Sum("count"))
        .order_by("-total", "emoji")[:limit]
    )
    return [row["emoji"] for row in rows]
