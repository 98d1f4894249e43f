"""Who may do what in a room: the one rule every page, endpoint, socket and template asks.

- *Seeing* a room (its card, page, member list): private and suspended rooms only to
  their members; to anyone else they are missing (404 page, API 404, socket 4404), with
  exactly a missing room's answer. Other rooms to anyone signed in; without an account
  only web-public ones.
- *Reading its messages* (history, the page's preview, sockets, reactions on messages):
  active members, and anyone for web-public rooms. A banned or departed member is not a
  member: they read nothing said after they went.
- *Posting*: active members who are not muted, in a room that is neither archived nor
  suspended.
- *Taking part* (voting in a poll, answering a meetup): active members in an open room,
  muted ones included; creating a poll or meetup is posting.
- *Moderating* (kick, ban, unban, mute, slow mode, announcement, word filters, held
  messages): the room's hosts (owner and co-hosts) and site moderators.
- Per action where the two differ, hosts only: *managing members* (roles, join requests,
  invites), *editing the room* and *deleting anyone's message* (site moderators hide a
  message instead: docs/moderation.md).
- *Acting on a member*: the owner acts on co-hosts and members, co-hosts on members only,
  site moderators on everyone but the owner; nobody on themselves.

Clients never recompute these: the room payload (API), the socket's ``ready`` frame and
the room page carry them as ``can_*`` flags (:func:`room_permissions`).
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from community.rooms.models import Membership, Room
from config.errors import NotFoundError, PermissionDeniedError

HOST_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.COHOST})


# --- who the viewer is ------------------------------------------------------------------


def is_site_moderator(user) -> bool:
    """Superusers and staff in the ``moderators`` group (who can act on cases)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and (user.is_superuser or user.has_perm("community.change_moderationcase"))
    )


def active_membership(
    *, room_id: int, user, lock: bool = False, related: tuple[str, ...] = ()
) -> Membership | None:
    """The user's active membership in the room, or None (anonymous callers included).

    ``lock`` takes a row lock (inside the caller's transaction); ``related`` names the
    relations to select with it (``"room"``, ``"user"``)."""
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(
        room_id=room_id, user_id=user.pk, state=Membership.State.ACTIVE
    )
    if related:
        memberships = memberships.select_related(*related)
    if lock:
        memberships = memberships.select_for_update()
    return memberships.first()


def role_is_host(role: str | None) -> bool:
    """For a viewer's role already at hand (``Room.viewer_role`` from the room selectors,
    which annotate only an active membership's role)."""
    return role in HOST_ROLES


def annotated_membership(room: Room) -> Membership | None:
    """The viewer's active membership as the room selectors annotate it on a room
    (``viewer_membership_id``, ``viewer_role``, ``viewer_muted_until``): no query."""
    membership_id = getattr(room, "viewer_membership_id", None)
    if membership_id is None:
        return None
    membership = Membership(
        pk=membership_id,
        room_id=room.pk,
        role=room.viewer_role,
        state=Membership.State.ACTIVE,
        muted_until=getattr(room, "viewer_muted_until", None),
    )
    # Cached, not assigned: assigning a relation asks the router where the instance will
    # be written, which marks this reader as a writer (config/db_routing.py).
    Membership.room.field.set_cached_value(membership, room)
    return membership


def is_host(membership: Membership | None) -> bool:
    """An active owner or co-host."""
    return (
        membership is not None
        and membership.state == Membership.State.ACTIVE
        and role_is_host(membership.role)
    )


def is_owner(membership: Membership | None) -> bool:
    return is_host(membership) and membership.role == Membership.Role.OWNER


def _is_active(membership: Membership | None) -> bool:
    return membership is not None and membership.state == Membership.State.ACTIVE


# --- seeing and reading -----------------------------------------------------------------


def room_is_hidden_from_non_members(room: Room) -> bool:
    """Private and suspended rooms do not exist for people who are not in them."""
    return room.is_suspended or room.visibility == Room.Visibility.PRIVATE


def room_is_web_readable(room: Room) -> bool:
    """Readable by anyone, with or without an account."""
    return (
        room.is_web_public and room.visibility == Room.Visibility.PUBLIC and not room.is_suspended
    )


def can_see_room(room: Room, *, signed_in: bool, is_member: bool) -> bool:
    if is_member:
        return True
    if room_is_hidden_from_non_members(room):
        return False
    return signed_in or room_is_web_readable(room)


def can_read_room_content(room: Room, *, is_member: bool) -> bool:
    """``is_member``: an *active* membership."""
    return is_member or room_is_web_readable(room)


def can_read_room(room: Room, *, membership: Membership | None) -> bool:
    """Read the room's messages: active members, and anyone in a web-readable room."""
    return can_read_room_content(room, is_member=_is_active(membership))


# --- acting -----------------------------------------------------------------------------


def can_post(room: Room, *, membership: Membership | None) -> bool:
    """Send a message: an active member, not muted, in an open room."""
    if not _is_active(membership) or room.is_archived or room.is_suspended:
        return False
    return membership.muted_until is None or membership.muted_until <= timezone.now()


def can_take_part(room: Room, *, membership: Membership | None) -> bool:
    """Vote in a poll, answer a meetup: an active member in an open room. Unlike posting,
    a mute does not stop it (a vote or an RSVP says nothing to the room), as in
    KakaoTalk and Telegram."""
    return _is_active(membership) and not (room.is_archived or room.is_suspended)


def can_close_poll(*, membership: Membership | None, author_id: int | None) -> bool:
    """Close a poll early: its author or a room host."""
    return _is_active(membership) and (membership.pk == author_id or is_host(membership))


def can_moderate(*, user, membership: Membership | None) -> bool:
    """Kick, ban, unban, mute, slow mode, announcement, word filters, held messages."""
    return is_host(membership) or is_site_moderator(user)


def can_manage_members(*, membership: Membership | None) -> bool:
    """Change roles, decide join requests, list invites: the room's hosts only."""
    return is_host(membership)


def can_edit_room(*, membership: Membership | None) -> bool:
    """The room's settings (title, policy, cover…): the room's hosts only."""
    return is_host(membership)


def can_delete_any_message(*, membership: Membership | None) -> bool:
    """Delete someone else's message: the room's hosts (site moderators hide instead)."""
    return is_host(membership)


def can_delete_message(*, membership: Membership | None, author_id: int) -> bool:
    """Delete this message: its author (an active member) or a host."""
    return _is_active(membership) and (
        membership.pk == author_id or can_delete_any_message(membership=membership)
    )


def can_act_on(*, actor: Membership | None, target: Membership) -> bool:
    """Whether ``actor`` (None: a site moderator) may act on ``target``: the owner on
    co-hosts and members, co-hosts on members, moderators on everyone but the owner."""
    if target.role == Membership.Role.OWNER:
        return False
    if actor is None:
        return True
    if actor.pk == target.pk or not is_host(actor):
        return False
    return actor.role == Membership.Role.OWNER or target.role == Membership.Role.MEMBER


def room_permissions(room: Room, *, user, membership: Membership | None) -> dict[str, bool]:
    """The ``can_*`` flags every client gets with the room (API payload, the socket's
    ``ready`` frame, the room page): clients show or hide controls by these only."""
    return {
        "can_read": can_read_room(room, membership=membership),
        "can_post": can_post(room, membership=membership),
        "can_moderate": can_moderate(user=user, membership=membership),
        "can_manage_members": can_manage_members(membership=membership),
        "can_edit_room": can_edit_room(membership=membership),
        "can_delete_any_message": can_delete_any_message(membership=membership),
    }


# --- refusing ---------------------------------------------------------------------------


def not_host_error() -> PermissionDeniedError:
    return PermissionDeniedError(_("Only the room's hosts can do that."), code="not_host")


def room_not_found_error() -> NotFoundError:
    """A missing room's answer, on every endpoint: what a private or suspended room is
    to anyone outside it, word for word."""
    return NotFoundError(_("Room not found."))


def refuse_outsider(room: Room | None, *, user) -> None:
    """For a caller with no active membership in ``room`` (None: no such room): the
    missing room's answer when they may not see it, before any refusal that would
    admit it exists (``not_host``, "only members…")."""
    if room is None:
        raise room_not_found_error()
    if is_site_moderator(user):
        return
    signed_in = user is not None and user.is_authenticated
    if not can_see_room(room, signed_in=signed_in, is_member=False):
        raise room_not_found_error()


def require_host(*, room_id: int, user, lock: bool = False) -> Membership:
    """The user's active host membership in the room, ``403 not_host``, or the missing
    room's 404 for someone outside a room they may not see."""
    membership = active_membership(room_id=room_id, user=user, lock=lock)
    if membership is None:
        room = (
            Room.objects.filter(pk=room_id)
            .only("visibility", "is_suspended", "is_web_public")
            .first()
        )
        refuse_outsider(room, user=user)
    if not is_host(membership):
        raise not_host_error()
    return membership


def require_moderator(*, room_id: int, user) -> Membership | None:
    """The user's host membership, None for a site moderator, or ``403 not_host``."""
    if is_site_moderator(user):
        return None
    return require_host(room_id=room_id, user=user)
