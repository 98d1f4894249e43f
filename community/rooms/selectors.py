"""Reads for rooms: visibility, member lists, search, trending, for-you and similar rooms.

Every list is one query for the rooms plus two prefetches (interests, hashtags),
whatever its length; the viewer's membership is annotated, not fetched per room.

Ranking is deliberately friendly to small and new rooms: activity is divided by the
square root of the room's size (a busy 10-person room can outrank a quiet 1,000-person
one), and rooms opened in the last three days get a boost.
"""

import functools
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, router, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Power
from django.utils import timezone
from django.utils.translation import get_language, get_language_info, gettext

from community.access import can_read_room_content, can_see_room
from community.chat.models import Message
from community.media.selectors import member_avatar_url
from community.moderation.models import RoomAnnouncement
from community.reactions.models import Reaction
from community.reactions.selectors import with_reaction_summaries
from community.rooms.models import Interest, JoinRequest, MemberBlock, Membership, Room, RoomInvite
from config.compiled_queries import CompiledQuery, CompiledRows, int_slot
from config.errors import NotFoundError
from profiles.models import Profile, User
from profiles.selectors import blocks_anyone
from profiles.text import fold

# --- trending ---------------------------------------------------------------------------
# Activity loses half its weight every TRENDING_HALF_LIFE_HOURS; events older than the
# last bucket do not count. Buckets keep the decay portable (no exp() in SQLite).
TRENDING_HALF_LIFE_HOURS = 6
TRENDING_BUCKET_HOURS = (1, 3, 6, 12, 24, 48)
JOIN_WEIGHT = 3.0
# A room "like" (any reaction on the room itself, see community/reactions/selectors.py).
LIKE_WEIGHT = 2.0
NEW_ROOM_BOOST = 2.0
SIZE_DAMPING = 8  # added to the member count before the square root


def _bucket_weights() -> list[tuple[int, float]]:
    """(upper age in hours, weight at the bucket's middle age) pairs."""
    weights, lower = [], 0
    for upper in TRENDING_BUCKET_HOURS:
        middle = (lower + upper) / 2
        weights.append((upper, 0.5 ** (middle / TRENDING_HALF_LIFE_HOURS)))
        lower = upper
    return weights


def _decayed(field: str, now) -> Case:
    return Case(
        *[
            When(**{f"{field}__gte": now - timedelta(hours=upper)}, then=Value(weight))
            for upper, weight in _bucket_weights()
        ],
        default=Value(0.0),
        output_field=FloatField(),
    )


def _decayed_sum(queryset: QuerySet, field: str, now) -> Coalesce:
    horizon = now - timedelta(hours=TRENDING_BUCKET_HOURS[-1])
    rows = (
        queryset.filter(room=OuterRef("pk"), **{f"{field}__gte": horizon})
        .order_by()
        .values("room")
        .annotate(heat=Sum(_decayed(field, now)))
        .values("heat")
    )
    return Coalesce(Subquery(rows, output_field=FloatField()), Value(0.0))


def with_trend_score(queryset: QuerySet[Room], now=None) -> QuerySet[Room]:
    """Annotate ``heat`` (decayed recent messages, joins and likes) and size-fair
    ``trend_score``. Likes heat a room that is active in the window; on their own they
    do not put an idle room back on the shelf.
    """
    now = now or timezone.now()
    messages = _decayed_sum(Message.objects.filter(deleted_at__isnull=True), "created_at", now)
    joins = _decayed_sum(Membership.objects.all(), "joined_at", now)
    likes = _decayed_sum(Reaction.objects.filter(room__isnull=False), "created_at", now)
    new_room = Case(
        When(created_at__gte=now - timedelta(days=1), then=Value(NEW_ROOM_BOOST)),
        When(created_at__gte=now - timedelta(days=3), then=Value(NEW_ROOM_BOOST / 2)),
        default=Value(0.0),
        output_field=FloatField(),
    )
    horizon = now - timedelta(hours=TRENDING_BUCKET_HOURS[-1])
    # Rooms idle since before the window score 0 without running the subqueries.
    recent_activity = Case(
        When(last_activity_at__lt=horizon, then=Value(0.0)),
        default=messages + Value(JOIN_WEIGHT) * joins + Value(LIKE_WEIGHT) * likes,
        output_field=FloatField(),
    )
    return queryset.annotate(
        heat=recent_activity,
        trend_score=F("heat")
        / Power(F("member_count") + Value(SIZE_DAMPING, output_field=FloatField()), Value(0.5))
        + new_room,
    )


# --- visibility and viewer annotations ---------------------------------------------------


def live_rooms() -> QuerySet[Room]:
    return Room.objects.filter(is_archived=False, is_suspended=False)


def listed_rooms() -> QuerySet[Room]:
    """Public, live rooms with what a room card shows, in a fixed number of queries."""
    return (
        live_rooms()
        .filter(visibility=Room.Visibility.PUBLIC)
        .prefetch_related("interests", "hashtags")
        .order_by("-last_activity_at", "-id")
    )


def with_viewer(queryset: QuerySet[Room], viewer: User | None) -> QuerySet[Room]:
    """Annotate the viewer's membership id, role and whether they have a pending request."""
    if viewer is None or not viewer.is_authenticated:
        return queryset.annotate(
            viewer_membership_id=Value(None, output_field=IntegerField()),
            viewer_role=Value(None, output_field=CharField()),
            viewer_muted_until=Value(None, output_field=DateTimeField()),
            viewer_has_pending_request=Value(False, output_field=BooleanField()),
        )
    mine = Membership.objects.filter(
        room=OuterRef("pk"), user=viewer, state=Membership.State.ACTIVE
    )
    return queryset.annotate(
        viewer_membership_id=Subquery(mine.values("pk")[:1]),
        viewer_role=Subquery(mine.values("role")[:1]),
        viewer_muted_until=Subquery(mine.values("muted_until")[:1]),
        viewer_has_pending_request=Exists(
            JoinRequest.objects.filter(
                room=OuterRef("pk"), user=viewer, state=JoinRequest.State.PENDING
            )
        ),
    )


def room_cards(queryset: QuerySet[Room], viewer: User | None) -> QuerySet[Room]:
    return with_viewer(
        queryset.select_related("cover_media__room").prefetch_related(
            Prefetch("interests", queryset=Interest.objects.select_related("parent")),
            "hashtags",
        ),
        viewer,
    )


# --- offers: what a room costs and what the viewer holds (rooms never import commerce) ---
# ``loader(rooms, viewer) -> {room_id: {"price": {...}, "access": {...} | None}}``, one
# query per call whatever the number of rooms; registered by commerce's AppConfig.ready.
RoomOfferLoader = Callable[[list[Room], Any], dict[int, dict]]
_ROOM_OFFER_LOADERS: list[RoomOfferLoader] = []


def register_room_offer_loader(*, loader: RoomOfferLoader) -> None:
    """Add what a paid room costs (``price``) and the viewer's paid ``access`` to the
    rooms' cards, page and API payload (``room.offer``; None: free to join)."""
    if loader not in _ROOM_OFFER_LOADERS:
        _ROOM_OFFER_LOADERS.append(loader)


def with_room_offers(rooms: list[Room], *, viewer: User | None) -> list[Room]:
    """Set ``room.offer`` on each room (None for a free room): one query per loader
    for the whole list."""
    offers: dict[int, dict] = {}
    if rooms:
        for loader in _ROOM_OFFER_LOADERS:
            offers.update(loader(rooms, viewer))
    for room in rooms:
        room.offer = offers.get(room.pk)
    return rooms


def can_read_room(room: Room, viewer: User | None) -> bool:
    """Who may see a room (page, detail, members): ``community.access``."""
    return can_see_room(
        room,
        signed_in=viewer is not None and viewer.is_authenticated,
        is_member=getattr(room, "viewer_membership_id", None) is not None,
    )


def can_read_messages(room: Room) -> bool:
    """Whether the viewer of ``room`` (annotated by :func:`with_viewer`) may read what is
    said in it: active members, and anyone in a web-public room."""
    return can_read_room_content(
        room, is_member=getattr(room, "viewer_membership_id", None) is not None
    )


def get_room_for_viewer(*, room_id: int, viewer: User | None) -> Room:
    """The room with viewer annotations, or NotFoundError when the viewer may not read it."""
    room = room_cards(Room.objects.filter(pk=room_id), viewer).first()
    if room is None or not can_read_room(room, viewer):
        raise NotFoundError(gettext("Room not found."))
    return room


def _room_page_queryset(
    room_id: int, viewer_id: int | None = None, *, non_member: bool = False
) -> QuerySet[Room]:
    rooms = Room.objects.filter(pk=room_id).select_related(
        "cover_media__room", "announcement__pinned_by", "announcement__message"
    )
    if viewer_id is not None:
        rooms = rooms.annotate(viewer_blocks_anyone=blocks_anyone(viewer_id))
        if non_member:
            rooms = rooms.annotate(
                viewer_has_pending_request=Exists(
                    JoinRequest.objects.filter(
                        room=OuterRef("pk"), user_id=viewer_id, state=JoinRequest.State.PENDING
                    )
                )
            )
    return rooms.order_by("pk")[:1]


# The room page's two queries, compiled once per process (config/compiled_queries.py):
# building them took ~2.2 ms of CPU per page, running them ~0.3 ms (docs/performance.md,
# "Discover and room pages").
_ACTIVE_MEMBERSHIP = CompiledQuery(
    Membership,
    lambda room_id, user_id: Membership.objects.filter(
        room_id=room_id, user_id=user_id, state=Membership.State.ACTIVE
    ).order_by("pk")[:1],
    kinds=(int, int),
)
_ROOM_PAGE_ANONYMOUS = CompiledQuery(Room, _room_page_queryset, kinds=(int,))
_ROOM_PAGE_MEMBER = CompiledQuery(Room, _room_page_queryset, kinds=(int, int))
_ROOM_PAGE_NON_MEMBER = CompiledQuery(
    Room,
    lambda room_id, viewer_id: _room_page_queryset(room_id, viewer_id, non_member=True),
    kinds=(int, int),
)


def room_page_for_viewer(*, room_id: int, viewer: User | None) -> tuple[Room, Membership | None]:
    """The room for its page, as :func:`get_room_for_viewer` annotates it, and the
    viewer's active membership, in two queries: the membership first, so the room query
    carries no per-row membership subqueries (only "asked to join?" for a signed-in
    non-member), and ``room.viewer_blocks_anyone`` (whether the viewer's like counts
    hide anyone), with the room's notice joined in (:func:`page_announcement`).
    NotFoundError when the viewer may not read the room."""
    signed_in = viewer is not None and viewer.is_authenticated
    membership = None
    if not signed_in:
        room = _ROOM_PAGE_ANONYMOUS.first(room_id)
    else:
        membership = _ACTIVE_MEMBERSHIP.first(room_id, viewer.pk)
        query = _ROOM_PAGE_MEMBER if membership is not None else _ROOM_PAGE_NON_MEMBER
        room = query.first(room_id, viewer.pk)
    if room is not None:
        room.viewer_membership_id = membership.pk if membership else None
        room.viewer_role = membership.role if membership else None
        room.viewer_muted_until = membership.muted_until if membership else None
        if not signed_in:
            room.viewer_blocks_anyone = False
        if membership is not None or not signed_in:
            room.viewer_has_pending_request = False
    if room is None or not can_read_room(room, viewer):
        raise NotFoundError(gettext("Room not found."))
    _with_topics(room)
    return room, membership


def _topics_key(room_id: int) -> str:
    return _discover_key("topics", str(room_id))


def _with_topics(room: Room) -> None:
    """``room.interests.all()`` and ``room.hashtags.all()`` without a query: the same for
    every viewer, kept DISCOVER_CACHE_SECONDS (forgotten by the writers that change
    them: :func:`forget_discover_pages` with the room)."""
    key = _topics_key(room.pk)
    topics = cache.get(key)
    if topics is None:
        prefetch_related_objects([room], "interests", "hashtags")
        topics = {name: room._prefetched_objects_cache[name] for name in ("interests", "hashtags")}
        cache.set(key, {name: list(rows) for name, rows in topics.items()}, DISCOVER_CACHE_SECONDS)
        return
    prefetched = getattr(room, "_prefetched_objects_cache", {})
    for name, rows in topics.items():
        queryset = getattr(room, name).all()
        queryset._result_cache, queryset._prefetch_done = rows, True
        prefetched[name] = queryset
    room._prefetched_objects_cache = prefetched


def invite_is_usable(invite: RoomInvite) -> bool:
    if invite.revoked_at is not None:
        return False
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        return False
    return not (invite.max_uses and invite.use_count >= invite.max_uses)


def room_visible_to(*, room_id: int, viewer: User | None, invite_code: str = "") -> Room | None:
    """The live room if ``viewer`` may see it, or may because they hold a usable invite
    to it (a private room's invitee); else None, exactly as for a missing room."""
    room = room_cards(live_rooms().filter(pk=room_id), viewer).first()
    if room is None or can_read_room(room, viewer):
        return room
    invite = RoomInvite.objects.filter(room_id=room_id, code=invite_code).first()
    return room if invite_code and invite is not None and invite_is_usable(invite) else None


def viewer_membership(*, room: Room, viewer: User | None) -> Membership | None:
    if viewer is None or not viewer.is_authenticated:
        return None
    return Membership.objects.filter(room=room, user=viewer, state=Membership.State.ACTIVE).first()


# --- members -------------------------------------------------------------------------------


def with_main_handle(queryset: QuerySet[Membership]) -> QuerySet[Membership]:
    """``main_handle`` is the main profile's handle, only for members who chose to show it."""
    return queryset.annotate(
        main_handle=Case(
            When(
                is_open_profile=False,
                then=Subquery(Profile.objects.filter(user=OuterRef("user")).values("handle")[:1]),
            ),
            default=Value(None),
        )
    )


def room_members(*, room: Room) -> QuerySet[Membership]:
    """Active members, hosts first. Never joins the user: members are shown by nickname."""
    role_order = Case(
        When(role=Membership.Role.OWNER, then=Value(0)),
        When(role=Membership.Role.COHOST, then=Value(1)),
        default=Value(2),
    )
    return with_main_handle(
        Membership.objects.filter(room=room, state=Membership.State.ACTIVE)
        .select_related("avatar_media__room")
        .annotate(role_order=role_order)
        .order_by("role_order", "id")
    )


def banned_members(*, room: Room) -> QuerySet[Membership]:
    return with_main_handle(
        Membership.objects.filter(room=room, state=Membership.State.BANNED).order_by("-banned_at")
    )


def member_payload(membership: Membership) -> dict:
    """How a member appears anywhere (pages, API, sockets): nickname and room avatar only.

    The main profile's handle appears only when the member turned the open profile off.
    """
    handle = None
    if not membership.is_open_profile:
        handle = getattr(membership, "main_handle", None)
        if handle is None:
            handle = (
                Profile.objects.filter(user_id=membership.user_id)
                .values_list("handle", flat=True)
                .first()
            )
    return {
        "id": membership.pk,
        "nickname": membership.nickname,
        "avatar": member_avatar_url(membership),
        "role": membership.role,
        "is_open_profile": membership.is_open_profile,
        "profile_handle": handle,
        "muted_until": membership.muted_until.isoformat() if membership.muted_until else None,
        "joined_at": membership.joined_at.isoformat() if membership.joined_at else None,
    }


def my_member_blocks(*, room: Room, viewer: User) -> QuerySet[MemberBlock]:
    return MemberBlock.objects.filter(room=room, blocker=viewer).select_related("membership")


def pending_join_requests(*, room: Room) -> QuerySet[JoinRequest]:
    return JoinRequest.objects.filter(room=room, state=JoinRequest.State.PENDING).order_by("id")


# --- discovery -----------------------------------------------------------------------------


def _exclude_joined(queryset: QuerySet[Room], viewer: User | None) -> QuerySet[Room]:
    if viewer is None or not viewer.is_authenticated:
        return queryset
    return queryset.exclude(
        Exists(
            Membership.objects.filter(
                room=OuterRef("pk"),
                user=viewer,
                state__in=[Membership.State.ACTIVE, Membership.State.BANNED],
            )
        )
    )


def viewer_languages(viewer: User | None) -> list[str]:
    """Languages the viewer reads, best first: the page's language, their account language,
    then the languages on their profile (one query for signed-in viewers)."""
    languages = [get_language() or settings.LANGUAGE_CODE]
    if viewer is not None and viewer.is_authenticated:
        languages.append(viewer.locale)
        spoken = Profile.objects.filter(user=viewer).values_list("languages", flat=True).first()
        languages += [str(code) for code in spoken or []]
    return [code.lower() for code in dict.fromkeys(languages) if code]


def search_rooms(
    *,
    viewer: User | None,
    q: str = "",
    interest: str = "",
    language: str = "",
) -> QuerySet[Room]:
    """Listed rooms matching text over title, description, hashtags and interest names.

    On PostgreSQL the folded query is matched by substring (``LIKE``, served by the GIN
    trigram index, so it finds Korean and Japanese words inside longer text) or by trigram
    word similarity (typos), and ranked by similarity. Elsewhere a substring match.
    Among equally relevant rooms, those in a language the viewer reads come first.
    """
    rooms = with_trend_score(live_rooms().filter(visibility=Room.Visibility.PUBLIC))
    languages = viewer_languages(viewer)
    rooms = rooms.annotate(
        in_viewer_language=Case(
            *[
                When(language=code, then=Value(len(languages) - rank))
                for rank, code in enumerate(languages)
            ],
            default=Value(0),
            output_field=IntegerField(),
        )
    )
    if interest:
        rooms = rooms.filter(
            Exists(
                Room.interests.through.objects.filter(room_id=OuterRef("pk")).filter(
                    Q(interest__slug=interest) | Q(interest__parent__slug=interest)
                )
            )
        )
    if language:
        rooms = rooms.filter(language=language.strip().lower())
    needle = fold(q)[:100]
    if needle:
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import TrigramWordSimilarity

            rooms = rooms.annotate(
                similarity=TrigramWordSimilarity(Value(needle), "search_text")
            ).filter(Q(search_text__contains=needle) | Q(similarity__gte=0.5))
            relevance = F("similarity")
        else:
            rooms = rooms.filter(search_text__contains=needle)
            relevance = Value(0.0)
        in_title = Case(
            When(title__icontains=q.strip(), then=Value(1.0)),
            default=Value(0.0),
            output_field=FloatField(),
        )
        rooms = rooms.annotate(relevance=relevance + in_title).order_by(
            "-relevance", "-in_viewer_language", "-trend_score", "-id"
        )
    else:
        rooms = rooms.order_by("-in_viewer_language", "-trend_score", "-last_activity_at", "-id")
    return room_cards(rooms, viewer)


def trending_rooms(*, viewer: User | None, language: str = "") -> QuerySet[Room]:
    """Listed rooms with activity in the trending window, hottest (size-fairly) first."""
    now = timezone.now()
    horizon = now - timedelta(hours=TRENDING_BUCKET_HOURS[-1])
    rooms = live_rooms().filter(visibility=Room.Visibility.PUBLIC, last_activity_at__gte=horizon)
    if language:
        rooms = rooms.filter(language=language)
    rooms = with_trend_score(rooms, now).filter(trend_score__gt=0)
    return room_cards(rooms.order_by("-trend_score", "-id"), viewer)


# --- discover: what every viewer sees alike ----------------------------------------------
# Ranking the shelves (trend scores over every listed room) is most of the discover page's
# cost and the same for everyone, so the order is kept for a few seconds and shared:
# ``discover_shared`` for everyone, and the whole shelves HTML for anonymous visitors
# (who have no per-viewer parts). The room writers that can take a room off the shelves
# or change its card (edit, archive, suspend) forget the anonymous HTML on commit; the
# ids are only an order: the cards are re-read with the live/public filters each time.
DISCOVER_CACHE_SECONDS = 10
# A ranked part older than DISCOVER_CACHE_SECONDS is stale, not gone: the one request
# that takes its rebuild lock ranks it again while every other request keeps showing the
# stale order (up to DISCOVER_STALE_SECONDS old). Without this, every request arriving
# during a rebuild ranked the same rooms again: with busy rooms a ranking takes tenths
# of a second, and 16 concurrent rankings every 10 s put the signed-in page's p99 at
# seconds. A writer's forget_discover_pages still drops the part outright.
DISCOVER_STALE_SECONDS = 120
DISCOVER_REBUILD_LOCK_SECONDS = 30


def _discover_key(kind: str, language: str = "") -> str:
    return f"discover:v2:{kind}:{language}"


def _now() -> float:
    """The clock a shared part's freshness is read against."""
    return time.time()


def discover_rebuild_lock_key(key: str) -> str:
    """Held (``cache.add``) by the request ranking ``key``'s stale part again."""
    return f"{key}:rebuilding"


def _rank_shelves(size: int) -> dict[str, list[int]]:
    return {
        "trending": list(
            trending_rooms(viewer=None).prefetch_related(None).values_list("pk", flat=True)[:size]
        ),
        "fresh": list(
            live_rooms()
            .filter(visibility=Room.Visibility.PUBLIC)
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)[:size]
        ),
    }


def discover_shared(*, size: int, interests: int, trend_map: bool = False) -> dict:
    """What the discover page shares between all viewers, in one cache round trip, each
    part computed and kept for DISCOVER_CACHE_SECONDS when missing:

    - ``"ids"``: ``{"trending": [...], "fresh": [...]}``, the shared shelves' room ids
      in order (``size`` each);
    - ``"generation"``: of the shared cards (:func:`discover_card_key`);
    - ``"interests"``: the interests shelf (``interests`` of them, most rooms first);
    - ``"trend_map"`` (when asked): what For you is ranked from (:func:`for_you_room_ids`).
    """
    keys = {
        "ids": _discover_key("ids"),
        "generation": _discover_key("cards-generation"),
        "interests": _discover_key("interests"),
    }
    if trend_map:
        keys["trend_map"] = _discover_key("trend-map")
    found = cache.get_many(list(keys.values()))
    builders = {
        "ids": lambda: _rank_shelves(size),
        "interests": lambda: list(interests_with_rooms()[:interests]),
        "trend_map": _rank_trend_map,
    }
    shared = {}
    now = _now()
    for name, key in keys.items():
        if name == "generation":
            if key not in found:
                # Kept until a writer forgets it; two requests may race to make it: one wins.
                cache.add(key, str(time.time_ns()), None)
            shared[name] = found.get(key) or cache.get(key) or "0"
            continue
        shared[name] = discover_part(key=key, entry=found.get(key), build=builders[name], now=now)
    return shared


def discover_part(*, key: str, entry: tuple | None, build: Callable[[], Any], now=None):
    """A part of the discover page that every viewer shares, from ``entry`` (what the
    cache held under ``key``: ``(fresh until, the part)``, or None): the part while
    fresh; once stale, the part again unless this request takes the rebuild lock, in
    which case it is built anew and stored, as it is when missing."""
    now = _now() if now is None else now
    if entry is not None and (
        now < entry[0]
        or not cache.add(discover_rebuild_lock_key(key), 1, DISCOVER_REBUILD_LOCK_SECONDS)
    ):
        return entry[1]
    try:
        part = build()
        cache.set(key, (now + DISCOVER_CACHE_SECONDS, part), DISCOVER_STALE_SECONDS)
        return part
    finally:
        if entry is not None:
            cache.delete(discover_rebuild_lock_key(key))


def listed_room_cards_by_ids(ids: list[int], viewer: User | None) -> dict[int, Room]:
    """The cards of those of ``ids`` still listed (public and live), by id: one query for
    the rooms plus the card prefetches, whatever the number of ids."""
    rooms = live_rooms().filter(visibility=Room.Visibility.PUBLIC, pk__in=ids)
    return {room.pk: room for room in room_cards(rooms, viewer)}


def anonymous_discover_html_key(language: str) -> str:
    return _discover_key("anonymous-html", language)


def forget_discover_pages(*, room_id: int | None = None) -> None:
    """Drop the shared shelves (their order, the trend map, the card generation, and the
    anonymous HTML in every interface language) after a room's card or listing changed,
    once the change is committed; with ``room_id``, that room's interests and hashtags
    and the order of its similar rooms too."""
    keys = [_discover_key("ids"), _discover_key("trend-map"), _discover_key("cards-generation")]
    if room_id is not None:
        keys += [_topics_key(room_id), _discover_key("similar", str(room_id))]
    keys += [anonymous_discover_html_key(code) for code, _name in settings.LANGUAGES]
    transaction.on_commit(lambda: cache.delete_many(keys))


def discover_card_key(generation: str, kind: str, room_id: int, language: str = "") -> str:
    """Where a listed room's card, the same for every viewer, is kept: ``kind`` "data"
    (the room with its prefetches, like counts and price) or "html" (rendered, per
    interface language)."""
    return _discover_key(f"card-{kind}:{generation}:{room_id}", language)


def _public_rooms_among(ids, *, ids_array: bool) -> QuerySet[Room]:
    """The live public rooms among ``ids``. ``ids_array`` (PostgreSQL): the ids are one
    array parameter, ``= ANY(%s)``, so the statement is the same for any number."""
    rooms = live_rooms().filter(visibility=Room.Visibility.PUBLIC)
    if ids_array:
        column = f'"{Room._meta.db_table}"."{Room._meta.pk.column}"'
        return rooms.filter(RawSQL(f"{column} = ANY(%s)", (ids,), output_field=BooleanField()))  # noqa: S611 (names from the model; the ids a parameter)
    return rooms.filter(pk__in=ids)


def _viewer_state_rows(ids, viewer_id, *, ids_array: bool = False) -> QuerySet:
    """Rows ``(pk, joined, requested, liked, blocks)`` of the listed rooms among ``ids``
    for the viewer (:func:`discover_viewer_state`). ``ids_array`` (PostgreSQL): the ids
    are one array parameter, ``= ANY(%s)``, so the statement is the same for any number."""
    rooms = _public_rooms_among(ids, ids_array=ids_array)
    return (
        rooms.order_by()
        .annotate(
            joined=Subquery(
                Membership.objects.filter(
                    room=OuterRef("pk"), user_id=viewer_id, state=Membership.State.ACTIVE
                ).values("pk")[:1]
            ),
            requested=Exists(
                JoinRequest.objects.filter(
                    room=OuterRef("pk"), user_id=viewer_id, state=JoinRequest.State.PENDING
                )
            ),
            liked=Exists(Reaction.objects.filter(room=OuterRef("pk"), user_id=viewer_id)),
            blocks=blocks_anyone(viewer_id),
        )
        .values_list("pk", "joined", "requested", "liked", "blocks")
    )


@functools.cache
def _viewer_state_query(alias: str) -> CompiledRows:
    """:func:`_viewer_state_rows` compiled once per process (PostgreSQL): building it
    was ~3 ms of CPU per signed-in discover page, running it a fraction of that
    (docs/performance.md, "Discover and room pages")."""
    slots = {"ids": [int_slot(100)], "viewer": int_slot(1)}
    queryset = _viewer_state_rows(slots["ids"], slots["viewer"], ids_array=True)
    return CompiledRows.build(queryset, alias=alias, slots=slots)


def discover_viewer_state(*, ids: list[int], viewer: User | None) -> dict:
    """Which of ``ids`` are still listed (public and live), and what is the viewer's own
    among them, in one query: ``"listed"``, ``"requested"`` and ``"liked"`` (sets of
    ids), ``"joined"`` (room id: the viewer's active membership id) and
    ``"blocks_anyone"``. The cards of the other rooms, for a viewer who blocks no one
    (so their like counts hide no one), are the same as anyone's."""
    state = {"listed": set(), "joined": {}, "requested": set(), "liked": set()}
    state["blocks_anyone"] = False
    if viewer is None or not viewer.is_authenticated:
        rooms = live_rooms().filter(visibility=Room.Visibility.PUBLIC, pk__in=ids).order_by()
        state["listed"] = set(rooms.values_list("pk", flat=True))
        return state
    if not ids:
        return state
    alias = router.db_for_read(Room)
    if connections[alias].vendor == "postgresql":
        _names, rows = _viewer_state_query(alias).fetch(ids=list(ids), viewer=viewer.pk)
    else:
        rows = _viewer_state_rows(ids, viewer.pk)
    for pk, joined, requested, liked, blocks in rows:
        state["listed"].add(pk)
        if joined is not None:
            state["joined"][pk] = joined
        if requested:
            state["requested"].add(pk)
        if liked:
            state["liked"].add(pk)
        state["blocks_anyone"] = state["blocks_anyone"] or bool(blocks)
    return state


def shared_room_cards(ids: list[int]) -> dict[int, Room]:
    """The cards of those of ``ids`` still listed as anyone sees them (no viewer, like
    counts with nobody hidden, the price without anyone's access), by id: the rooms, two
    prefetches, likes and offers, whatever the number of ids."""
    cards = listed_room_cards_by_ids(ids, None)
    rooms = list(cards.values())
    with_reaction_summaries("room", rooms, viewer=None)
    with_room_offers(rooms, viewer=None)
    return cards


# For you, ranked in Python from one trend map shared by everyone: the rooms' trend
# scores (the costly part: three decayed subqueries per room), languages and interests,
# kept DISCOVER_CACHE_SECONDS. At most DISCOVER_RANK_ROOMS listed rooms (the hottest,
# then the most recently active) are candidates.
DISCOVER_RANK_ROOMS = 2000


def _rank_trend_map() -> list[tuple[int, float, str, frozenset[int]]]:
    """``(room id, trend score, language, interest ids)`` of the listed rooms."""
    ranked = list(
        with_trend_score(live_rooms().filter(visibility=Room.Visibility.PUBLIC))
        .order_by("-trend_score", "-last_activity_at", "-id")
        .values_list("pk", "trend_score", "language")[:DISCOVER_RANK_ROOMS]
    )
    interests: dict[int, set[int]] = {}
    through = Room.interests.through.objects.filter(room_id__in=[row[0] for row in ranked])
    for room_id, interest_id in through.values_list("room_id", "interest_id"):
        interests.setdefault(room_id, set()).add(interest_id)
    return [
        (pk, float(score or 0.0), language, frozenset(interests.get(pk, ())))
        for pk, score, language in ranked
    ]


def for_you_room_ids(*, viewer: User, size: int, trend_map: list) -> list[int]:
    """The first ``size`` rooms of :func:`for_you_rooms`, in its order, ranked from the
    shared ``trend_map`` (``discover_shared(trend_map=True)["trend_map"]``) instead of
    computing every room's trend score for each viewer."""
    interest_ids, languages, excluded = _tastes_and_rooms(viewer)
    mine = set(interest_ids)
    scored = []
    for pk, trend_score, language, room_interests in trend_map:
        if pk in excluded:
            continue
        shared = len(mine & room_interests)
        speaks = 1.0 if language in languages else 0.0
        if (mine or languages) and not (shared or speaks):
            continue  # neither about their interests nor in a language they read
        scored.append((shared * 3.0 + speaks * 2.0 + trend_score, pk))
    scored.sort(reverse=True)
    return [pk for _score, pk in scored[:size]]


def _rooms_not_for_you(viewer_id) -> QuerySet[Membership]:
    """The rooms For you leaves out: those the viewer is in or banned from."""
    return Membership.objects.filter(
        user_id=viewer_id, state__in=[Membership.State.ACTIVE, Membership.State.BANNED]
    ).values("room_id")


@functools.cache
def _tastes_and_rooms_query(alias: str) -> CompiledRows:
    """The viewer's profile languages (None without a profile), interest ids and
    :func:`_rooms_not_for_you`, one row, compiled once per process (PostgreSQL): two
    queries built per signed-in discover page before."""
    from django.contrib.postgres.expressions import ArraySubquery

    viewer = int_slot(1)
    profile = Profile.objects.filter(user_id=OuterRef("pk"))
    queryset = (
        User.objects.filter(pk=viewer)
        .annotate(
            profile_languages=Subquery(profile.values("languages")[:1]),
            has_profile=Exists(profile),
            interest_ids=ArraySubquery(
                Profile.interests.through.objects.filter(profile__user_id=OuterRef("pk"))
                .order_by("interest_id")
                .values("interest_id")
            ),
            room_ids=ArraySubquery(_rooms_not_for_you(OuterRef("pk")).order_by().values("room_id")),
        )
        .values_list("has_profile", "profile_languages", "interest_ids", "room_ids")
    )
    return CompiledRows.build(queryset, alias=alias, slots={"viewer": viewer})


def _tastes_and_rooms(viewer: User) -> tuple[list[int], list[str], set[int]]:
    """:func:`viewer_tastes` and the room ids of :func:`_rooms_not_for_you`: one round
    trip on PostgreSQL, two elsewhere."""
    alias = router.db_for_read(Profile)
    if connections[alias].vendor != "postgresql":
        excluded = set(_rooms_not_for_you(viewer.pk).values_list("room_id", flat=True))
        return *viewer_tastes(viewer), excluded
    _names, rows = _tastes_and_rooms_query(alias).fetch(viewer=viewer.pk)
    if not rows:
        return [], [], set()
    has_profile, stored, interest_ids, room_ids = rows[0]
    if isinstance(stored, str):  # jsonb as text (Django's JSONField decodes it itself)
        stored = json.loads(stored)
    if not has_profile:
        languages = [viewer.locale] if viewer.locale else []
        return [], languages, set(room_ids)
    languages = [str(code) for code in stored or [] if code]
    if not languages and viewer.locale:
        languages = [viewer.locale]
    return list(interest_ids), languages, set(room_ids)


def viewer_tastes(viewer: User | None) -> tuple[list[int], list[str]]:
    """The viewer's interest ids and languages (profile languages, else their locale)."""
    if viewer is None or not viewer.is_authenticated:
        return [], []
    # One row per interest (one with None without any): languages and interests at once.
    rows = list(Profile.objects.filter(user=viewer).values_list("languages", "interests"))
    if not rows:
        return [], [viewer.locale] if viewer.locale else []
    interest_ids = [interest_id for _languages, interest_id in rows if interest_id is not None]
    languages = [str(code) for code in rows[0][0] or [] if code]
    if not languages and viewer.locale:
        languages = [viewer.locale]
    return interest_ids, languages


def _shared_interest_count(interest_ids: list[int]) -> Coalesce:
    through = Room.interests.through
    rows = (
        through.objects.filter(room_id=OuterRef("pk"), interest_id__in=interest_ids)
        .order_by()
        .values("room_id")
        .annotate(shared=Count("interest_id"))
        .values("shared")
    )
    return Coalesce(Subquery(rows), Value(0))


def for_you_rooms(*, viewer: User) -> QuerySet[Room]:
    """Rooms about the viewer's interests or in their languages that they are not in."""
    interest_ids, languages = viewer_tastes(viewer)
    rooms = _exclude_joined(live_rooms().filter(visibility=Room.Visibility.PUBLIC), viewer)
    rooms = with_trend_score(rooms).annotate(
        shared_interests=_shared_interest_count(interest_ids),
        speaks_language=Case(
            When(language__in=languages, then=Value(1.0)),
            default=Value(0.0),
            output_field=FloatField(),
        ),
    )
    if interest_ids or languages:
        rooms = rooms.filter(Q(shared_interests__gt=0) | Q(speaks_language__gt=0))
        if interest_ids and languages:
            # A room in a language the viewer does not read needs a shared interest.
            rooms = rooms.exclude(Q(shared_interests=0) & ~Q(language__in=languages))
    rooms = rooms.annotate(
        for_you_score=F("shared_interests") * Value(3.0)
        + F("speaks_language") * Value(2.0)
        + F("trend_score")
    ).order_by("-for_you_score", "-id")
    return room_cards(rooms, viewer)


def _shared_hashtag_count(hashtag_ids: list[int]) -> Coalesce:
    through = Room.hashtags.through
    rows = (
        through.objects.filter(room_id=OuterRef("pk"), hashtag_id__in=hashtag_ids)
        .order_by()
        .values("room_id")
        .annotate(shared=Count("hashtag_id"))
        .values("shared")
    )
    return Coalesce(Subquery(rows), Value(0))


def similar_rooms(*, room: Room, viewer: User | None) -> QuerySet[Room]:
    """Listed rooms about the same things as ``room``: shared interests and hashtags,
    then the same language, then activity.

    Never derived from who is in the rooms: "people here also joined ..." in a small
    room lists one member's other rooms, which unmasks an open profile.
    """
    # The room's page and API already prefetched both (room_cards): no query then.
    interest_ids = [interest.pk for interest in room.interests.all()]
    hashtag_ids = [hashtag.pk for hashtag in room.hashtags.all()]
    rooms = (
        live_rooms()
        .filter(visibility=Room.Visibility.PUBLIC)
        .exclude(pk=room.pk)
        .annotate(
            shared_interests=_shared_interest_count(interest_ids),
            shared_hashtags=_shared_hashtag_count(hashtag_ids),
            same_language=Case(
                When(language=room.language, then=Value(1.0)),
                default=Value(0.0),
                output_field=FloatField(),
            ),
        )
        .filter(Q(shared_interests__gt=0) | Q(shared_hashtags__gt=0))
        .annotate(
            similarity_score=F("shared_interests") * Value(2.0)
            + F("shared_hashtags") * Value(1.5)
            + F("same_language")
        )
        .order_by("-similarity_score", "-last_activity_at", "-id")
    )
    return room_cards(rooms, viewer)


def similar_room_cards(*, room: Room, size: int) -> list[Room]:
    """The first ``size`` of :func:`similar_rooms` for the room's page (id, title and
    member count). The order is the same for every viewer, so it is kept for
    DISCOVER_CACHE_SECONDS; the rooms are read again with the listing filters (a room
    that left the listing drops out at once)."""
    key = _discover_key("similar", str(room.pk))
    ids = cache.get(key)
    if ids is None:
        ranked = similar_rooms(room=room, viewer=None).prefetch_related(None)
        ids = list(ranked.values_list("pk", flat=True)[:size])
        cache.set(key, ids, DISCOVER_CACHE_SECONDS)
    if not ids:
        return []
    # The page shows their titles and sizes only: no card prefetches, no viewer.
    alias = router.db_for_read(Room)
    if connections[alias].vendor == "postgresql":
        names, rows = _similar_cards_query(alias).fetch(ids=list(ids))
        found = [Room.from_db(alias, names, row) for row in rows]
    else:
        found = _similar_cards(ids)
    cards = {room.pk: room for room in found}
    return [cards[pk] for pk in ids if pk in cards]


def _similar_cards(ids, *, ids_array: bool = False) -> QuerySet[Room]:
    rooms = _public_rooms_among(ids, ids_array=ids_array)
    return rooms.order_by().only("pk", "title", "member_count")


@functools.cache
def _similar_cards_query(alias: str) -> CompiledRows:
    """:func:`_similar_cards` compiled once per process (PostgreSQL), the ids one array."""
    slots = {"ids": [int_slot(100)]}
    queryset = _similar_cards(slots["ids"], ids_array=True).values_list(
        "id", "title", "member_count"
    )
    return CompiledRows.build(queryset, alias=alias, slots=slots)


def interests_with_rooms() -> QuerySet[Interest]:
    return Interest.objects.order_by("-room_count", "slug")


def all_interests() -> QuerySet[Interest]:
    return Interest.objects.select_related("parent").order_by("slug")


# Languages a room can be in (wider than the interface languages).
ROOM_LANGUAGE_CODES = [
    "en", "ko", "ja", "zh-hans", "zh-hant", "es", "fr", "de", "pt", "it", "ru",
    "ar", "hi", "id", "vi", "th", "tr",
]  # fmt: skip


def discovery_languages() -> list[tuple[str, str]]:
    """(code, name in that language) for the room language pickers and filters."""
    codes = list(dict.fromkeys([code for code, _name in settings.LANGUAGES] + ROOM_LANGUAGE_CODES))
    return [(code, get_language_info(code)["name_local"]) for code in codes]


# --- the room's notice ------------------------------------------------------------------
# The notice (``RoomAnnouncement``) is written by moderation's host tools; every client
# reads it here: the room payload (API), the socket's ``ready`` frame, the room page, the
# ``room.announcement`` event and ``GET /rooms/<id>/announcement/``.


def announcement_payload(announcement: RoomAnnouncement | None) -> dict | None:
    """The notice as every client sees it, or None when there is none.

    Who set it appears only as their room nickname (never an account or handle: the
    setter may be on an open profile); None when a site moderator set it. ``message``
    is the pinned message (``id`` and ``seq``, to jump to it), None for a written notice.
    """
    if announcement is None:
        return None
    message = announcement.message
    if message is not None and message.deleted_at is not None:
        return None  # a hidden message's text never stays on show
    setter = announcement.pinned_by
    return {
        "body": announcement.body,
        "pinned_at": announcement.pinned_at.isoformat(),
        "pinned_by": None
        if setter is None
        else {"membership_id": setter.pk, "nickname": setter.nickname},
        "message": None if message is None else {"id": message.pk, "seq": message.seq},
    }


_ANNOUNCEMENT_COLUMNS = (
    "body", "pinned_at", "room_id", "pinned_by__id", "pinned_by__nickname",
    "message__id", "message__seq", "message__deleted_at",
)  # fmt: skip


def current_announcement(*, room_id: int) -> RoomAnnouncement | None:
    """The room's notice row with its setter and message, in one query; None when
    there is none, or when its pinned message is gone (no permission check: callers
    have checked that the viewer may see the room)."""
    announcement = (
        RoomAnnouncement.objects.filter(room_id=room_id)
        .select_related("pinned_by", "message")
        .only(*_ANNOUNCEMENT_COLUMNS)
        .first()
    )
    if announcement is None or announcement_payload(announcement) is None:
        return None
    return announcement


def page_announcement(room: Room) -> RoomAnnouncement | None:
    """The notice of a room read by :func:`room_page_for_viewer` (joined to it), as
    :func:`current_announcement` gives it."""
    try:
        announcement = room.announcement
    except RoomAnnouncement.DoesNotExist:
        return None
    return announcement if announcement_payload(announcement) is not None else None


def room_announcement(*, room_id: int) -> dict | None:
    """The room's notice payload (:func:`announcement_payload`), in one query."""
    return announcement_payload(current_announcement(room_id=room_id))


MENTION_CANDIDATES_LIMIT = 8


def mention_candidates(*, room_id: int, prefix: str, exclude_id: int | None = None) -> list[dict]:
    """Active members whose room nickname starts with ``prefix`` (any case), for the
    composer's ``@`` autocomplete: nickname and room avatar only, never the account."""
    members = (
        Membership.objects.filter(
            room_id=room_id, state=Membership.State.ACTIVE, nickname__istartswith=prefix
        )
        .exclude(pk=exclude_id)
        .select_related("avatar_media__room")
        .order_by("nickname", "id")[:MENTION_CANDIDATES_LIMIT]
    )
    return [
        {"membership_id": m.pk, "nickname": m.nickname, "avatar": member_avatar_url(m)}
        for m in members
    ]
