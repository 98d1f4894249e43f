"""Writes for rooms and memberships."""

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.services import check_room_entry_allowed
from community.models import Hashtag, Interest, Membership, Room
from config.errors import ConflictError, DomainError, PermissionDeniedError
from profiles.models import User
from profiles.text import fold

MAX_INTERESTS_PER_ROOM = 5
MAX_HASHTAGS_PER_ROOM = 10


def normalise_hashtags(labels: list[str]) -> list[tuple[str, str]]:
    """(key, label) pairs, deduplicated by folded key, '#' stripped."""
    seen: dict[str, str] = {}
    for raw in labels:
        label = raw.strip().lstrip("#").strip()[:50]
        if not label:
            continue
        seen.setdefault(fold(label), label)
    return list(seen.items())


@transaction.atomic
def create_room(
    *,
    owner: User,
    title: str,
    nickname: str,
    description: str = "",
    language: str = "en",
    visibility: str = Room.Visibility.PUBLIC,
    join_policy: str = Room.JoinPolicy.OPEN,
    password: str = "",
    capacity: int | None = None,
    interests: list[Interest] | None = None,
    hashtags: list[str] | None = None,
    is_web_public: bool = False,
) -> Room:
    title = title.strip()
    if not title:
        raise DomainError(_("A room needs a title."), fields={"title": [_("Required.")]})
    capacity = capacity or settings.ROOM_DEFAULT_CAPACITY
    if not 2 <= capacity <= settings.ROOM_MAX_CAPACITY:
        raise DomainError(
            _("Capacity must be between 2 and %(max)s.") % {"max": settings.ROOM_MAX_CAPACITY},
            fields={"capacity": [_("Out of range.")]},
        )
    if join_policy == Room.JoinPolicy.PASSWORD and not password:
        raise DomainError(
            _("A password room needs a password."), fields={"password": [_("Required.")]}
        )
    interests = list(interests or [])[:MAX_INTERESTS_PER_ROOM]
    room = Room.objects.create(
        owner=owner,
        title=title[:80],
        description=description,
        language=language,
        visibility=visibility,
        join_policy=join_policy,
        password_hash=make_password(password) if password else "",
        capacity=capacity,
        is_web_public=is_web_public,
        member_count=1,
    )
    Membership.objects.create(
        room=room,
        user=owner,
        role=Membership.Role.OWNER,
        nickname=nickname.strip()[:40] or owner.username,
    )
    if interests:
        room.interests.set(interests)
        Interest.objects.filter(pk__in=[i.pk for i in interests]).update(
            room_count=F("room_count") + 1
        )
    tags = normalise_hashtags(hashtags or [])[:MAX_HASHTAGS_PER_ROOM]
    if tags:
        Hashtag.objects.bulk_create(
            [Hashtag(key=key, label=label) for key, label in tags], ignore_conflicts=True
        )
        room.hashtags.set(Hashtag.objects.filter(key__in=[key for key, _ in tags]))
    return room


@transaction.atomic
def join_room(*, room_id: int, user: User, nickname: str, password: str = "") -> Membership:
    """Join an open or password room; the room row lock keeps capacity exact."""
    room = Room.objects.select_for_update().get(pk=room_id)
    if room.is_archived or room.is_suspended:
        raise PermissionDeniedError(_("This room is not accepting members."))
    nickname = nickname.strip()[:40]
    if not nickname:
        raise DomainError(
            _("Choose a nickname for this room."), fields={"nickname": [_("Required.")]}
        )
    existing = Membership.objects.filter(room=room, user=user).first()
    if existing and existing.state == Membership.State.BANNED:
        raise PermissionDeniedError(_("You are banned from this room."), code="banned")
    if existing and existing.state == Membership.State.ACTIVE:
        return existing
    if room.join_policy == Room.JoinPolicy.PASSWORD and not check_password(
        password, room.password_hash
    ):
        raise PermissionDeniedError(_("Wrong room password."), code="wrong_password")
    check_room_entry_allowed(room=room, user=user)
    if room.member_count >= room.capacity:
        raise ConflictError(_("This room is full."), code="room_full")
    if existing:
        existing.state = Membership.State.ACTIVE
        existing.nickname = nickname
        existing.role = Membership.Role.MEMBER
        existing.joined_at = timezone.now()
        existing.save(update_fields=["state", "nickname", "role", "joined_at"])
        membership = existing
    else:
        membership = Membership.objects.create(room=room, user=user, nickname=nickname)
    room.member_count = F("member_count") + 1
    room.last_activity_at = timezone.now()
    room.save(update_fields=["member_count", "last_activity_at"])
    return membership
