"""Reads for notifications, unread counts and preferences.

Actors are stored as labels the recipient may see (a room nickname in a room), so no
read here ever joins to a main profile.
"""

import functools
import zoneinfo
from datetime import datetime, time
from typing import Any

from django.db import connections, router
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

from community.notifications.models import (
    MessageMention,
    Notification,
    NotificationSettings,
    RoomNotificationLevel,
)
from community.rooms.models import Membership
from config.korean import resolve_particles
from profiles.models import User

Level = RoomNotificationLevel.Level


# Mentions and replies: the kinds reading a room marks read (services.mark_room_notifications_read).
ROOM_READ_KINDS = (Notification.Kind.MENTION, Notification.Kind.REPLY)


def unread_addressed_in_room() -> Exists:
    """For a ``Membership`` queryset (``annotate(has_unread_addressed=...)``): whether the
    member has unread mentions or replies in the room. A send, which moves its author's
    read marker, skips marking them read when there are none (one statement fewer)."""
    return Exists(
        Notification.objects.filter(
            recipient_id=OuterRef("user_id"),
            room_id=OuterRef("room_id"),
            kind__in=ROOM_READ_KINDS,
            read_at__isnull=True,
        )
    )


def notifications_for(*, user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=user_id).select_related("room")


def _actors_text(notification: Notification) -> str:
    """Who did it, honorific included ("민지님", "ミンジさん", "민지님 외 2명"): the
    sentences around it add none, so a group never reads "님 외 1명님이"."""
    labels = notification.actor_labels or []
    if not labels:
        return pgettext("notification actor", "Someone")
    others = max(notification.count - 1, 0)
    if not others:
        return pgettext("notification actor", "%(actor)s") % {"actor": labels[0]}
    return ngettext("%(actor)s and %(count)s other", "%(actor)s and %(count)s others", others) % {
        "actor": labels[0],
        "count": others,
    }


def notification_text(notification: Notification) -> str:
    """One line in the reader's active language (call inside ``translation.override``)."""
    text = _notification_text(notification)
    if (get_language() or "").startswith("ko"):
        # Korean sentences write the subject particle as 이(가): the actor decides.
        return resolve_particles(text)
    return text


def _notification_text(notification: Notification) -> str:
    room = notification.room.title if notification.room_id else ""
    data = notification.data or {}
    values = {"actor": _actors_text(notification), "room": room}
    kind = notification.kind
    Kind = Notification.Kind
    if kind == Kind.MENTION:
        return _("%(actor)s mentioned you in %(room)s") % values
    if kind == Kind.REPLY:
        return _("%(actor)s replied to your message in %(room)s") % values
    if kind == Kind.REACTION:
        if data.get("target") == "status":
            return _("%(actor)s reacted to your status post") % values
        return _("%(actor)s reacted to your message in %(room)s") % values
    if kind == Kind.FOLLOWER:
        return _("%(actor)s started following you") % values
    if kind == Kind.JOIN_REQUEST:
        return _("%(actor)s asked to join %(room)s") % values
    if kind == Kind.JOIN_DECISION:
        if data.get("approved"):
            return _("Your request to join %(room)s was accepted") % values
        return _("Your request to join %(room)s was declined") % values
    if kind == Kind.TIP:
        return _("%(actor)s sent you a tip of %(amount)s %(currency)s") % {
            **values,
            "amount": data.get("amount", ""),
            "currency": data.get("currency", ""),
        }
    if kind == Kind.PAYOUT:
        return _("Your payout of %(amount)s %(currency)s was sent") % {
            "amount": data.get("amount", ""),
            "currency": data.get("currency", ""),
        }
    if kind == Kind.MEMBERSHIP_LAPSED:
        return _("Your membership of %(room)s ended: the renewal could not be paid") % values
    if kind == Kind.MEETUP_REMINDER:
        return _("“%(title)s” in %(room)s starts soon") % {
            **values,
            "title": data.get("meetup_title", ""),
        }
    if kind == Kind.MODERATION and data.get("sanction"):
        return _sanction_text(data, room)
    if kind == Kind.MODERATION:
        subject = _("appeal") if data.get("appeal_id") else _("report")
        return _("Your %(subject)s was reviewed: %(outcome)s") % {
            "subject": subject,
            "outcome": data.get("outcome_label") or data.get("outcome", ""),
        }
    return notification.get_kind_display()


def _sanction_text(data: dict, room: str) -> str:
    """A ban, removal or mute the recipient got in a room, with the reason given."""
    sanction = data["sanction"]
    if sanction == "ban":
        text = _("You were banned from %(room)s.") % {"room": room}
    elif sanction == "kick":
        text = _("You were removed from %(room)s.") % {"room": room}
    else:
        minutes = data.get("minutes") or 0
        text = ngettext(
            "You were muted in %(room)s for %(minutes)s minute.",
            "You were muted in %(room)s for %(minutes)s minutes.",
            minutes,
        ) % {"room": room, "minutes": minutes}
    if data.get("reason"):
        text = _("%(sanction)s Reason: %(reason)s") % {"sanction": text, "reason": data["reason"]}
    return text


def notification_payload(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "text": notification_text(notification),
        "room": (
            {"id": notification.room_id, "title": notification.room.title}
            if notification.room_id
            else None
        ),
        "message_id": notification.message_id,
        "actors": list(notification.actor_labels or []),
        "count": notification.count,
        "data": notification.data or {},
        "read": notification.read_at is not None,
        "created_at": notification.created_at.isoformat(),
        "updated_at": notification.updated_at.isoformat(),
    }


# --- unread counts -----------------------------------------------------------------------


def _unread_mentions_subquery():
    rows = (
        MessageMention.objects.filter(
            membership=OuterRef("pk"),
            message__seq__gt=OuterRef("last_read_seq"),
            message__deleted_at__isnull=True,
        )
        .order_by()
        .values("membership")
        .annotate(total=Count("id"))
        .values("total")
    )
    return Coalesce(Subquery(rows), 0)


def my_rooms(*, user_id: int) -> QuerySet[Membership]:
    """The user's active memberships with ``unread``, ``unread_mentions`` and the room
    notification level, newest activity first: one query whatever the length."""
    return (
        Membership.objects.filter(user_id=user_id, state=Membership.State.ACTIVE)
        .select_related("room", "notification_level")
        .annotate(
            unread=F("room__last_message_seq") - F("last_read_seq"),
            unread_mentions=_unread_mentions_subquery(),
            activity=F("room__last_activity_at"),
        )
    )


def room_level(membership: Membership) -> str:
    try:
        return membership.notification_level.level
    except RoomNotificationLevel.DoesNotExist:
        return Level.ALL


UNREAD_KEYS = ("messages", "mentions", "notifications")


def _unread_totals():
    """The three unread totals as annotations of a ``User`` row (see ``unread_counts``)."""
    active = Membership.objects.filter(user_id=OuterRef("pk"), state=Membership.State.ACTIVE)
    quiet_levels = [Level.MUTED, Level.MENTIONS]
    messages = (
        active.exclude(notification_level__level__in=quiet_levels)
        .order_by()
        .values("user_id")
        .annotate(total=Sum(F("room__last_message_seq") - F("last_read_seq")))
        .values("total")
    )
    mentions = (
        MessageMention.objects.filter(
            membership__user_id=OuterRef("pk"),
            membership__state=Membership.State.ACTIVE,
            message__seq__gt=F("membership__last_read_seq"),
            message__deleted_at__isnull=True,
        )
        .exclude(membership__notification_level__level=Level.MUTED)
        .order_by()
        .values("membership__user_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    notifications = (
        Notification.objects.filter(recipient_id=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("recipient_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    # Prefixed: ``notifications`` is a relation of ``User``.
    return {
        "unread_messages": Coalesce(Subquery(messages), 0, output_field=BigIntegerField()),
        "unread_mentions": Coalesce(Subquery(mentions), 0),
        "unread_notifications": Coalesce(Subquery(notifications), 0),
    }


# A user id no row has, marking where the real one goes in the compiled query's params.
_USER_ID_SLOT = -(2**62) + 7


@functools.cache
def _unread_counts_sql(*, vendor: str, with_locale: bool) -> tuple[str, tuple, int]:
    """The totals' query compiled once per process (and database vendor): building its
    three subqueries took ~2.8 ms of CPU per call, ~30 % of a tip's (docs/performance.md,
    Ledger), against ~0.2 ms to run it. Only the user id changes between calls."""
    totals = _unread_totals()
    fields = [*totals, "locale"] if with_locale else list(totals)
    query = User.objects.filter(pk=_USER_ID_SLOT).annotate(**totals).values(*fields)[:1]
    sql, params = query.query.sql_with_params()
    slots = [index for index, value in enumerate(params) if value == _USER_ID_SLOT]
    if len(slots) != 1:
        raise AssertionError(f"expected one user id parameter, found {len(slots)}")
    return sql, tuple(params), slots[0]


def unread_counts(*, user_id: int, with_locale: bool = False) -> dict[str, Any]:
    """Totals for the badge and the page title, in one query.

    ``messages``: unread messages in rooms set to *all*; ``mentions``: unread mentions
    in rooms that are not muted; ``notifications``: unread notifications. With
    ``with_locale`` the user's ``locale`` comes along in the same row (a notification's
    broadcast needs both).
    """

    # The database the ORM would read from (config/db_routing.py), as before.
    connection = connections[router.db_for_read(User)]
    sql, compiled_params, slot = _unread_counts_sql(
        vendor=connection.vendor, with_locale=with_locale
    )
    # A copy: the compiled params are shared by every thread of the process.
    params = list(compiled_params)
    params[slot] = int(user_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
        row = dict(zip((column[0] for column in cursor.description), values or (), strict=False))
    counts = {key: int(row.get(f"unread_{key}") or 0) for key in UNREAD_KEYS}
    if with_locale:
        counts["locale"] = row.get("locale")
    return counts


# --- preferences -------------------------------------------------------------------------


def settings_for(*, user_id: int) -> NotificationSettings:
    """The stored preferences, or unsaved defaults."""
    row = NotificationSettings.objects.filter(user_id=user_id).first()
    return row or NotificationSettings(user_id=user_id)


def in_quiet_hours(
    *, start: time | None, end: time | None, tz_name: str, now: datetime | None = None
) -> bool:
    """Whether ``now`` falls in [start, end) in the user's time zone.

    A window that crosses midnight (22:00–07:00) wraps; equal or missing times mean no
    quiet hours. Local wall-clock time is used, so the window follows DST changes.
    """
    if start is None or end is None or start == end:
        return False
    try:
        zone = zoneinfo.ZoneInfo(tz_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = (now or timezone.now()).astimezone(zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def unread_digest_candidates(*, user_id: int, created_before: datetime) -> QuerySet[Notification]:
    return notifications_for(user_id=user_id).filter(
        kind__in=[Notification.Kind.MENTION, Notification.Kind.REPLY],
        read_at__isnull=True,
        emailed_at__isnull=True,
        created_at__lte=created_before,
    )


def users_with_digest_due(*, created_before: datetime) -> list[int]:
    return list(
        Notification.objects.filter(
            Q(kind=Notification.Kind.MENTION) | Q(kind=Notification.Kind.REPLY),
            read_at__isnull=True,
            emailed_at__isnull=True,
            created_at__lte=created_before,
        )
        .order_by()
        .values_list("recipient_id", flat=True)
        .distinct()
    )
