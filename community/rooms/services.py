"""Writes for rooms, memberships, join requests and invite links.

Every write that touches who is in a room locks the room row first
(``select_for_update``), so the member count and capacity stay exact under
concurrent joins, and membership rows are only changed while that lock is held.
Broadcasts go out after commit to the room's group (``room.<id>``).
"""

import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from community import access, events
from community.media.services import MediaUse, release_media_asset, upload_image_for
from community.moderation.models import AuditLogEntry
from community.notifications.services import (
    notify_join_decision,
    notify_join_request,
    notify_sanction,
    user_group,
)
from community.rooms.models import (
    NICKNAME_MAX_LENGTH,
    Hashtag,
    Interest,
    JoinRequest,
    MemberBlock,
    Membership,
    Room,
    RoomInvite,
    nickname_key,
)
from community.rooms.selectors import forget_discover_pages, invite_is_usable, member_payload
from config.counters import count_in_window, forget_in_window, uncount_in_window
from config.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from profiles.models import User
from profiles.selectors import blocks_group_name
from profiles.text import fold, lookalike_key

logger = logging.getLogger(__name__)

MAX_INTERESTS_PER_ROOM = 5
MAX_HASHTAGS_PER_ROOM = 10
INVITE_MAX_HOURS = 24 * 30
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


# Checks other apps add to entering a room (commerce: a paid room needs a paid entry),
# registered from their AppConfig.ready(): rooms never imports the apps built on it.
# Each raises a DomainError to refuse.
_ENTRY_CHECKS: list[Callable[..., None]] = []


def register_entry_check(*, check: Callable[..., None]) -> None:
    """Add ``check(*, room, user)`` to every join and every approved join request."""
    if check not in _ENTRY_CHECKS:
        _ENTRY_CHECKS.append(check)


def _check_entry(*, room: Room, user: User) -> None:
    for check in _ENTRY_CHECKS:
        check(room=room, user=user)


# What other packages undo when a member stops being one (meetups: their seats), called
# in the departure's transaction by ``transition_membership``; registered like the checks.
_DEPARTURE_HOOKS: list[Callable[..., None]] = []


def register_departure_hook(*, hook: Callable[..., None]) -> None:
    """Add ``hook(*, membership)`` to every departure (leaving, a kick, a ban, a lapse, a
    suspension), after the membership's state changed, under the room's lock."""
    if hook not in _DEPARTURE_HOOKS:
        _DEPARTURE_HOOKS.append(hook)


def normalise_hashtags(*, labels: list[str]) -> list[tuple[str, str]]:
    """(key, label) pairs, deduplicated by look-alike key, '#' stripped."""
    seen: dict[str, str] = {}
    for raw in labels:
        label = raw.strip().lstrip("#\uff03").strip()[:50]  # "#" or full-width "＃"
        if not label:
            continue
        seen.setdefault(lookalike_key(label)[:50], label)
    return list(seen.items())


def build_search_text(*, room: Room) -> str:
    """The folded text search matches: title, description, hashtags and interest names."""
    parts = [room.title, room.description]
    parts += [f"#{tag.label}" for tag in room.hashtags.all()]
    for interest in room.interests.all():
        parts += [interest.name_en, interest.name_ko, interest.name_ja]
    return fold("\n".join(part for part in parts if part))


# --- validation helpers ------------------------------------------------------------


def _clean_nickname(nickname: str) -> str:
    nickname = " ".join(nickname.split())[:NICKNAME_MAX_LENGTH]
    if not nickname:
        raise DomainError(
            _("Choose a nickname for this room."), fields={"nickname": [_("Required.")]}
        )
    return nickname


def _nickname_taken_error() -> ConflictError:
    return ConflictError(
        _("That nickname is taken in this room."),
        code="nickname_taken",
        fields={"nickname": [_("That nickname is taken in this room.")]},
    )


def _check_nickname_free(room: Room, key: str, *, exclude_pk: int | None = None) -> None:
    """The caller holds the room lock; the partial unique index backs this up."""
    taken = Membership.objects.filter(room=room, state=Membership.State.ACTIVE, nickname_key=key)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise _nickname_taken_error()


def _save_membership(membership: Membership, **kwargs) -> None:
    """Create or save ``membership``; a unique index refusing it (a nickname or a second
    current membership slipping past the checks) is a 409, not a 500."""
    try:
        with transaction.atomic():
            membership.save(**kwargs)
    except IntegrityError as exc:
        if "nickname" in str(exc):
            raise _nickname_taken_error() from exc
        raise ConflictError(_("You are already in this room."), code="already_member") from exc


def _clean_capacity(capacity: int, *, member_count: int = 0) -> int:
    lowest = max(2, member_count)
    if not lowest <= capacity <= settings.ROOM_MAX_CAPACITY:
        raise DomainError(
            _("Capacity must be between %(min)s and %(max)s.")
            % {"min": lowest, "max": settings.ROOM_MAX_CAPACITY},
            fields={"capacity": [_("Out of range.")]},
        )
    return capacity


def _clean_choice(value: str, choices, field: str) -> str:
    if value not in choices.values:
        raise DomainError(_("Invalid choice."), fields={field: [_("Invalid choice.")]})
    return value


def _clean_language(language: str) -> str:
    language = (language or "").strip().lower()[:10]
    if not language:
        raise DomainError(_("Choose a language."), fields={"language": [_("Required.")]})
    return language


def _set_interests(room: Room, interests: list[Interest]) -> None:
    """Replace the room's interests and keep ``Interest.room_count`` in step."""
    new_ids = {interest.pk for interest in interests[:MAX_INTERESTS_PER_ROOM]}
    old_ids = set(room.interests.values_list("pk", flat=True))
    if new_ids == old_ids:
        return
    room.interests.set(new_ids)
    Interest.objects.filter(pk__in=new_ids - old_ids).update(room_count=F("room_count") + 1)
    Interest.objects.filter(pk__in=old_ids - new_ids, room_count__gt=0).update(
        room_count=F("room_count") - 1
    )


def _set_hashtags(room: Room, labels: list[str]) -> None:
    tags = normalise_hashtags(labels=labels)[:MAX_HASHTAGS_PER_ROOM]
    if tags:
        Hashtag.objects.bulk_create(
            [Hashtag(key=key, label=label) for key, label in tags], ignore_conflicts=True
        )
    room.hashtags.set(Hashtag.objects.filter(key__in=[key for key, _label in tags]))


def _refresh_search_text(room: Room) -> None:
    room.search_text = build_search_text(room=room)
    room.save(update_fields=["search_text"])


def _lock_room(room_id: int) -> Room:
    room = Room.objects.select_for_update().filter(pk=room_id).first()
    if room is None:
        raise access.room_not_found_error()
    return room


def _require_target(room: Room, membership_id: int) -> Membership:
    target = Membership.objects.filter(
        pk=membership_id, room=room, state=Membership.State.ACTIVE
    ).first()
    if target is None:
        raise NotFoundError(_("That member is not in this room."))
    return target


def _broadcast_member_updated(membership: Membership) -> None:
    events.send_on_commit(
        f"room.{membership.room_id}",
        events.member_updated(room_id=membership.room_id, member=member_payload(membership)),
    )


def _broadcast_room_joined(membership: Membership) -> None:
    """Tell the member's own ``/ws/me/`` sockets to follow the room they just joined."""
    events.send_on_commit(
        user_group(user_id=membership.user_id),
        events.rooms_joined(room_id=membership.room_id, membership_id=membership.pk),
    )


# --- rooms ---------------------------------------------------------------------------


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
    slow_mode_seconds: int = 0,
    interests: list[Interest] | None = None,
    hashtags: list[str] | None = None,
    is_web_public: bool = False,
    is_open_profile: bool = True,
    cover=None,
) -> Room:
    title = " ".join(title.split())
    if not title:
        raise DomainError(_("A room needs a title."), fields={"title": [_("Required.")]})
    nickname = _clean_nickname(nickname)
    capacity = _clean_capacity(capacity or settings.ROOM_DEFAULT_CAPACITY)
    _clean_choice(visibility, Room.Visibility, "visibility")
    _clean_choice(join_policy, Room.JoinPolicy, "join_policy")
    if join_policy == Room.JoinPolicy.PASSWORD and not password:
        raise DomainError(
            _("A password room needs a password."), fields={"password": [_("Required.")]}
        )
    room = Room.objects.create(
        owner=owner,
        title=title[:80],
        description=description.strip()[:2000],
        language=_clean_language(language),
        visibility=visibility,
        join_policy=join_policy,
        password_hash=make_password(password) if password else "",
        capacity=capacity,
        slow_mode_seconds=max(0, int(slow_mode_seconds)),
        # Web-public only makes sense for listed rooms; never the default.
        is_web_public=bool(is_web_public) and visibility == Room.Visibility.PUBLIC,
        member_count=1,
    )
    _broadcast_room_joined(
        Membership.objects.create(
            room=room,
            user=owner,
            role=Membership.Role.OWNER,
            nickname=nickname,
            nickname_key=nickname_key(nickname),
            is_open_profile=is_open_profile,
        )
    )
    _set_interests(room, list(interests or []))
    _set_hashtags(room, hashtags or [])
    _refresh_search_text(room)
    if cover:
        room.cover_media = upload_image_for(
            user=owner, file=cover, target=MediaUse.ROOM_COVER, target_id=room.pk, field="cover"
        )
    forget_discover_pages(room_id=room.pk)
    return room


UPDATABLE_ROOM_FIELDS = {
    "title",
    "description",
    "language",
    "visibility",
    "join_policy",
    "password",
    "capacity",
    "slow_mode_seconds",
    "is_web_public",
    "interests",
    "hashtags",
    "cover",
}


@transaction.atomic
def update_room(*, room_id: int, actor: User, **changes) -> Room:
    """Edit a room (owner and co-hosts). ``changes`` uses the names in UPDATABLE_ROOM_FIELDS."""
    unknown = set(changes) - UPDATABLE_ROOM_FIELDS
    if unknown:
        raise DomainError(_("Unknown fields."), fields={name: [_("Unknown.")] for name in unknown})
    room = _lock_room(room_id)
    access.require_host(room_id=room.pk, user=actor)
    if room.is_suspended:
        raise PermissionDeniedError(_("This room is suspended."))
    fields: list[str] = []
    if "title" in changes:
        title = " ".join(changes["title"].split())
        if not title:
            raise DomainError(_("A room needs a title."), fields={"title": [_("Required.")]})
        room.title = title[:80]
        fields.append("title")
    if "description" in changes:
        room.description = changes["description"].strip()[:2000]
        fields.append("description")
    if "language" in changes:
        room.language = _clean_language(changes["language"])
        fields.append("language")
    if "visibility" in changes:
        room.visibility = _clean_choice(changes["visibility"], Room.Visibility, "visibility")
        fields.append("visibility")
    if "join_policy" in changes:
        room.join_policy = _clean_choice(changes["join_policy"], Room.JoinPolicy, "join_policy")
        fields.append("join_policy")
    if changes.get("password"):
        room.password_hash = make_password(changes["password"])
        fields.append("password_hash")
    if room.join_policy == Room.JoinPolicy.PASSWORD and not room.password_hash:
        raise DomainError(
            _("A password room needs a password."), fields={"password": [_("Required.")]}
        )
    if "capacity" in changes:
        room.capacity = _clean_capacity(int(changes["capacity"]), member_count=room.member_count)
        fields.append("capacity")
    if "slow_mode_seconds" in changes:
        room.slow_mode_seconds = max(0, int(changes["slow_mode_seconds"]))
        fields.append("slow_mode_seconds")
    if "is_web_public" in changes:
        room.is_web_public = bool(changes["is_web_public"])
        fields.append("is_web_public")
    if room.visibility != Room.Visibility.PUBLIC and room.is_web_public:
        room.is_web_public = False
        fields.append("is_web_public")
    if fields:
        room.save(update_fields=sorted(set(fields)))
    if "interests" in changes:
        _set_interests(room, list(changes["interests"] or []))
    if "hashtags" in changes:
        _set_hashtags(room, list(changes["hashtags"] or []))
    if changes.get("cover"):
        room.cover_media = upload_image_for(
            user=actor,
            file=changes["cover"],
            target=MediaUse.ROOM_COVER,
            target_id=room.pk,
            field="cover",
        )
    elif "cover" in changes and room.cover_media_id is not None:  # cleared
        removed_id = room.cover_media_id
        room.cover_media = None
        room.save(update_fields=["cover_media"])
        release_media_asset(asset_id=removed_id)
    _refresh_search_text(room)
    forget_discover_pages(room_id=room.pk)
    events.send_on_commit(
        room.group_name,
        events.room_updated(room_id=room.pk, slow_mode_seconds=room.slow_mode_seconds),
    )
    return room


def _find_invite(room: Room, code: str) -> RoomInvite | None:
    invite = RoomInvite.objects.filter(room=room, code=code).first()
    if invite is None or not invite_is_usable(invite):
        return None
    return invite


def _admit(*, room: Room, user: User, nickname: str, is_open_profile: bool) -> Membership:
    """Make ``user`` an active member. The caller holds the room lock and checked capacity.

    Always a new membership: someone who left and comes back is a new identity in the
    room (a new membership id), so their earlier messages (which keep pointing at the
    old membership and its nickname) are never linked to the new nickname.
    """
    if room.member_count >= room.capacity:
        raise ConflictError(_("This room is full."), code="room_full")
    key = nickname_key(nickname)
    _check_nickname_free(room, key)
    now = timezone.now()
    membership = Membership(
        room=room,
        user=user,
        nickname=nickname,
        nickname_key=key,
        is_open_profile=is_open_profile,
    )
    _save_membership(membership, force_insert=True)
    Room.objects.filter(pk=room.pk).update(member_count=F("member_count") + 1, last_activity_at=now)
    room.member_count += 1
    room.last_activity_at = now
    membership.room = room
    events.send_on_commit(
        room.group_name,
        events.member_joined(room_id=room.pk, member=member_payload(membership)),
    )
    _broadcast_room_joined(membership)
    return membership


def do_readmit(*, room: Room, membership: Membership) -> Membership:
    """Make a membership that was removed (a kick being undone) active again, the same
    identity with the same nickname. Runs inside the caller's transaction, which holds
    the room and membership locks. Refused when the person is back under another
    membership, the nickname was taken meanwhile, or the room is full."""
    check_membership_transition(state=membership.state, transition="readmit")
    if _current_membership(room, membership.user_id) is not None:
        raise ConflictError(_("That person is already back in the room."), code="already_member")
    if room.member_count >= room.capacity:
        raise ConflictError(_("This room is full."), code="room_full")
    _check_nickname_free(room, membership.nickname_key, exclude_pk=membership.pk)
    transition_membership(room=room, membership=membership, transition="readmit")
    events.send_on_commit(
        room.group_name,
        events.member_joined(room_id=room.pk, member=member_payload(membership)),
    )
    return membership


def _current_membership(room: Room, user_id: int) -> Membership | None:
    """The user's active or banned membership (at most one); older, left ones are past
    identities and do not count."""
    return Membership.objects.filter(
        room=room,
        user_id=user_id,
        state__in=[Membership.State.ACTIVE, Membership.State.BANNED],
    ).first()


def join_room(
    *,
    room_id: int,
    user: User,
    nickname: str,
    password: str = "",
    is_open_profile: bool = True,
    invite_code: str = "",
    message: str = "",
) -> Membership | JoinRequest:
    """Join a room, or ask to (approval rooms answer with a pending ``JoinRequest``).

    The room row lock keeps capacity exact: concurrent joins for the last seat queue on
    it, and all but one see a full room. A room password is checked first, outside any
    transaction: Argon2 is slow by design and must not hold the room's lock (every send
    in the room waits on it), and guesses are throttled before it runs.
    """
    verified_hash = ""
    if not invite_code:
        verified_hash = _check_room_password(room_id=room_id, user=user, password=password)
    return _join_room_locked(
        room_id=room_id,
        user=user,
        nickname=nickname,
        verified_password_hash=verified_hash,
        is_open_profile=is_open_profile,
        invite_code=invite_code,
        message=message,
    )


def _password_guess_keys(room_id: int, user_id: int) -> tuple[str, str]:
    return f"room-password:{room_id}:{user_id}", f"room-password:{room_id}"


def _check_room_password(*, room_id: int, user: User, password: str) -> str:
    """For a password room the person is not in yet: count the guess, refuse it when
    they (or everyone, in this room) guessed too often, then verify the password.
    Returns the hash it verified ("" when no password is needed here: the locked join
    then answers as for any room, e.g. 404 for a private one)."""
    room = (
        Room.objects.filter(pk=room_id)
        .only("id", "visibility", "join_policy", "password_hash")
        .first()
    )
    if (
        room is None
        or room.join_policy != Room.JoinPolicy.PASSWORD
        or room.visibility == Room.Visibility.PRIVATE
        or Membership.objects.filter(
            room=room,
            user=user,
            state__in=[Membership.State.ACTIVE, Membership.State.BANNED],
        ).exists()
    ):
        return ""
    window = settings.ROOM_PASSWORD_GUESS_WINDOW_SECONDS
    mine_key, room_key = _password_guess_keys(room.pk, user.pk)
    try:
        mine = count_in_window(mine_key, window=window)
        everyone = count_in_window(room_key, window=window)
    except Exception:
        logger.warning("room password throttle unavailable; guess allowed")
    else:
        if (
            mine.count > settings.ROOM_PASSWORD_GUESS_LIMIT
            or everyone.count > settings.ROOM_PASSWORD_ROOM_GUESS_LIMIT
        ):
            retry_after = max(mine.retry_after, everyone.retry_after)
            raise RateLimitedError(
                _("Too many password attempts for this room. Try again in %(minutes)s minutes.")
                % {"minutes": math.ceil(retry_after / 60)},
                code="too_many_password_attempts",
                retry_after=retry_after,
            )
    if not check_password(password, room.password_hash):
        raise PermissionDeniedError(_("Wrong room password."), code="wrong_password")
    try:  # a right password: the person's guesses start again, and it is not a guess
        forget_in_window(mine_key, window=window)
        uncount_in_window(room_key, window=window)
    except Exception:
        logger.warning("room password throttle unavailable; counters not reset")
    return room.password_hash


@transaction.atomic
def _join_room_locked(
    *,
    room_id: int,
    user: User,
    nickname: str,
    verified_password_hash: str,
    is_open_profile: bool,
    invite_code: str,
    message: str,
) -> Membership | JoinRequest:
    room = _lock_room(room_id)
    existing = _current_membership(room, user.pk)
    if existing and existing.state == Membership.State.ACTIVE:
        return existing
    if not membership_allows(state=existing.state if existing else "", transition="join"):
        raise PermissionDeniedError(_("You are banned from this room."), code="banned")
    invite = _find_invite(room, invite_code.strip()) if invite_code else None
    if invite_code and invite is None:
        raise DomainError(_("This invite link is invalid or has expired."), code="invalid_invite")
    if room.visibility == Room.Visibility.PRIVATE and invite is None:
        # Private rooms are invisible to outsiders: the same answer as a missing room.
        raise NotFoundError(_("Room not found."))
    if room.is_archived or room.is_suspended:
        raise PermissionDeniedError(_("This room is not accepting members."), code="closed")
    nickname = _clean_nickname(nickname)
    _check_nickname_free(room, nickname_key(nickname))
    if (
        room.join_policy == Room.JoinPolicy.PASSWORD
        and invite is None
        # Checked before the lock (``_check_room_password``); a password changed since
        # then is a wrong one. Never hashed here, under the lock.
        and not (verified_password_hash and verified_password_hash == room.password_hash)
    ):
        raise PermissionDeniedError(_("Wrong room password."), code="wrong_password")
    if room.member_count >= room.capacity:
        raise ConflictError(_("This room is full."), code="room_full")
    _check_entry(room=room, user=user)
    if invite is not None:
        RoomInvite.objects.filter(pk=invite.pk).update(use_count=F("use_count") + 1)
    if room.join_policy == Room.JoinPolicy.APPROVAL:
        pending = JoinRequest.objects.filter(
            room=room, user=user, state=JoinRequest.State.PENDING
        ).first()
        if pending:
            return pending
        request = JoinRequest.objects.create(
            room=room,
            user=user,
            nickname=nickname,
            is_open_profile=is_open_profile,
            message=message.strip()[:300],
        )
        _broadcast_join_request(request)
        notify_join_request(request=request)
        return request
    return _admit(room=room, user=user, nickname=nickname, is_open_profile=is_open_profile)


def _broadcast_join_request(request: JoinRequest) -> None:
    """Each host's ``/ws/me/`` sockets (on every page) hear of the new request."""
    host_ids = Membership.objects.filter(
        room_id=request.room_id,
        state=Membership.State.ACTIVE,
        role__in=[Membership.Role.OWNER, Membership.Role.COHOST],
    ).values_list("user_id", flat=True)
    event = events.join_request_created(
        room_id=request.room_id, request_id=request.pk, nickname=request.nickname
    )
    for host_id in sorted(host_ids):
        events.send_on_commit(user_group(user_id=host_id), event)


def _lock_pending_request(room: Room, request_id: int) -> JoinRequest:
    request = (
        JoinRequest.objects.select_for_update()
        .filter(pk=request_id, room=room, state=JoinRequest.State.PENDING)
        .first()
    )
    if request is None:
        raise NotFoundError(_("This request was already handled or does not exist."))
    return request


@transaction.atomic
def approve_join_request(*, room_id: int, request_id: int, actor: User) -> Membership:
    room = _lock_room(room_id)
    host = access.require_host(room_id=room.pk, user=actor)
    request = _lock_pending_request(room, request_id)
    existing = _current_membership(room, request.user_id)
    if existing and existing.state == Membership.State.ACTIVE:
        membership = existing
    elif not membership_allows(state=existing.state if existing else "", transition="join"):
        raise ConflictError(_("This person is banned from the room."), code="banned")
    else:
        _check_entry(room=room, user=request.user)
        membership = _admit(
            room=room,
            user=request.user,
            nickname=request.nickname,
            is_open_profile=request.is_open_profile,
        )
    request.state = JoinRequest.State.APPROVED
    request.decided_at = timezone.now()
    request.decided_by = host
    request.save(update_fields=["state", "decided_at", "decided_by"])
    notify_join_decision(request=request)
    return membership


@transaction.atomic
def decline_join_request(*, room_id: int, request_id: int, actor: User) -> JoinRequest:
    room = _lock_room(room_id)
    host = access.require_host(room_id=room.pk, user=actor)
    request = _lock_pending_request(room, request_id)
    request.state = JoinRequest.State.DECLINED
    request.decided_at = timezone.now()
    request.decided_by = host
    request.save(update_fields=["state", "decided_at", "decided_by"])
    notify_join_decision(request=request)
    return request


@transaction.atomic
def cancel_join_request(*, room_id: int, user: User) -> None:
    room = _lock_room(room_id)
    cancelled = JoinRequest.objects.filter(
        room=room, user=user, state=JoinRequest.State.PENDING
    ).update(state=JoinRequest.State.CANCELLED, decided_at=timezone.now())
    if not cancelled and access.active_membership(room_id=room.pk, user=user) is None:
        access.refuse_outsider(room, user=user)


def _hand_over(room: Room, owner: Membership, successor: Membership) -> None:
    if successor.pk == owner.pk:
        raise DomainError(_("Choose another member."), fields={"membership_id": [_("Invalid.")]})
    successor.role = Membership.Role.OWNER
    successor.save(update_fields=["role"])
    owner.role = Membership.Role.COHOST
    owner.save(update_fields=["role"])
    room.owner_id = successor.user_id
    room.save(update_fields=["owner"])
    _broadcast_member_updated(successor)
    _broadcast_member_updated(owner)


@transaction.atomic
def transfer_ownership(*, room_id: int, actor: User, membership_id: int) -> Membership:
    """The owner hands the room to another active member and becomes a co-host."""
    room = _lock_room(room_id)
    owner = access.active_membership(room_id=room.pk, user=actor)
    if not access.is_owner(owner):
        raise PermissionDeniedError(_("Only the owner can hand over the room."))
    successor = _require_target(room, membership_id)
    _hand_over(room, owner, successor)
    return successor


@transaction.atomic
def leave_room(
    *, room_id: int, user: User, successor_id: int | None = None, archive: bool = False
) -> None:
    """Leave a room. The owner must name a successor (a member) or archive the room."""
    room = _lock_room(room_id)
    membership = access.active_membership(room_id=room.pk, user=user)
    if membership is None:
        access.refuse_outsider(room, user=user)
        raise NotFoundError(_("You are not a member of this room."))
    if membership.role == Membership.Role.OWNER:
        if successor_id:
            _hand_over(room, membership, _require_target(room, successor_id))
        elif archive:
            room.is_archived = True
            room.save(update_fields=["is_archived"])
            forget_discover_pages()
            events.send_on_commit(room.group_name, events.room_archived(room_id=room.pk))
        else:
            raise ConflictError(
                _("Hand the room over to another member or archive it before leaving."),
                code="owner_must_hand_over",
            )
    transition_membership(room=room, membership=membership, transition="leave")


@transaction.atomic
def archive_room(*, room_id: int, actor: User) -> Room:
    room = _lock_room(room_id)
    owner = access.active_membership(room_id=room.pk, user=actor)
    if not access.is_owner(owner):
        raise PermissionDeniedError(_("Only the owner can archive the room."))
    room.is_archived = True
    room.save(update_fields=["is_archived"])
    forget_discover_pages()
    events.send_on_commit(room.group_name, events.room_archived(room_id=room.pk))
    return room


def _require_outranks(actor: Membership, target: Membership) -> None:
    """Owners act on anyone else; co-hosts only on plain members (community.access)."""
    if target.pk == actor.pk:
        raise PermissionDeniedError(_("You cannot do that to yourself."))
    if not access.can_act_on(actor=actor, target=target):
        raise PermissionDeniedError(_("You cannot do that to this member."))


@transaction.atomic
def change_member_role(*, room_id: int, actor: User, membership_id: int, role: str) -> Membership:
    """Make a member a co-host or back (ownership moves only by ``transfer_ownership``)."""
    if role not in (Membership.Role.COHOST, Membership.Role.MEMBER):
        raise DomainError(
            _("A role is co-host or member."), fields={"role": [_("Invalid choice.")]}
        )
    room = _lock_room(room_id)
    host = access.require_host(room_id=room.pk, user=actor)
    target = _require_target(room, membership_id)
    _require_outranks(host, target)
    if target.role != role:
        target.role = role
        target.save(update_fields=["role"])
        target.room = room
        _broadcast_member_updated(target)
    return target


@transaction.atomic
def update_my_membership(
    *,
    room_id: int,
    user: User,
    nickname: str | None = None,
    is_open_profile: bool | None = None,
    avatar=None,
    remove_avatar: bool = False,
) -> Membership:
    """A member changes how they appear in this room (nickname, avatar, open profile);
    ``remove_avatar`` takes the room avatar off (a new upload wins)."""
    room = _lock_room(room_id)
    membership = access.active_membership(room_id=room.pk, user=user)
    if membership is None:
        access.refuse_outsider(room, user=user)
        raise NotFoundError(_("You are not a member of this room."))
    fields = []
    if nickname is not None:
        membership.nickname = _clean_nickname(nickname)
        membership.nickname_key = nickname_key(membership.nickname)
        _check_nickname_free(room, membership.nickname_key, exclude_pk=membership.pk)
        fields += ["nickname", "nickname_key"]
    if is_open_profile is not None:
        membership.is_open_profile = bool(is_open_profile)
        fields.append("is_open_profile")
    if fields:
        _save_membership(membership, update_fields=fields)
    if avatar:
        membership.avatar_media = upload_image_for(
            user=user, file=avatar, target=MediaUse.MEMBER_AVATAR, target_id=room.pk, field="avatar"
        )
        fields.append("avatar_media")
    elif remove_avatar and membership.avatar_media_id is not None:
        removed_id = membership.avatar_media_id
        membership.avatar_media = None
        membership.save(update_fields=["avatar_media"])
        release_media_asset(asset_id=removed_id)
        fields.append("avatar_media")
    if fields:
        membership.room = room
        _broadcast_member_updated(membership)
    return membership


@transaction.atomic
def create_invite(
    *, room_id: int, actor: User, expires_in_hours: int | None = 24 * 7, max_uses: int = 0
) -> RoomInvite:
    """An invite link. Private rooms: hosts only; other rooms: any member."""
    room = _lock_room(room_id)
    membership = access.active_membership(room_id=room.pk, user=actor)
    if membership is None:
        access.refuse_outsider(room, user=actor)
        raise PermissionDeniedError(_("Only members can invite people."))
    if room.visibility == Room.Visibility.PRIVATE and not access.is_host(membership):
        raise PermissionDeniedError(_("Only the owner and co-hosts can invite to a private room."))
    if room.is_archived or room.is_suspended:
        raise PermissionDeniedError(_("This room is not accepting members."), code="closed")
    if expires_in_hours is not None and not 1 <= expires_in_hours <= INVITE_MAX_HOURS:
        raise DomainError(
            _("An invite lasts between 1 hour and 30 days."),
            fields={"expires_in_hours": [_("Out of range.")]},
        )
    if max_uses < 0:
        raise DomainError(_("Invalid number of uses."), fields={"max_uses": [_("Invalid.")]})
    return RoomInvite.objects.create(
        room=room,
        code=secrets.token_urlsafe(12),
        created_by=membership,
        expires_at=timezone.now() + timedelta(hours=expires_in_hours) if expires_in_hours else None,
        max_uses=max_uses,
    )


@transaction.atomic
def revoke_invite(*, room_id: int, actor: User, invite_id: int) -> None:
    room = _lock_room(room_id)
    access.require_host(room_id=room.pk, user=actor)
    RoomInvite.objects.filter(pk=invite_id, room=room, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- paid memberships ------------------------------------------------------------------


@transaction.atomic
def end_lapsed_membership(*, room_id: int, user_id: int) -> Membership | None:
    """A paid membership lapsed (commerce's renewal could not be paid): the member leaves
    the room as if they had left (their sockets close, code 4412) and pays to come back.
    The owner never pays for their own room, so is never removed."""
    room = _lock_room(room_id)
    membership = (
        Membership.objects.select_for_update()
        .filter(room=room, user_id=user_id, state=Membership.State.ACTIVE)
        .first()
    )
    if membership is None or membership.role == Membership.Role.OWNER:
        return None
    transition_membership(room=room, membership=membership, transition="lapse")
    return membership


# --- member blocks (per room, by membership) ------------------------------------------------


def _broadcast_blocks_changed(user_id: int) -> None:

    events.send_on_commit(blocks_group_name(user_id), events.blocks_reload())


@transaction.atomic
def block_member(*, room_id: int, actor: User, membership_id: int) -> MemberBlock:
    """Block one member of a room (idempotent): their messages fold for ``actor`` there
    and their mentions, replies and reactions stop reaching them. Any membership of the
    room, past ones included (their old messages are still in the history)."""
    blocker = Membership.objects.filter(
        room_id=room_id, user=actor, state=Membership.State.ACTIVE
    ).first()
    if blocker is None:
        raise PermissionDeniedError(
            _("Only members can block members of this room."), code="not_member"
        )
    target = Membership.objects.filter(pk=membership_id, room_id=room_id).first()
    if target is None:
        raise NotFoundError(_("That member is not in this room."))
    if target.user_id == actor.pk:
        raise DomainError(_("You cannot block yourself."), code="invalid")
    block, created = MemberBlock.objects.get_or_create(
        blocker=actor, membership=target, defaults={"room_id": room_id}
    )
    if created:
        _broadcast_blocks_changed(actor.pk)
    return block


@transaction.atomic
def unblock_member(*, room_id: int, actor: User, membership_id: int) -> None:
    deleted, _rows = MemberBlock.objects.filter(
        blocker=actor, room_id=room_id, membership_id=membership_id
    ).delete()
    if deleted:
        _broadcast_blocks_changed(actor.pk)


# --- Removal and mutes (the moderation package and chat's flood rule call these) -------


# --- the membership state machine -----------------------------------------------------------

_State = Membership.State


@dataclass(frozen=True)
class MembershipTransition:
    sources: frozenset[str]  # the states it starts from ("" for no membership yet)
    target: str  # the state it ends in
    removal: str | None  # the reason ``member.removed`` carries (closes the sockets)
    refusal: tuple[str, str]  # message and code when the membership is in another state


# Every way a membership changes state, in one table. A join (or a rejoin after leaving,
# being kicked or unbanned) makes a *new* active membership: the old one stays as it was,
# so earlier messages never link to the new nickname. A banned membership blocks joining
# until unbanned. A site suspension closes the member's sockets and changes no state.
MEMBERSHIP_TRANSITIONS: dict[str, MembershipTransition] = {
    "join": MembershipTransition(
        frozenset({"", _State.LEFT}),
        _State.ACTIVE,
        None,
        (gettext_lazy("You are banned from this room."), "banned"),
    ),
    "leave": MembershipTransition(
        frozenset({_State.ACTIVE}),
        _State.LEFT,
        "left",
        (gettext_lazy("You are not a member of this room."), "not_member"),
    ),
    "lapse": MembershipTransition(
        frozenset({_State.ACTIVE}),
        _State.LEFT,
        "left",
        (gettext_lazy("You are not a member of this room."), "not_member"),
    ),
    "kick": MembershipTransition(
        frozenset({_State.ACTIVE}),
        _State.LEFT,
        "kicked",
        (gettext_lazy("That person is not in the room."), "not_member"),
    ),
    # A kick taken back at once (community.moderation.services.check_undo_kick): the
    # same membership, nickname and messages come back.
    "readmit": MembershipTransition(
        frozenset({_State.LEFT}),
        _State.ACTIVE,
        None,
        (gettext_lazy("That person is not out of the room."), "not_removed"),
    ),
    "ban": MembershipTransition(
        frozenset({_State.ACTIVE, _State.LEFT}),
        _State.BANNED,
        "banned",
        (gettext_lazy("That member is already banned."), "already_banned"),
    ),
    "unban": MembershipTransition(
        frozenset({_State.BANNED}),
        _State.LEFT,
        None,
        (gettext_lazy("That member is not banned."), "not_banned"),
    ),
    "suspend": MembershipTransition(
        frozenset({_State.ACTIVE}),
        _State.ACTIVE,
        "suspended",
        (gettext_lazy("That person is not in the room."), "not_member"),
    ),
}


def membership_allows(*, state: str, transition: str) -> bool:
    """Whether a membership in ``state`` ("" for none) may take ``transition``."""
    return state in MEMBERSHIP_TRANSITIONS[transition].sources


def check_membership_transition(*, state: str, transition: str) -> MembershipTransition:
    """The transition's rule, or ConflictError when ``state`` ("" for no membership)
    may not take it."""
    rule = MEMBERSHIP_TRANSITIONS[transition]
    if state not in rule.sources:
        message, code = rule.refusal
        raise ConflictError(str(message), code=code)
    return rule


def transition_membership(
    *, room: Room | None, membership: Membership, transition: str
) -> Membership:
    """Move ``membership`` through ``transition`` (MEMBERSHIP_TRANSITIONS): the one place
    a membership's state, dates, role and the room's member count change, and the one
    removal path (``broadcast_member_removed``). The caller holds the room and membership
    locks inside its transaction (``room`` may be None when the state does not change)."""
    rule = check_membership_transition(state=membership.state, transition=transition)
    was_active = membership.state == _State.ACTIVE
    fields = []
    if rule.target != membership.state:
        now = timezone.now()
        membership.state = rule.target
        fields.append("state")
        if was_active:
            membership.left_at = now
            fields.append("left_at")
        elif rule.target == _State.ACTIVE:
            membership.left_at = None  # readmitted
            fields.append("left_at")
        if rule.target == _State.BANNED:
            membership.banned_at = now
            fields.append("banned_at")
        elif membership.banned_at is not None:
            membership.banned_at = None  # unbanned
            fields.append("banned_at")
        if membership.role == Membership.Role.COHOST:
            membership.role = Membership.Role.MEMBER  # a departed co-host loses the role
            fields.append("role")
        _save_membership(membership, update_fields=fields)
        if was_active != (rule.target == _State.ACTIVE):
            change = -1 if was_active else 1
            Room.objects.filter(pk=membership.room_id).update(
                member_count=F("member_count") + change
            )
            if room is not None:
                room.member_count += change
            if was_active:
                for hook in _DEPARTURE_HOOKS:
                    hook(membership=membership)
    if rule.removal is not None and was_active:
        broadcast_member_removed(membership=membership, reason=rule.removal)
    return membership


# Socket close codes sent to a removed member's sockets (defined with the events).
CLOSE_CODE_BY_REASON = events.CLOSE_CODE_BY_REASON


def broadcast_member_removed(*, membership: Membership, reason: str) -> None:
    """Close ``membership``'s sockets in its room (after commit) and tell the others.

    Call it from the service that bans, kicks or removes a member, inside its
    transaction. Everyone in the room receives ``member.removed``; the removed
    member's consumers then close with the code for ``reason``.
    """
    events.send_on_commit(
        f"room.{membership.room_id}",
        events.member_removed(
            room_id=membership.room_id, membership_id=membership.pk, reason=reason
        ),
    )


def do_mute_member(
    *,
    actor: User | None,
    room: Room,
    target: Membership,
    minutes: int,
    reason: str,
    case=None,
    action: str = AuditLogEntry.Action.MUTE,
) -> Membership:
    target.muted_until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    target.save(update_fields=["muted_until"])
    AuditLogEntry.objects.record_member_action(
        actor=actor,
        action=action,
        target=target,
        reason=reason,
        case=case,
        details={"minutes": minutes},
    )
    events.send_on_commit(
        room.group_name, events.member_updated(room_id=room.pk, member=member_payload(target))
    )
    if minutes:
        notify_sanction(
            user_id=target.user_id, sanction="mute", room=room, reason=reason, minutes=minutes
        )
    return target


@transaction.atomic
def do_auto_mute_for_flood(*, membership_id: int) -> None:
    """Flood protection's temporary mute (the actor is the rule, not a person)."""
    target = Membership.objects.select_for_update().filter(pk=membership_id).first()
    if target is None or (target.muted_until and target.muted_until > timezone.now()):
        return
    room = Room.objects.get(pk=target.room_id)
    do_mute_member(
        actor=None,
        room=room,
        target=target,
        minutes=settings.MODERATION_FLOOD_MUTE_MINUTES,
        reason=_("Flood protection: too many messages in a short time."),
        action=AuditLogEntry.Action.AUTO_MUTE,
    )
