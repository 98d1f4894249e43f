"""Reads for moderation: the queue, a case's context, host tool lists."""

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from community.chat.models import Message
from community.moderation.models import AuditLogEntry, BlockedPattern, HeldMessage, ModerationCase
from community.rooms.models import Membership, Room
from profiles.models import User

CONTEXT_MESSAGES = 5
HISTORY_ROWS = 20


def open_case_queue() -> QuerySet[ModerationCase]:
    """Open cases, worst first, with what the queue row shows (one query)."""
    return (
        ModerationCase.objects.filter(status=ModerationCase.Status.OPEN)
        .select_related("room", "membership", "subject", "message")
        .order_by("-severity", "-reporter_count", "id")
    )


def messages_around(message: Message, *, count: int = CONTEXT_MESSAGES) -> list[Message]:
    """The reported message with up to ``count`` messages before and after it (one query)."""
    return list(
        Message.objects.filter(
            room_id=message.room_id, seq__gte=message.seq - count, seq__lte=message.seq + count
        )
        .select_related("author")
        .order_by("seq")
    )


def subject_history(case: ModerationCase) -> dict:
    """The subject's earlier cases, sanctions and recent messages in the room."""
    if case.subject_id is None:
        return {"cases": [], "actions": [], "messages": []}
    cases = list(
        ModerationCase.objects.filter(subject_id=case.subject_id)
        .exclude(pk=case.pk)
        .order_by("-id")[:HISTORY_ROWS]
    )
    actions = list(
        AuditLogEntry.objects.filter(subject_id=case.subject_id)
        .select_related("actor")
        .order_by("-id")[:HISTORY_ROWS]
    )
    messages = []
    if case.room_id:
        messages = list(
            Message.objects.filter(room_id=case.room_id, author__user_id=case.subject_id)
            .select_related("author")
            .order_by("-seq")[:10]
        )
    return {"cases": cases, "actions": actions, "messages": messages}


def room_filters(room: Room) -> QuerySet[BlockedPattern]:
    return BlockedPattern.objects.filter(room=room).order_by("id")


def pending_held_messages(room: Room) -> QuerySet[HeldMessage]:
    return (
        HeldMessage.objects.filter(room=room, status=HeldMessage.Status.PENDING)
        .select_related("membership", "media__room")
        .order_by("id")
    )


def room_members_for_hosts(room: Room) -> QuerySet[Membership]:
    """Active and banned members, as the room shows them (nicknames only)."""
    return (
        Membership.objects.filter(
            Q(state=Membership.State.ACTIVE) | Q(state=Membership.State.BANNED), room=room
        )
        .only("id", "nickname", "role", "state", "muted_until", "room_id", "user_id")
        .order_by("state", "nickname", "id")
    )


# What a member is told about decisions concerning them (not who took them).
NOTICE_ACTIONS = [
    AuditLogEntry.Action.WARN,
    AuditLogEntry.Action.MUTE,
    AuditLogEntry.Action.AUTO_MUTE,
    AuditLogEntry.Action.KICK,
    AuditLogEntry.Action.BAN,
    AuditLogEntry.Action.UNBAN,
    AuditLogEntry.Action.SUSPEND_USER,
    AuditLogEntry.Action.UNSUSPEND_USER,
    AuditLogEntry.Action.HIDE_MESSAGE,
    AuditLogEntry.Action.GRANT_APPEAL,
    AuditLogEntry.Action.DENY_APPEAL,
]


def notices_for_user(user) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(subject=user, action__in=NOTICE_ACTIONS).only(
        "id", "action", "target_id", "room_id", "reason", "created_at"
    )


# How long a kick can be undone by the host who made it (a slip of the finger, not a
# second chance at a decision: after that the person may simply join again).
KICK_UNDO_SECONDS = 30


def kick_undo_deadline(*, actor: User, room_id: int, member_id: int) -> datetime | None:
    """Until when ``actor`` may still undo their kick of ``member_id`` (None: they may
    not: someone else kicked, it was not a kick, or the window closed). A read, for the
    pages that offer the "Undo" notice."""
    kick = (
        AuditLogEntry.objects.filter(room_id=room_id, target_type="membership", target_id=member_id)
        .order_by("-id")
        .only("action", "actor_id", "created_at")
        .first()
    )
    if kick is None or kick.action != AuditLogEntry.Action.KICK or kick.actor_id != actor.pk:
        return None
    deadline = kick.created_at + timedelta(seconds=KICK_UNDO_SECONDS)
    return deadline if timezone.now() < deadline else None
