"""Reads for profiles, follows, blocks, status posts and the friends feed.

Other areas call the block helpers here:

- reactions: ``is_blocked(blocker=target_author, blocked=reactor)`` before a reaction;
- chat: ``blocked_member_ids_in_room(viewer, room_id)`` and ``is_collapsed_for`` to
  mark the messages of members the viewer blocked as ``collapsed`` in payloads (room
  member blocks, and account blocks only for members shown with their main profile).
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from community.rooms.models import MemberBlock, Membership, Room
from config.errors import DomainError, NotFoundError
from profiles.models import Block, Follow, Profile, StatusPost, User
from profiles.text import fold, lookalike_key

UserOrId = User | int


def _id(user: UserOrId) -> int:
    return user if isinstance(user, int) else user.pk


# --- Blocks ---------------------------------------------------------------------------


def blocked_user_ids(viewer: UserOrId) -> set[int]:
    """Ids of the users ``viewer`` has blocked (whose messages are collapsed for them)."""
    return set(Block.objects.filter(blocker_id=_id(viewer)).values_list("blocked_id", flat=True))


def blocks_anyone(viewer: UserOrId) -> Exists:
    """Whether ``viewer`` blocked anyone (an account or a room member), as an expression
    another query annotates: a page read for the many who block no one then skips
    :func:`blocked_member_ids_in_room`."""
    viewer_id = _id(viewer)
    return Exists(Block.objects.filter(blocker_id=viewer_id)) | Exists(
        MemberBlock.objects.filter(blocker_id=viewer_id)
    )


def viewer_blocks_anyone(viewer: UserOrId) -> bool:
    """:func:`blocks_anyone` as one query of its own."""
    return bool(
        User.objects.filter(pk=_id(viewer))
        .annotate(blocks=blocks_anyone(viewer))
        .values_list("blocks", flat=True)
        .first()
    )


def blocker_ids(user: UserOrId) -> set[int]:
    """Ids of the users who have blocked ``user`` (whom ``user`` may not see or react to)."""
    return set(Block.objects.filter(blocked_id=_id(user)).values_list("blocker_id", flat=True))


def is_blocked(blocker: UserOrId, blocked: UserOrId) -> bool:
    """True when ``blocker`` has blocked ``blocked``."""
    return Block.objects.filter(blocker_id=_id(blocker), blocked_id=_id(blocked)).exists()


def is_blocked_either_way(a: UserOrId, b: UserOrId) -> bool:
    a_id, b_id = _id(a), _id(b)
    return Block.objects.filter(
        Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id)
    ).exists()


def hidden_membership_q(viewer: UserOrId, *, prefix: str = "") -> Q:
    """The memberships whose messages, mentions and reactions ``viewer`` does not want to
    see, as a filter on a Membership (or, with ``prefix="membership__"``, on a row that
    points at one). Two kinds:

    - members ``viewer`` blocked in the room (``MemberBlock``, by membership);
    - members shown with their main profile (``is_open_profile=False``) whose account
      ``viewer`` blocked. An account block never reaches an open-profile membership:
      otherwise blocking a handle would tell which nickname is theirs.
    """
    viewer_id = _id(viewer)
    account_blocked = Block.objects.filter(blocker_id=viewer_id).values("blocked_id")
    member_blocked = MemberBlock.objects.filter(blocker_id=viewer_id).values("membership_id")
    pk = f"{prefix}pk" if prefix else "pk"
    return Q(**{f"{pk}__in": member_blocked}) | Q(
        **{f"{prefix}is_open_profile": False, f"{prefix}user_id__in": account_blocked}
    )


def blocked_member_ids_in_room(viewer: UserOrId, room_id: int) -> set[int]:
    """Membership ids in ``room_id`` whose messages are collapsed for ``viewer`` (see
    :func:`hidden_membership_q`), in one query.

    Payloads carry membership ids, never user ids (open profiles), so a consumer
    compares a message's author membership against this set.
    """
    return set(
        Membership.objects.filter(hidden_membership_q(viewer), room_id=room_id).values_list(
            "id", flat=True
        )
    )


def is_collapsed_for(author_membership_id: int | None, blocked_member_ids: set[int]) -> bool:
    """The ``collapsed`` flag of a message in a chat payload for one viewer."""
    return author_membership_id is not None and author_membership_id in blocked_member_ids


def with_collapsed_flags(payloads: list[dict], blocked_member_ids: set[int]) -> list[dict]:
    """Copies of chat message payloads with ``collapsed`` set for one viewer, on the
    message and on the message it replies to.

    Copies, because a broadcast event is shared by every socket in the group. The
    author is read from ``payload["author"]["membership_id"]`` (the chat payload shape).
    """

    def flagged(payload: dict) -> dict:
        author = payload.get("author") or {}
        return {
            **payload,
            "collapsed": is_collapsed_for(author.get("membership_id"), blocked_member_ids),
        }

    return [
        {**flagged(payload), "reply_to": flagged(payload["reply_to"])}
        if payload.get("reply_to")
        else flagged(payload)
        for payload in payloads
    ]


def blocks_group_name(user_id: int) -> str:
    """The channel-layer group of one user's room sockets, which fold the messages of the
    people they blocked: ``blocks.reload`` is sent there so each socket reloads
    ``blocked_member_ids_in_room`` (and tells its client ``blocks.changed``). Its own
    group, so the user's notifications (``user.<id>``) never reach a room socket."""
    return f"blocks.{user_id}"


# --- Follows ---------------------------------------------------------------------------


def following_ids_query(viewer: UserOrId) -> QuerySet:
    return Follow.objects.filter(follower_id=_id(viewer)).values("followee_id")


def friend_ids_query(viewer: UserOrId) -> QuerySet:
    """A subquery of the ids of ``viewer``'s friends (mutual follows)."""
    viewer_id = _id(viewer)
    return Follow.objects.filter(
        follower_id=viewer_id,
        followee_id__in=Follow.objects.filter(followee_id=viewer_id).values("follower_id"),
    ).values("followee_id")


def friend_ids(viewer: UserOrId) -> set[int]:
    return set(friend_ids_query(viewer).values_list("followee_id", flat=True))


def is_following(follower: UserOrId, followee: UserOrId) -> bool:
    return Follow.objects.filter(follower_id=_id(follower), followee_id=_id(followee)).exists()


def are_friends(a: UserOrId, b: UserOrId) -> bool:
    return is_following(a, b) and is_following(b, a)


# --- Profiles ---------------------------------------------------------------------------


def profile_for_handle(*, viewer: User, handle: str) -> Profile:
    """The active profile with this handle (look-alikes match), unless its owner blocked
    ``viewer``: then it does not exist for them."""
    key = lookalike_key(handle.strip().lstrip("@"))
    profile = (
        Profile.objects.select_related("user", "avatar_media", "background_media")
        .annotate(
            blocks_viewer=Exists(
                Block.objects.filter(blocker_id=OuterRef("user_id"), blocked_id=viewer.pk)
            ),
            viewer_follows=Exists(
                Follow.objects.filter(follower_id=viewer.pk, followee_id=OuterRef("user_id"))
            ),
            follows_viewer=Exists(
                Follow.objects.filter(follower_id=OuterRef("user_id"), followee_id=viewer.pk)
            ),
            viewer_blocks=Exists(
                Block.objects.filter(blocker_id=viewer.pk, blocked_id=OuterRef("user_id"))
            ),
        )
        .prefetch_related("interests")
        .filter(handle_key=key, user__is_active=True)
        .first()
    )
    if profile is None or profile.blocks_viewer:
        raise NotFoundError(_("No such user."))
    return profile


# --- People search and follow suggestions -------------------------------------------------
# Both list main profiles only, and only those that let themselves be found
# (``Profile.discoverable``). Neither reads open-profile memberships: a room nickname is
# never tied to an account here.

PEOPLE_SEARCH_MAX_QUERY = 50


def _findable_profiles(viewer: User) -> QuerySet[Profile]:
    """Main profiles ``viewer`` may be shown in lists: active, discoverable, not
    ``viewer`` and not blocked either way."""
    return (
        Profile.objects.filter(user__is_active=True, discoverable=True)
        .exclude(user_id=viewer.pk)
        .exclude(user_id__in=Block.objects.filter(blocker_id=viewer.pk).values("blocked_id"))
        .exclude(user_id__in=Block.objects.filter(blocked_id=viewer.pk).values("blocker_id"))
        .select_related("avatar_media")
        .annotate(
            viewer_follows=Exists(
                Follow.objects.filter(follower_id=viewer.pk, followee_id=OuterRef("user_id"))
            ),
            follows_viewer=Exists(
                Follow.objects.filter(follower_id=OuterRef("user_id"), followee_id=viewer.pk)
            ),
        )
    )


def search_people(*, viewer: User, query: str) -> QuerySet[Profile]:
    """Main profiles whose handle or display name contains ``query`` (case- and
    width-insensitive; Korean and Japanese match inside words). The handle matched
    whole comes first, then handles that start with it, then the rest by handle.
    An empty query finds no one."""
    text = fold(query.strip().lstrip("@"))[:PEOPLE_SEARCH_MAX_QUERY]
    if not text:
        return Profile.objects.none()
    handle_text = lookalike_key(text)
    return (
        _findable_profiles(viewer)
        .filter(Q(handle_key__contains=handle_text) | Q(display_name__icontains=text))
        .annotate(
            rank=Case(
                When(handle_key=handle_text, then=Value(0)),
                When(handle_key__startswith=handle_text, then=Value(1)),
                When(display_name__istartswith=text, then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "handle_key", "id")
    )


def follow_suggestions(*, viewer: User, limit: int = 10) -> list[Profile]:
    """People ``viewer`` might follow, in one query: who follows them already, who the
    people they follow follow (``followed_by_count``), and who shows their main profile
    in the public rooms where ``viewer`` shows theirs (``shared_room_count``).
    Open-profile memberships count on neither side."""
    my_followees = Follow.objects.filter(follower_id=viewer.pk).values("followee_id")
    my_main_rooms = Membership.objects.filter(
        user_id=viewer.pk,
        is_open_profile=False,
        state=Membership.State.ACTIVE,
        room__visibility=Room.Visibility.PUBLIC,
        room__is_archived=False,
        room__is_suspended=False,
    ).values("room_id")
    followed_by = (
        Follow.objects.filter(followee_id=OuterRef("user_id"), follower_id__in=my_followees)
        .values("followee_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    shared_rooms = (
        Membership.objects.filter(
            user_id=OuterRef("user_id"),
            is_open_profile=False,
            state=Membership.State.ACTIVE,
            room_id__in=my_main_rooms,
        )
        .values("user_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    zero = Value(0, output_field=IntegerField())
    return list(
        _findable_profiles(viewer)
        .exclude(user_id__in=my_followees)
        .annotate(
            followed_by_count=Coalesce(Subquery(followed_by, output_field=IntegerField()), zero),
            shared_room_count=Coalesce(Subquery(shared_rooms, output_field=IntegerField()), zero),
        )
        .filter(Q(follows_viewer=True) | Q(followed_by_count__gt=0) | Q(shared_room_count__gt=0))
        .order_by("-follows_viewer", "-followed_by_count", "-shared_room_count", "handle_key")[
            :limit
        ]
    )


def follow_counts(user: UserOrId) -> dict[str, int]:
    user_id = _id(user)
    return {
        "followers": Follow.objects.filter(followee_id=user_id).count(),
        "following": Follow.objects.filter(follower_id=user_id).count(),
    }


# What a status post shows: its author's card (with the avatar) and its image.
STATUS_POST_RELATIONS = ("author__profile__avatar_media", "image_media")


def status_posts_by(author: UserOrId) -> QuerySet[StatusPost]:
    return StatusPost.objects.filter(author_id=_id(author)).select_related(*STATUS_POST_RELATIONS)


def status_post_for_viewer(*, viewer: User, post_id: int) -> StatusPost:
    post = (
        StatusPost.objects.select_related(*STATUS_POST_RELATIONS)
        .filter(pk=post_id, author__is_active=True)
        .first()
    )
    if post is None or is_blocked(post.author_id, viewer):
        raise NotFoundError(_("No such post."))
    return post


def followers_of(user: UserOrId) -> QuerySet[Profile]:
    return (
        Profile.objects.filter(user__following_links__followee_id=_id(user), user__is_active=True)
        .select_related("avatar_media")
        .order_by("handle_key")
    )


def following_of(user: UserOrId) -> QuerySet[Profile]:
    return (
        Profile.objects.filter(user__follower_links__follower_id=_id(user), user__is_active=True)
        .select_related("avatar_media")
        .order_by("handle_key")
    )


def blocked_profiles(user: UserOrId) -> QuerySet[Profile]:
    return (
        Profile.objects.filter(user__blocked_by_links__blocker_id=_id(user))
        .select_related("avatar_media")
        .order_by("handle_key")
    )


# --- The friends feed ---------------------------------------------------------------------
# Two streams merged by time: status posts of the people the viewer follows, and rooms
# their friends (mutual follows) joined *with their main profile*. A membership with an
# open profile is never shown as theirs: that is the point of an open profile.

POST, ROOM_JOINED = "status_post", "room_joined"
_RANK = {POST: 1, ROOM_JOINED: 0}


@dataclass(frozen=True)
class FeedItem:
    kind: str
    at: datetime
    id: int
    post: StatusPost | None = None
    membership: Membership | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.at, _RANK[self.kind], self.id)


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_cursor: str | None


def encode_feed_cursor(item: FeedItem) -> str:
    raw = f"{item.at.isoformat()}|{item.kind}|{item.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_feed_cursor(cursor: str) -> tuple[datetime, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, kind, id_text = raw.split("|")
        at = parse_datetime(at_text)
        if at is None or kind not in _RANK:
            raise ValueError
        return at, kind, int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise DomainError(_("Invalid cursor."), code="invalid_cursor") from exc


def _after_cursor(field: str, kind: str, cursor: tuple[datetime, str, int] | None) -> Q:
    """Rows strictly after the cursor in (time, kind, id) descending order."""
    if cursor is None:
        return Q()
    at, cursor_kind, cursor_id = cursor
    rank, cursor_rank = _RANK[kind], _RANK[cursor_kind]
    if rank < cursor_rank:
        return Q(**{f"{field}__lte": at})
    if rank > cursor_rank:
        return Q(**{f"{field}__lt": at})
    return Q(**{f"{field}__lt": at}) | Q(**{field: at, "id__lt": cursor_id})


def friends_feed_page(*, viewer: User, cursor: str | None = None, limit: int = 20) -> FeedPage:
    """One page of the friends feed in two queries, whatever the page size."""
    position = decode_feed_cursor(cursor) if cursor else None
    hidden = Block.objects.filter(Q(blocker_id=viewer.pk) | Q(blocked_id=viewer.pk))
    posts = list(
        StatusPost.objects.filter(
            _after_cursor("created_at", POST, position),
            author_id__in=following_ids_query(viewer),
            author__is_active=True,
        )
        .exclude(author_id__in=hidden.filter(blocker_id=viewer.pk).values("blocked_id"))
        .exclude(author_id__in=hidden.filter(blocked_id=viewer.pk).values("blocker_id"))
        .select_related(*STATUS_POST_RELATIONS)
        .order_by("-created_at", "-id")[: limit + 1]
    )
    joins = list(
        Membership.objects.filter(
            _after_cursor("joined_at", ROOM_JOINED, position),
            user_id__in=friend_ids_query(viewer),
            is_open_profile=False,
            state=Membership.State.ACTIVE,
            room__visibility=Room.Visibility.PUBLIC,
            room__is_archived=False,
            room__is_suspended=False,
            user__is_active=True,
        )
        .exclude(user_id__in=hidden.filter(blocker_id=viewer.pk).values("blocked_id"))
        .exclude(user_id__in=hidden.filter(blocked_id=viewer.pk).values("blocker_id"))
        .select_related("room", "user__profile__avatar_media")
        .order_by("-joined_at", "-id")[: limit + 1]
    )
    items = [FeedItem(POST, p.created_at, p.pk, post=p) for p in posts] + [
        FeedItem(ROOM_JOINED, m.joined_at, m.pk, membership=m) for m in joins
    ]
    items.sort(key=lambda item: item.sort_key, reverse=True)
    page = items[:limit]
    has_more = len(items) > limit
    return FeedPage(page, encode_feed_cursor(page[-1]) if has_more and page else None)
