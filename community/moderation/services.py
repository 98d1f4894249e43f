"""Writes for moderation: reports, cases, host tools, sanctions, appeals.

Every action that changes what someone may do or see writes an :class:`AuditLogEntry`
in the same transaction, then broadcasts its live effect after commit.

Live effects are the events of ``community.events`` (docs/realtime.md):

- a kick, ban, unban or site suspension is a step of the rooms' membership state machine
  (``rooms.services.transition_membership``); a removal sends ``member.removed`` through
  ``rooms.services.broadcast_member_removed``: the member's sockets close with
  ``CLOSE_CODE_BY_REASON`` (kicked 4411, banned 4410, suspended 4413), the others
  receive the same event.
- hiding a message is chat's ``remove_message`` (the same path as a host's delete, the same
  ``hide_message`` audit row): ``message.deleted`` ``{room_id, id, seq, deleted_at}``.
- a mute sends ``member.updated`` with the member payload (``muted_until``).
- ``room.updated`` ``{room_id, slow_mode_seconds}``, ``room.announcement``
  ``{room_id, announcement}`` and ``room.suspended`` ``{room_id, is_suspended}``.
- a warning sends ``moderation.warning`` to the member's ``/ws/me/`` sockets.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from community import access, events
from community.chat.models import Message
from community.chat.services import (
    MESSAGE_KIND_BY_MEDIA_KIND,
    REMOVED_BY_HOST,
    REMOVED_BY_MODERATOR,
    check_send_message,
    remove_message,
    send_message,
)
from community.media.services import release_media_asset
from community.moderation import selectors
from community.moderation.models import (
    APPEAL_SEVERITY,
    NOTE_MAX_LENGTH,
    REASON_SEVERITY,
    Appeal,
    AuditLogEntry,
    BlockedPattern,
    HeldMessage,
    ModerationCase,
    Report,
    ReportReason,
    RoomAnnouncement,
    validate_rule_text,
)
from community.notifications.services import (
    notify_moderation_outcome,
    notify_sanction,
    user_group,
)
from community.rooms.models import JoinRequest, Membership, Room
from community.rooms.selectors import announcement_payload, forget_discover_pages
from community.rooms.services import (
    do_mute_member,
    do_readmit,
    membership_allows,
    transition_membership,
)
from config.counters import count_in_window
from config.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from profiles.models import User

logger = logging.getLogger(__name__)

Action = AuditLogEntry.Action
TargetType = ModerationCase.TargetType
REPORT_TEXT_MAX_LENGTH = 1000
ANNOUNCEMENT_MAX_LENGTH = 1000
SLOW_MODE_MAX_SECONDS = 3600


# --- shared helpers -----------------------------------------------------------------


def _audit(**entry) -> AuditLogEntry:
    return AuditLogEntry.objects.record(**entry)


def _member_repr(membership: Membership) -> str:
    return f"{membership.nickname} (member {membership.pk}) in room {membership.room_id}"


def _clean_note(note: str | None, *, required: bool = False) -> str:
    note = (note or "").strip()
    if required and not note:
        raise DomainError(_("Write a short note saying why."), fields={"note": [_("Required.")]})
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(_("The note is too long."), fields={"note": [_("Too long.")]})
    return note


def _clean_minutes(minutes) -> int:
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        minutes = 0
    if not 1 <= minutes <= settings.MODERATION_MAX_MUTE_MINUTES:
        raise DomainError(
            _("Choose a duration between 1 minute and %(max)s minutes.")
            % {"max": settings.MODERATION_MAX_MUTE_MINUTES},
            fields={"minutes": [_("Out of range.")]},
        )
    return minutes


def _lock_room(room_id: int) -> Room:
    room = Room.objects.select_for_update().filter(pk=room_id).first()
    if room is None:
        raise access.room_not_found_error()
    return room


def _lock_target_member(*, room: Room, member_id: int, actor: User) -> Membership:
    """The target membership (locked), refusing targets the actor may not act on."""
    target = Membership.objects.select_for_update().filter(pk=member_id, room=room).first()
    if target is None:
        raise NotFoundError(_("No such member in this room."))
    if target.user_id == actor.pk:
        raise DomainError(_("You cannot do that to yourself."), code="self_target")
    return target


def _check_outranks(actor_membership: Membership | None, target: Membership) -> None:
    """The owner acts on co-hosts and members, co-hosts only on members, moderators on
    everyone but the owner (a room keeps its owner: moderators suspend the room or the
    user instead)."""
    if access.can_act_on(actor=actor_membership, target=target):
        return
    if target.role == Membership.Role.OWNER:
        raise PermissionDeniedError(
            _("The room's owner cannot be removed or muted; suspend the room or the user."),
            code="target_is_owner",
        )
    raise PermissionDeniedError(_("You cannot do that to another host."), code="target_is_host")


# --- reports ------------------------------------------------------------------------------


def _check_report_rate(user_id: int) -> None:
    try:
        sent = count_in_window(f"report-rate:{user_id}", window=3600)
    except Exception:  # fail open: a cache outage must not stop people reporting abuse
        logger.warning("report rate limit cache unavailable; report allowed")
        return
    if sent.count > settings.MODERATION_REPORTS_PER_HOUR:
        raise RateLimitedError(
            _("You have sent many reports recently. Please try again later."),
            retry_after=sent.retry_after,
        )


def _can_see_room(user: User, room: Room) -> bool:
    if room.visibility in (Room.Visibility.PUBLIC, Room.Visibility.UNLISTED):
        return True
    return Membership.objects.filter(room=room, user=user, state=Membership.State.ACTIVE).exists()


def _resolve_report_target(*, target_type: str, target_id: int, reporter: User) -> dict:
    """The case fields for a report target the reporter can see; 404 otherwise."""
    not_found = NotFoundError(_("Nothing to report there."))
    if target_type == TargetType.MESSAGE:
        message = Message.objects.select_related("room", "author").filter(pk=target_id).first()
        if message is None or message.author is None or not _can_see_room(reporter, message.room):
            raise not_found
        return {
            "room": message.room,
            "message": message,
            "membership": message.author,
            "subject_id": message.author.user_id,
        }
    if target_type == TargetType.MEMBER:
        membership = Membership.objects.select_related("room").filter(pk=target_id).first()
        if membership is None or not _can_see_room(reporter, membership.room):
            raise not_found
        return {
            "room": membership.room,
            "message": None,
            "membership": membership,
            "subject_id": membership.user_id,
        }
    if target_type == TargetType.ROOM:
        room = Room.objects.filter(pk=target_id).first()
        if room is None or not _can_see_room(reporter, room):
            raise not_found
        return {"room": room, "message": None, "membership": None, "subject_id": room.owner_id}
    raise DomainError(
        _("Report a message, a member or a room."), fields={"target_type": [_("Invalid.")]}
    )


def check_file_report(
    *, reporter: User, target_type: str, target_id: int, reason: str, text: str = ""
) -> ModerationCase:
    """Validate and rate-limit a report, then fold it into the target's open case."""
    if reason not in ReportReason.values:
        raise DomainError(_("Choose a reason."), fields={"reason": [_("Invalid choice.")]})
    text = (text or "").strip()
    if len(text) > REPORT_TEXT_MAX_LENGTH:
        raise DomainError(_("The details are too long."), fields={"text": [_("Too long.")]})
    target = _resolve_report_target(target_type=target_type, target_id=target_id, reporter=reporter)
    if target["subject_id"] == reporter.pk:
        raise DomainError(_("You cannot report yourself."), code="self_report")
    _check_report_rate(reporter.pk)
    return do_file_report(
        reporter=reporter,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        text=text,
        **target,
    )


@transaction.atomic
def do_file_report(
    *,
    reporter: User,
    target_type: str,
    target_id: int,
    reason: str,
    text: str,
    room: Room,
    message: Message | None,
    membership: Membership | None,
    subject_id: int | None,
) -> ModerationCase:
    key = f"{target_type}:{target_id}"
    case = ModerationCase.objects.select_for_update().filter(target_key=key, status="open").first()
    if case is None:
        try:
            with transaction.atomic():
                case = ModerationCase.objects.create(
                    target_type=target_type,
                    target_key=key,
                    room=room,
                    message=message,
                    membership=membership,
                    subject_id=subject_id,
                    top_reason=reason,
                    severity=REASON_SEVERITY[reason],
                )
        except IntegrityError:  # a concurrent first report opened it
            case = ModerationCase.objects.select_for_update().get(target_key=key, status="open")
    if Report.objects.filter(case=case, reporter=reporter).exists():
        raise ConflictError(_("You have already reported this."), code="already_reported")
    Report.objects.create(case=case, reporter=reporter, reason=reason, text=text)
    case.reporter_count += 1
    if REASON_SEVERITY[reason] > case.severity:
        case.severity = REASON_SEVERITY[reason]
        case.top_reason = reason
    case.save(update_fields=["reporter_count", "severity", "top_reason", "updated_at"])
    return case


# --- messages --------------------------------------------------------------------------------


@transaction.atomic
def check_hide_message(
    *, actor: User, message_id: int, reason: str = "", case: ModerationCase | None = None
) -> Message:
    """A host or moderator hides (tombstones) a message; everyone's copy disappears."""
    message = Message.objects.filter(pk=message_id).only("id", "room_id").first()
    if message is None:
        raise NotFoundError(_("No such message."))
    # Room first, then message: the order sending takes, so no deadlock.
    room = _lock_room(message.room_id)
    host = access.require_moderator(room_id=room.pk, user=actor)
    message = (
        Message.objects.select_for_update(of=("self",)).select_related("author").get(pk=message_id)
    )
    return remove_message(
        room=room,
        message=message,
        actor=actor,
        by=REMOVED_BY_HOST if host is not None else REMOVED_BY_MODERATOR,
        reason=reason,
        case=case,
    )


# --- members: kick, ban, unban, mute, warn ---------------------------------------------------


def _lock_member_action(
    *, actor: User, room_id: int, member_id: int, outrank: bool = True
) -> tuple[Room, Membership]:
    """Lock the room and the target member for a host's action on them, checking the
    actor hosts the room and (``outrank``) ranks above the target."""
    room = _lock_room(room_id)
    actor_membership = access.require_moderator(room_id=room.pk, user=actor)
    target = _lock_target_member(room=room, member_id=member_id, actor=actor)
    if outrank:
        _check_outranks(actor_membership, target)
    return room, target


def _audit_member(
    *,
    actor: User | None,
    action: str,
    room: Room,
    target: Membership,
    reason: str,
    case=None,
    details: dict | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.record_member_action(
        actor=actor, action=action, target=target, reason=reason, case=case, details=details
    )


@transaction.atomic
def check_kick_member(
    *, actor: User, room_id: int, member_id: int, reason: str = "", case=None
) -> Membership:
    reason = _clean_note(reason)
    room, target = _lock_member_action(actor=actor, room_id=room_id, member_id=member_id)
    transition_membership(room=room, membership=target, transition="kick")
    _audit_member(
        actor=actor, action=Action.KICK, room=room, target=target, reason=reason, case=case
    )
    notify_sanction(user_id=target.user_id, sanction="kick", room=room, reason=reason)
    return target


@transaction.atomic
def check_undo_kick(*, actor: User, room_id: int, member_id: int) -> Membership:
    """Re-admit a member ``actor`` kicked a moment ago (``KICK_UNDO_SECONDS``): the same
    membership and nickname come back. Only the host or co-host who kicked, while they
    still host the room."""
    room, target = _lock_member_action(actor=actor, room_id=room_id, member_id=member_id)
    if selectors.kick_undo_deadline(actor=actor, room_id=room.pk, member_id=target.pk) is None:
        raise ConflictError(
            _("This kick can no longer be undone. The person may join again."),
            code="undo_expired",
        )
    do_readmit(room=room, membership=target)
    _audit_member(actor=actor, action=Action.UNDO_KICK, room=room, target=target, reason="")
    return target


@transaction.atomic
def check_ban_member(
    *, actor: User, room_id: int, member_id: int, reason: str = "", case=None
) -> Membership:
    reason = _clean_note(reason)
    room, target = _lock_member_action(actor=actor, room_id=room_id, member_id=member_id)
    transition_membership(room=room, membership=target, transition="ban")
    JoinRequest.objects.filter(
        room=room, user_id=target.user_id, state=JoinRequest.State.PENDING
    ).update(state=JoinRequest.State.DECLINED, decided_at=timezone.now())
    _audit_member(
        actor=actor, action=Action.BAN, room=room, target=target, reason=reason, case=case
    )
    notify_sanction(user_id=target.user_id, sanction="ban", room=room, reason=reason)
    return target


@transaction.atomic
def check_unban_member(
    *, actor: User, room_id: int, member_id: int, reason: str = "", case=None
) -> Membership:
    reason = _clean_note(reason)
    room, target = _lock_member_action(
        actor=actor, room_id=room_id, member_id=member_id, outrank=False
    )
    # Unbanned people are out of the room; they may join again.
    transition_membership(room=room, membership=target, transition="unban")
    _audit_member(
        actor=actor, action=Action.UNBAN, room=room, target=target, reason=reason, case=case
    )
    return target


@transaction.atomic
def check_mute_member(
    *, actor: User, room_id: int, member_id: int, minutes, reason: str = "", case=None
) -> Membership:
    """Mute for ``minutes``; ``0`` lifts a mute."""
    reason = _clean_note(reason)
    lift = str(minutes).strip() == "0"
    minutes = 0 if lift else _clean_minutes(minutes)
    room, target = _lock_member_action(actor=actor, room_id=room_id, member_id=member_id)
    if target.state != Membership.State.ACTIVE:
        raise ConflictError(_("That person is not in the room."), code="not_member")
    return do_mute_member(
        actor=actor, room=room, target=target, minutes=minutes, reason=reason, case=case
    )


def do_warn(*, actor: User, case: ModerationCase, note: str) -> AuditLogEntry:
    """A recorded warning; the member sees it on their next visit (and live if connected)."""
    if case.subject_id is None:
        raise DomainError(_("There is nobody to warn on this case."))
    entry = _audit(
        actor=actor,
        action=Action.WARN,
        target_type="user",
        target_id=case.subject_id,
        target_repr=f"user {case.subject_id}",
        subject_id=case.subject_id,
        room_id=case.room_id,
        case=case,
        reason=note,
    )
    events.send_on_commit(
        user_group(user_id=case.subject_id),
        events.moderation_warning(room_id=case.room_id, message=note),
    )
    return entry


# --- site-wide sanctions --------------------------------------------------------------------


def do_suspend_user(*, actor: User, user_id: int, minutes: int, reason: str, case=None) -> User:
    target = User.objects.select_for_update().filter(pk=user_id).first()
    if target is None:
        raise NotFoundError(_("No such user."))
    if target.is_superuser or target.pk == actor.pk:
        raise PermissionDeniedError(_("That account cannot be suspended here."))
    target.suspended_until = timezone.now() + timedelta(minutes=minutes)
    target.save(update_fields=["suspended_until"])
    _audit(
        actor=actor,
        action=Action.SUSPEND_USER,
        target_type="user",
        target_id=target.pk,
        target_repr=f"user {target.pk}",
        subject_id=target.pk,
        room_id=case.room_id if case else None,
        case=case,
        reason=reason,
        details={"minutes": minutes, "until": target.suspended_until.isoformat()},
    )
    # Close the suspended user's sockets in every room they are in.
    for membership in Membership.objects.filter(user=target, state=Membership.State.ACTIVE).only(
        "id", "room_id", "state"
    ):
        transition_membership(room=None, membership=membership, transition="suspend")
    return target


def do_unsuspend_user(*, actor: User, user_id: int, reason: str, case=None) -> None:
    target = User.objects.select_for_update().get(pk=user_id)
    target.suspended_until = None
    target.save(update_fields=["suspended_until"])
    _audit(
        actor=actor,
        action=Action.UNSUSPEND_USER,
        target_type="user",
        target_id=target.pk,
        target_repr=f"user {target.pk}",
        subject_id=target.pk,
        case=case,
        reason=reason,
    )


def do_set_room_suspended(
    *, actor: User, room_id: int, suspended: bool, reason: str, case=None
) -> Room:
    room = _lock_room(room_id)
    room.is_suspended = suspended
    room.save(update_fields=["is_suspended"])
    forget_discover_pages()
    _audit(
        actor=actor,
        action=Action.SUSPEND_ROOM if suspended else Action.UNSUSPEND_ROOM,
        target_type="room",
        target_id=room.pk,
        target_repr=f"room {room.pk}: {room.title}",
        subject_id=room.owner_id,
        room_id=room.pk,
        case=case,
        reason=reason,
    )
    events.send_on_commit(
        room.group_name, events.room_suspended(room_id=room.pk, is_suspended=suspended)
    )
    return room


# --- the moderators' desk: acting on a case ------------------------------------------------


class CaseAction:
    HIDE_MESSAGE = "hide_message"
    WARN = "warn"
    MUTE = "mute"
    BAN = "ban"
    SUSPEND_USER = "suspend_user"
    SUSPEND_ROOM = "suspend_room"
    RESOLVE = "resolve"
    DISMISS = "dismiss"
    GRANT_APPEAL = "grant_appeal"
    DENY_APPEAL = "deny_appeal"

    UNSUSPEND_ROOM = "unsuspend_room"

    CHOICES = [
        (HIDE_MESSAGE, gettext_lazy("Hide the reported message")),
        (WARN, gettext_lazy("Warn the member")),
        (MUTE, gettext_lazy("Mute the member in the room (minutes)")),
        (BAN, gettext_lazy("Ban the member from the room")),
        (SUSPEND_USER, gettext_lazy("Suspend the user site-wide (minutes)")),
        (SUSPEND_ROOM, gettext_lazy("Suspend the room")),
        (UNSUSPEND_ROOM, gettext_lazy("Lift the room's suspension")),
        (RESOLVE, gettext_lazy("Resolve the case")),
        (DISMISS, gettext_lazy("Dismiss the case")),
        (GRANT_APPEAL, gettext_lazy("Grant the appeal (lift the sanction)")),
        (DENY_APPEAL, gettext_lazy("Deny the appeal")),
    ]
    NEEDS_MINUTES = {MUTE, SUSPEND_USER}
    CLOSES = {RESOLVE, DISMISS, GRANT_APPEAL, DENY_APPEAL}


@transaction.atomic
def check_case_action(
    *, moderator: User, case_id: int, action: str, note: str, minutes=None
) -> ModerationCase:
    """Apply one desk action to a case; the audit entry commits with the action."""
    if not access.is_site_moderator(moderator):
        raise PermissionDeniedError(_("Only moderators can act on cases."))
    case = ModerationCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFoundError(_("No such case."))
    if case.status != ModerationCase.Status.OPEN:
        raise ConflictError(_("This case is already closed."), code="case_closed")
    note = _clean_note(note, required=True)
    if action in CaseAction.NEEDS_MINUTES:
        minutes = _clean_minutes(minutes)
    is_appeal = case.target_type == TargetType.APPEAL
    if is_appeal and action not in CaseAction.CLOSES:
        raise DomainError(_("Grant or deny an appeal."), code="appeal_case")

    if action == CaseAction.HIDE_MESSAGE:
        if case.message_id is None:
            raise DomainError(_("This case is not about a message."), code="no_message")
        room = _lock_room(case.room_id)
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("author")
            .get(pk=case.message_id)
        )
        remove_message(
            room=room,
            message=message,
            actor=moderator,
            by=REMOVED_BY_MODERATOR,
            reason=note,
            case=case,
        )
    elif action == CaseAction.WARN:
        do_warn(actor=moderator, case=case, note=note)
    elif action in (CaseAction.MUTE, CaseAction.BAN):
        if case.membership_id is None:
            raise DomainError(_("This case is not about a room member."), code="no_member")
        if action == CaseAction.MUTE:
            room = _lock_room(case.room_id)
            target = Membership.objects.select_for_update().get(pk=case.membership_id)
            do_mute_member(
                actor=moderator, room=room, target=target, minutes=minutes, reason=note, case=case
            )
        else:
            check_ban_member(
                actor=moderator,
                room_id=case.room_id,
                member_id=case.membership_id,
                reason=note,
                case=case,
            )
    elif action == CaseAction.SUSPEND_USER:
        if case.subject_id is None:
            raise DomainError(_("There is nobody to suspend on this case."))
        do_suspend_user(
            actor=moderator, user_id=case.subject_id, minutes=minutes, reason=note, case=case
        )
    elif action in (CaseAction.SUSPEND_ROOM, CaseAction.UNSUSPEND_ROOM):
        if case.room_id is None:
            raise DomainError(_("This case has no room."))
        do_set_room_suspended(
            actor=moderator,
            room_id=case.room_id,
            suspended=action == CaseAction.SUSPEND_ROOM,
            reason=note,
            case=case,
        )
    elif action in (CaseAction.GRANT_APPEAL, CaseAction.DENY_APPEAL):
        if not is_appeal:
            raise DomainError(_("This case is not an appeal."), code="not_appeal")
        _decide_appeal(
            moderator=moderator, case=case, grant=action == CaseAction.GRANT_APPEAL, note=note
        )
    elif action not in (CaseAction.RESOLVE, CaseAction.DISMISS):
        raise DomainError(_("Unknown action."), fields={"action": [_("Invalid choice.")]})

    if action in CaseAction.CLOSES:
        _close_case(
            moderator=moderator,
            case=case,
            status=ModerationCase.Status.DISMISSED
            if action in (CaseAction.DISMISS, CaseAction.DENY_APPEAL)
            else ModerationCase.Status.RESOLVED,
            note=note,
            audit=action in (CaseAction.RESOLVE, CaseAction.DISMISS),
        )
    return case


def _close_case(*, moderator: User, case: ModerationCase, status: str, note: str, audit: bool):
    case.status = status
    case.closed_at = timezone.now()
    case.closed_by = moderator
    case.resolution_note = note
    case.save(update_fields=["status", "closed_at", "closed_by", "resolution_note"])
    # Every reporter hears how their report ended (a notification, written in this
    # transaction, pushed live after commit).
    for report in Report.objects.filter(case=case).select_related("reporter").order_by("id"):
        notify_moderation_outcome(
            user=report.reporter,
            outcome=status,
            outcome_label=case.get_status_display(),
            report_id=report.pk,
        )
    if audit:
        _audit(
            actor=moderator,
            action=Action.DISMISS if status == ModerationCase.Status.DISMISSED else Action.RESOLVE,
            target_type="case",
            target_id=case.pk,
            target_repr=f"case {case.pk} ({case.target_key})",
            subject_id=case.subject_id,
            room_id=case.room_id,
            case=case,
            reason=note,
        )


def bulk_close_cases(*, moderator: User, case_ids: list[int], dismiss: bool, note: str) -> int:
    """Resolve or dismiss several open cases, each with its own audit entry."""
    closed = 0
    action = CaseAction.DISMISS if dismiss else CaseAction.RESOLVE
    for case_id in sorted(case_ids):
        try:
            check_case_action(moderator=moderator, case_id=case_id, action=action, note=note)
        except ConflictError:
            continue  # already closed by someone else
        closed += 1
    return closed


# --- appeals -------------------------------------------------------------------------------


@transaction.atomic
def check_file_appeal(*, user: User, kind: str, text: str, member_id: int | None = None) -> Appeal:
    """One appeal per sanction, by the sanctioned person, while the sanction stands."""
    text = (text or "").strip()
    if not text:
        raise DomainError(
            _("Say why the decision should change."), fields={"text": [_("Required.")]}
        )
    if len(text) > 2000:
        raise DomainError(_("The appeal is too long."), fields={"text": [_("Too long.")]})
    membership = None
    if kind == Appeal.Kind.BAN:
        membership = (
            Membership.objects.select_related("room")
            .filter(pk=member_id or 0, user=user, state=Membership.State.BANNED)
            .first()
        )
        if membership is None:
            raise NotFoundError(_("You are not banned from that room."))
        sanction = (
            AuditLogEntry.objects.filter(
                action=Action.BAN, target_type="membership", target_id=membership.pk
            )
            .order_by("-id")
            .first()
        )
        room_id = membership.room_id
    elif kind == Appeal.Kind.SUSPENSION:
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.suspended_until or user.suspended_until <= timezone.now():
            raise NotFoundError(_("Your account is not suspended."))
        sanction = (
            AuditLogEntry.objects.filter(action=Action.SUSPEND_USER, subject=user)
            .order_by("-id")
            .first()
        )
        room_id = None
    else:
        raise DomainError(_("Appeal a ban or a suspension."), fields={"kind": [_("Invalid.")]})
    if sanction is None:
        raise NotFoundError(_("There is no decision to appeal."))
    if Appeal.objects.filter(sanction=sanction).exists():
        raise ConflictError(_("You have already appealed this decision."), code="already_appealed")
    appeal = Appeal.objects.create(
        user=user, kind=kind, membership=membership, sanction=sanction, text=text
    )
    appeal.case = ModerationCase.objects.create(
        target_type=TargetType.APPEAL,
        target_key=f"appeal:{appeal.pk}",
        room_id=room_id,
        membership=membership,
        subject=user,
        severity=APPEAL_SEVERITY,
        top_reason=ReportReason.OTHER,
        reporter_count=0,
    )
    appeal.save(update_fields=["case"])
    return appeal


def _decide_appeal(*, moderator: User, case: ModerationCase, grant: bool, note: str) -> None:
    appeal = Appeal.objects.select_for_update().get(case=case)
    if grant:
        if appeal.kind == Appeal.Kind.BAN and appeal.membership_id:
            membership = Membership.objects.select_for_update().get(pk=appeal.membership_id)
            if membership_allows(state=membership.state, transition="unban"):
                transition_membership(room=None, membership=membership, transition="unban")
        elif appeal.kind == Appeal.Kind.SUSPENSION:
            User.objects.filter(pk=appeal.user_id).update(suspended_until=None)
    appeal.status = Appeal.Status.GRANTED if grant else Appeal.Status.DENIED
    appeal.decided_at = timezone.now()
    appeal.save(update_fields=["status", "decided_at"])
    notify_moderation_outcome(
        user=appeal.user,
        outcome=appeal.status,
        outcome_label=appeal.get_status_display(),
        appeal_id=appeal.pk,
    )
    _audit(
        actor=moderator,
        action=Action.GRANT_APPEAL if grant else Action.DENY_APPEAL,
        target_type="appeal",
        target_id=appeal.pk,
        target_repr=f"{appeal.get_kind_display()} appeal {appeal.pk}",
        subject_id=appeal.user_id,
        room_id=case.room_id,
        case=case,
        reason=note,
    )


# --- host tools: room settings -------------------------------------------------------------


@transaction.atomic
def check_set_slow_mode(*, actor: User, room_id: int, seconds) -> Room:
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = -1
    if not 0 <= seconds <= SLOW_MODE_MAX_SECONDS:
        raise DomainError(
            _("Slow mode is between 0 (off) and %(max)s seconds.") % {"max": SLOW_MODE_MAX_SECONDS},
            fields={"seconds": [_("Out of range.")]},
        )
    room = _lock_room(room_id)
    access.require_moderator(room_id=room.pk, user=actor)
    room.slow_mode_seconds = seconds
    room.save(update_fields=["slow_mode_seconds"])
    _audit(
        actor=actor,
        action=Action.SLOW_MODE,
        target_type="room",
        target_id=room.pk,
        target_repr=f"room {room.pk}: {room.title}",
        room_id=room.pk,
        details={"seconds": seconds},
    )
    events.send_on_commit(
        room.group_name, events.room_updated(room_id=room.pk, slow_mode_seconds=seconds)
    )
    return room


@transaction.atomic
def check_pin_announcement(*, actor: User, room_id: int, body: str) -> RoomAnnouncement | None:
    """Pin ``body`` at the top of the room; an empty body removes the announcement."""
    body = (body or "").strip()
    if len(body) > ANNOUNCEMENT_MAX_LENGTH:
        raise DomainError(_("The announcement is too long."), fields={"body": [_("Too long.")]})
    room = _lock_room(room_id)
    host = access.require_moderator(room_id=room.pk, user=actor)
    if not body:
        RoomAnnouncement.objects.filter(room=room).delete()
        return _pinned(actor=actor, room=room, announcement=None)
    announcement, _created = RoomAnnouncement.objects.update_or_create(
        room=room, defaults={"body": body, "pinned_by": host, "message": None}
    )
    return _pinned(actor=actor, room=room, announcement=announcement)


@transaction.atomic
def check_pin_message_announcement(
    *, actor: User, room_id: int, message_id: int
) -> RoomAnnouncement:
    """Pin a message of the room as its notice: its text (up to
    ``ANNOUNCEMENT_MAX_LENGTH``) is copied, so an edit by its author afterwards does not
    change what the hosts pinned; the notice keeps the message's id to jump to it."""
    room = _lock_room(room_id)
    host = access.require_moderator(room_id=room.pk, user=actor)
    # Room first, then message: the order of every send and delete (no deadlock). A
    # message of another room is missing here, whatever the caller may see there.
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id, room_id=room.pk, deleted_at__isnull=True)
        .first()
    )
    if message is None:
        raise NotFoundError(_("No such message."))
    body = message.body.strip()
    if not body or message.kind == Message.Kind.SYSTEM:
        raise DomainError(
            _("Only a message with text can be pinned."),
            code="not_pinnable",
            fields={"message_id": [_("This message has no text.")]},
        )
    if len(body) > ANNOUNCEMENT_MAX_LENGTH:
        body = body[: ANNOUNCEMENT_MAX_LENGTH - 1] + "…"
    announcement, _created = RoomAnnouncement.objects.update_or_create(
        room=room, defaults={"body": body, "pinned_by": host, "message": message}
    )
    return _pinned(actor=actor, room=room, announcement=announcement)


def _pinned(
    *, actor: User, room: Room, announcement: RoomAnnouncement | None
) -> RoomAnnouncement | None:
    """Audit a pin or unpin and send the notice to the room's sockets on commit."""
    details = {"body": announcement.body if announcement else ""}
    if announcement is not None and announcement.message_id:
        details["message_id"] = announcement.message_id
    _audit(
        actor=actor,
        action=Action.PIN if announcement else Action.UNPIN,
        target_type="room",
        target_id=room.pk,
        target_repr=f"room {room.pk}: {room.title}",
        room_id=room.pk,
        details=details,
    )
    events.send_on_commit(
        room.group_name,
        events.room_announcement(room_id=room.pk, announcement=announcement_payload(announcement)),
    )
    return announcement


@transaction.atomic
def check_add_room_filter(
    *, actor: User, room_id: int, kind: str, text: str, action: str
) -> BlockedPattern:
    if kind not in BlockedPattern.Kind.values:
        raise DomainError(_("Choose word or pattern."), fields={"kind": [_("Invalid choice.")]})
    if action not in BlockedPattern.Action.values:
        raise DomainError(_("Choose block or hold."), fields={"action": [_("Invalid choice.")]})
    text = (text or "").strip()
    try:
        validate_rule_text(kind=kind, text=text)
    except ValidationError as exc:
        raise DomainError(_("That filter cannot be used."), fields=exc.message_dict) from exc
    room = _lock_room(room_id)
    access.require_moderator(room_id=room.pk, user=actor)
    rule = BlockedPattern.objects.create(
        room=room, kind=kind, text=text, action=action, created_by=actor
    )
    _audit(
        actor=actor,
        action=Action.ADD_FILTER,
        target_type="filter",
        target_id=rule.pk,
        target_repr=f"{kind} filter in room {room.pk}",
        room_id=room.pk,
        details={"kind": kind, "text": text, "action": action},
    )
    return rule


@transaction.atomic
def check_remove_room_filter(*, actor: User, room_id: int, filter_id: int) -> None:
    room = _lock_room(room_id)
    access.require_moderator(room_id=room.pk, user=actor)
    rule = BlockedPattern.objects.filter(pk=filter_id, room=room).first()
    if rule is None:
        raise NotFoundError(_("No such filter in this room."))
    _audit(
        actor=actor,
        action=Action.REMOVE_FILTER,
        target_type="filter",
        target_id=rule.pk,
        target_repr=f"{rule.kind} filter in room {room.pk}",
        room_id=room.pk,
        details={"kind": rule.kind, "text": rule.text, "action": rule.action},
    )
    rule.delete()


# --- held messages ---------------------------------------------------------------------------


def check_review_held_message(*, actor: User, room_id: int, held_id: int, approve: bool):
    """Approve (send it as its author, skipping the filters) or reject a held message."""
    with transaction.atomic():
        room = _lock_room(room_id)
        access.require_moderator(room_id=room.pk, user=actor)
        held = (
            HeldMessage.objects.select_for_update()
            .select_related("membership")
            .filter(pk=held_id, room=room)
            .first()
        )
        if held is None:
            raise NotFoundError(_("No such held message."))
        if held.status != HeldMessage.Status.PENDING:
            raise ConflictError(_("That message was already reviewed."), code="already_reviewed")
        held.status = HeldMessage.Status.APPROVED if approve else HeldMessage.Status.REJECTED
        held.reviewed_at = timezone.now()
        if approve:
            try:
                held.message = send_held_message(held=held)
            except PermissionDeniedError as exc:
                # The author was muted, removed or suspended since: nothing to send.
                raise ConflictError(
                    _("The author cannot post in this room any more; reject the message."),
                    code="author_cannot_post",
                ) from exc
        held.save(update_fields=["status", "reviewed_at", "message"])
        # A rejected image or video is shown nowhere: its row goes, its files after commit.
        if (
            not approve
            and held.media_id is not None
            and release_media_asset(asset_id=held.media_id)
        ):
            held.media = None
        _audit(
            actor=actor,
            action=Action.APPROVE_HELD if approve else Action.REJECT_HELD,
            target_type="held_message",
            target_id=held.pk,
            target_repr=f"held message {held.pk} in room {room.pk}: {held.body[:120]}",
            subject_id=held.membership.user_id,
            room_id=room.pk,
        )
    return held


def send_held_message(*, held: HeldMessage) -> Message:
    """Send an approved held message through the chat send path (filters skipped),
    with its image or video when it had one."""

    if held.media_id is None:
        return send_message(membership=held.membership, body=held.body)
    return check_send_message(
        membership=held.membership,
        body=held.body,
        kind=MESSAGE_KIND_BY_MEDIA_KIND[held.media.kind],
        media=held.media,
        enforce_limits=False,
    ).message


def do_save_site_filter(*, actor: User, rule: BlockedPattern, created: bool) -> BlockedPattern:
    """Save a word filter edited in the admin, with its audit entry."""
    validate_rule_text(kind=rule.kind, text=rule.text)
    if created:
        rule.created_by = actor
    rule.save()
    _audit(
        actor=actor,
        action=Action.ADD_FILTER,
        target_type="filter",
        target_id=rule.pk,
        target_repr=f"{rule.kind} filter {'site-wide' if rule.room_id is None else rule.room_id}",
        room_id=rule.room_id,
        details={
            "kind": rule.kind,
            "text": rule.text,
            "action": rule.action,
            "active": rule.is_active,
        },
    )
    return rule


def do_delete_site_filter(*, actor: User, rule: BlockedPattern) -> None:
    _audit(
        actor=actor,
        action=Action.REMOVE_FILTER,
        target_type="filter",
        target_id=rule.pk,
        target_repr=f"{rule.kind} filter {'site-wide' if rule.room_id is None else rule.room_id}",
        room_id=rule.room_id,
        details={"kind": rule.kind, "text": rule.text, "action": rule.action},
    )
    rule.delete()
