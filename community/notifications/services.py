"""Writes for mentions and notifications, and the hooks other features call.

Every ``notify_*`` is called inside its caller's transaction (a rolled back tip or a
retried transfer leaves no notification) and broadcasts to the recipient's
``user.<id>`` group after commit. A notification is skipped when the recipient is the
actor, turned the kind off, muted the room, or blocked the actor.

Hooks for other features:
* ``notify_reaction(target=message_or_status_post, actor_membership_or_user=...)``
* ``notify_new_follower(follower=..., followed=...)``
* ``notify_moderation_outcome(user=..., outcome=..., report_id=..., appeal_id=...)``
* ``notify_sanction(user_id=..., sanction="ban"|"kick"|"mute", room=..., reason=...)``

Features that deliver notifications elsewhere (push, ``community.push``) sit above this
package and register here at start-up (``register_delivery_hooks``): every notification
created or bumped, and every message sent, passes through them inside the transaction.
"""

import functools
import json
import logging
import re
import unicodedata
import zoneinfo
from datetime import datetime, time, timedelta

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Exists, JSONField, OuterRef, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from community import events
from community.chat.models import Message
from community.notifications.models import (
    MessageMention,
    Notification,
    NotificationSettings,
    RoomNotificationLevel,
)
from community.notifications.selectors import (
    ROOM_READ_KINDS,
    in_quiet_hours,
    notification_payload,
    notification_text,
    room_level,
    settings_for,
    unread_counts,
    unread_digest_candidates,
)
from community.rooms.models import (
    NICKNAME_MAX_LENGTH,
    JoinRequest,
    MemberBlock,
    Membership,
    Room,
    nickname_key,
)
from config.compiled_queries import MarkedQuery
from config.errors import DomainError, NotFoundError
from profiles.models import Profile, StatusPost, User

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Level = RoomNotificationLevel.Level

# How many actors a grouped notification remembers (newest first).
MAX_ACTOR_LABELS = 3
# At most this many members are mentioned by one message (the rest are plain text).
MAX_MENTIONS_PER_MESSAGE = 20
# Candidate texts looked up per message (each ``@`` yields one per word boundary).
MAX_MENTION_OPTIONS = 200
# Kinds that happen inside a room and so follow the room's notification level.
ROOM_KINDS = {Kind.MENTION, Kind.REPLY, Kind.REACTION}


def user_group(*, user_id: int) -> str:
    return f"user.{user_id}"


# --- delivery hooks --------------------------------------------------------------------------

_notification_hooks: list = []
_message_hooks: list = []


def register_delivery_hooks(*, on_notification=None, on_message=None) -> None:
    """Called at start-up by a delivery channel built on notifications (push).

    ``on_notification(notification=..., updated=...)`` runs for every notification
    created or bumped; ``on_message(message=..., notified_user_ids=...)`` for every member
    message, with the users its mentions and reply already notified. Both run inside the
    caller's transaction and must defer their work to commit."""
    if on_notification is not None and on_notification not in _notification_hooks:
        _notification_hooks.append(on_notification)
    if on_message is not None and on_message not in _message_hooks:
        _message_hooks.append(on_message)


def _deliver(notification: Notification, *, updated: bool) -> None:
    for hook in _notification_hooks:
        hook(notification=notification, updated=updated)


# --- mentions ------------------------------------------------------------------------------


def _is_boundary(char: str) -> bool:
    # A nickname ends before a space or punctuation ("@jazzcat," "@jazz cat!"), never
    # inside a word.
    return char.isspace() or unicodedata.category(char)[0] in "PSZ"


def mention_candidates(*, body: str) -> list[tuple[int, list[str]]]:
    """For every ``@`` that starts a word: the texts after it that could be a nickname
    (nicknames may contain spaces, so every prefix ending at a word boundary)."""
    found = []
    for match in re.finditer("@", body):
        start = match.start()
        if start and not _is_boundary(body[start - 1]):
            continue  # an email address, not a mention
        rest = body[start + 1 : start + 1 + NICKNAME_MAX_LENGTH]
        options = [
            rest[:end].strip()
            for end in range(1, len(rest) + 1)
            if end == len(rest) or _is_boundary(rest[end])
        ]
        options = [option for option in dict.fromkeys(options) if option]
        if options:
            found.append((start, options))
        if len(found) >= MAX_MENTIONS_PER_MESSAGE * 2:
            break
    return found


def resolve_mentions(*, room_id: int, body: str, author_id: int | None) -> list[Membership]:
    """Active members of the room named by ``@nickname`` in ``body``.

    Only room nicknames are matched (folded as nicknames are compared:
    ``community.nicknames.nickname_key``), never a username, handle or display
    name: an open profile must not be reachable by its main name. The longest nickname
    wins at each ``@``; the author is never mentioned.
    """
    candidates = mention_candidates(body=body)
    if not candidates:
        return []
    options = list(dict.fromkeys(option for _start, found in candidates for option in found))[
        :MAX_MENTION_OPTIONS
    ]
    # One query over the folded nicknames (``Membership.nickname_key``, unique among a
    # room's active members, so one ``@name`` is one person).
    wanted = {nickname_key(option) for option in options}
    by_key: dict[str, list[Membership]] = {}
    for member in Membership.objects.filter(
        room_id=room_id, state=Membership.State.ACTIVE, nickname_key__in=wanted
    ):
        by_key.setdefault(member.nickname_key, []).append(member)
    mentioned: dict[int, Membership] = {}
    for _start, options in candidates:
        for option in sorted(options, key=len, reverse=True):
            matches = by_key.get(nickname_key(option))
            if matches:
                for member in matches:
                    if member.pk != author_id:
                        mentioned.setdefault(member.pk, member)
                break
        if len(mentioned) >= MAX_MENTIONS_PER_MESSAGE:
            break
    return list(mentioned.values())[:MAX_MENTIONS_PER_MESSAGE]


def record_message_mentions(*, message: Message) -> list[Membership]:
    """Store the message's mentions and notify the mentioned and the replied-to
    member. Called by ``do_send_message`` inside the send transaction."""
    if message.kind == Message.Kind.SYSTEM or message.author is None:
        return []
    author = message.author
    mentioned = resolve_mentions(room_id=message.room_id, body=message.body, author_id=author.pk)
    MessageMention.objects.bulk_create(
        [MessageMention(message=message, membership=member) for member in mentioned]
    )
    # Mentioned and replied-to members hear of the message through their notification,
    # whether or not they wanted it (muted kind, blocked author): never twice.
    addressed = {member.user_id for member in mentioned}
    for member in mentioned:
        _notify(
            recipient_id=member.user_id,
            actor_user_id=author.user_id,
            kind=Kind.MENTION,
            room=message.room,
            message=message,
            actor_label=author.nickname,
            data={"excerpt": message.body[:140]},
            membership=member,
            actor_membership=author,
        )
    reply_to = message.reply_to
    if (
        reply_to is not None
        # A tip answers the tipped message; its recipient hears of it as a tip, once.
        and message.kind != "tip"
        and reply_to.author_id
        and reply_to.author_id != author.pk
        and reply_to.author_id not in {member.pk for member in mentioned}
    ):
        replied = Membership.objects.filter(
            pk=reply_to.author_id, state=Membership.State.ACTIVE
        ).first()
        if replied is not None:
            addressed.add(replied.user_id)
            _notify(
                recipient_id=replied.user_id,
                actor_user_id=author.user_id,
                kind=Kind.REPLY,
                room=message.room,
                message=message,
                actor_label=author.nickname,
                data={"excerpt": message.body[:140]},
                membership=replied,
                actor_membership=author,
            )
    for hook in _message_hooks:
        hook(message=message, notified_user_ids=addressed)
    return mentioned


# --- creating notifications -----------------------------------------------------------------


def _muted_and_blocked(
    *,
    recipient_id: int,
    actor_user_id: int | None,
    actor_membership: Membership | None = None,
    actor_anonymous: bool = False,
) -> tuple[list, bool]:
    """The recipient's muted kinds and whether they blocked the actor, in one query.

    In a room the actor is a membership: blocked when the recipient blocked that member,
    or blocked the account *and* the member shows their main profile. An account block
    never silences an open profile (``actor_anonymous``, or an open-profile
    ``actor_membership``): the missing notification would tell the blocker who it is."""

    if actor_membership is not None:
        actor_anonymous = actor_membership.is_open_profile
    by_account = actor_user_id is not None and not actor_anonymous and _block_model() is not None
    connection = connections[router.db_for_read(User)]
    query = _muted_and_blocked_query(
        vendor=connection.vendor, by_member=actor_membership is not None, by_account=by_account
    )
    params = query.bind(
        {
            _RECIPIENT_MARKER: recipient_id,
            _MEMBERSHIP_MARKER: getattr(actor_membership, "pk", None),
            _ACTOR_MARKER: actor_user_id,
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(query.sql, params)
        values = cursor.fetchone()
        row = dict(zip((column[0] for column in cursor.description), values or (), strict=False))
    muted = row.get("muted")
    if isinstance(muted, str | bytes):  # JSON as text (SQLite; psycopg as Django sets it)
        muted = json.loads(muted)
    return muted or [], bool(row.get("blocked") or row.get("member_blocked"))


def _block_model():
    try:
        return apps.get_model("profiles", "Block")
    except LookupError:
        return None


# Ids no row has, marking where the real ones go (config.compiled_queries.MarkedQuery).
_RECIPIENT_MARKER = -(2**62) + 11
_MEMBERSHIP_MARKER = -(2**62) + 12
_ACTOR_MARKER = -(2**62) + 13


@functools.cache
def _muted_and_blocked_query(*, vendor: str, by_member: bool, by_account: bool) -> MarkedQuery:
    """``_muted_and_blocked``' query, compiled once per process, vendor and shape:
    building its subqueries was ~1.6 ms of client CPU per notification against ~0.3 ms
    with the SQL ready (docs/performance.md, Ledger: the hot creator)."""
    annotations = {
        "muted": Subquery(
            NotificationSettings.objects.filter(user_id=OuterRef("pk")).values("muted_kinds")[:1],
            output_field=JSONField(),
        )
    }
    markers = [_RECIPIENT_MARKER]
    if by_member:
        annotations["member_blocked"] = Exists(
            MemberBlock.objects.filter(blocker_id=OuterRef("pk"), membership_id=_MEMBERSHIP_MARKER)
        )
        markers.append(_MEMBERSHIP_MARKER)
    if by_account:
        annotations["blocked"] = Exists(
            _block_model().objects.filter(blocker_id=OuterRef("pk"), blocked_id=_ACTOR_MARKER)
        )
        markers.append(_ACTOR_MARKER)
    return MarkedQuery(
        User.objects.filter(pk=_RECIPIENT_MARKER).values(**annotations)[:1], markers=markers
    )


def _wanted(
    *,
    recipient_id: int,
    actor_user_id: int | None,
    kind: str,
    membership: Membership | None,
    actor_membership: Membership | None = None,
    actor_anonymous: bool = False,
) -> bool:
    if actor_user_id is not None and actor_user_id == recipient_id:
        return False
    muted_kinds, blocked = _muted_and_blocked(
        recipient_id=recipient_id,
        actor_user_id=actor_user_id,
        actor_membership=actor_membership,
        actor_anonymous=actor_anonymous,
    )
    if blocked or kind in muted_kinds:
        return False
    return not (
        membership is not None and kind in ROOM_KINDS and room_level(membership) == Level.MUTED
    )


def _broadcast(notification: Notification, *, updated: bool = False) -> None:
    # The text is for the recipient: their language, not the actor's request's. The
    # locale comes with the unread totals: one query for both.
    counts = unread_counts(user_id=notification.recipient_id, with_locale=True)
    locale = counts.pop("locale", None)
    with translation.override(locale or translation.get_language() or settings.LANGUAGE_CODE):
        payload = notification_payload(notification)
    event = (
        events.notification_updated(notification=payload)
        if updated
        else events.notification_created(notification=payload)
    )
    events.send_on_commit(
        user_group(user_id=notification.recipient_id), event, events.unread_updated(**counts)
    )
    _deliver(notification, updated=updated)


def broadcast_unread(*, user_id: int) -> None:
    """Send the user's current unread totals to their ``/ws/me/`` sockets (after commit)."""
    events.send_on_commit(
        user_group(user_id=user_id), events.unread_updated(**unread_counts(user_id=user_id))
    )


def _notify(
    *,
    recipient_id: int,
    actor_user_id: int | None,
    kind: str,
    actor_label: str = "",
    room: Room | None = None,
    message: Message | None = None,
    data: dict | None = None,
    membership: Membership | None = None,
    actor_membership: Membership | None = None,
    actor_anonymous: bool = False,
    once_key: str = "",
) -> Notification | None:
    """``once_key`` (unique per recipient and kind) makes the call idempotent: a second
    call with the same key creates, broadcasts and delivers nothing."""
    if not _wanted(
        recipient_id=recipient_id,
        actor_user_id=actor_user_id,
        kind=kind,
        membership=membership,
        actor_membership=actor_membership,
        actor_anonymous=actor_anonymous,
    ):
        return None
    fields = {
        "recipient_id": recipient_id,
        "kind": kind,
        "target_key": once_key,
        "room": room,
        "message": message,
        "actor_labels": [actor_label] if actor_label else [],
        "data": data or {},
    }
    if once_key:
        try:
            with transaction.atomic():
                notification = Notification.objects.create(**fields)
        except IntegrityError:  # this key's notification exists (a repeat, or a concurrent run)
            return None
    else:
        notification = Notification.objects.create(**fields)
    _broadcast(notification)
    return notification


def _notify_grouped(
    *,
    recipient_id: int,
    actor_user_id: int | None,
    kind: str,
    target_key: str,
    actor_label: str,
    room: Room | None = None,
    message: Message | None = None,
    data: dict | None = None,
    membership: Membership | None = None,
    actor_membership: Membership | None = None,
) -> Notification | None:
    """One notification per (recipient, kind, target): a repeat bumps its count, puts
    the actor first and makes it unread again."""
    if not _wanted(
        recipient_id=recipient_id,
        actor_user_id=actor_user_id,
        kind=kind,
        membership=membership,
        actor_membership=actor_membership,
    ):
        return None
    with transaction.atomic():
        lookup = {"recipient_id": recipient_id, "kind": kind, "target_key": target_key}
        existing = Notification.objects.select_for_update().filter(**lookup).first()
        if existing is None:
            try:
                with transaction.atomic():
                    notification = Notification.objects.create(
                        **lookup,
                        room=room,
                        message=message,
                        actor_labels=[actor_label],
                        data=data or {},
                    )
                _broadcast(notification)
                return notification
            except IntegrityError:  # a concurrent first reaction created it
                existing = Notification.objects.select_for_update().get(**lookup)
        labels = [actor_label] + [label for label in existing.actor_labels if label != actor_label]
        existing.actor_labels = labels[:MAX_ACTOR_LABELS]
        existing.count += 1
        existing.read_at = None
        existing.save(update_fields=["actor_labels", "count", "read_at", "updated_at"])
        _broadcast(existing, updated=True)
        return existing


def _reaction_target(target):
    """The Message or StatusPost; the reactions feature may pass its resolved target
    (anything with ``column`` like ``{"message_id": 5}``) instead of the row."""
    column = getattr(target, "column", None)
    if not isinstance(column, dict):
        return target

    if "message_id" in column:
        return Message.objects.filter(pk=column["message_id"]).first()
    if "status_post_id" in column:
        return StatusPost.objects.filter(pk=column["status_post_id"]).first()
    return None  # a reaction to a room notifies nobody


def notify_reaction(*, target, actor_membership_or_user) -> Notification | None:
    """A reaction to a chat message or a status post, grouped per target.

    In a room the actor is shown by their room nickname; on a status post (a main
    profile's post) by their handle.
    """
    target = _reaction_target(target)
    if target is None:
        return None
    if isinstance(target, Message):
        if target.author_id is None or target.is_deleted:
            return None
        if isinstance(actor_membership_or_user, Membership):
            actor = actor_membership_or_user
        else:
            actor = (
                Membership.objects.filter(room_id=target.room_id, user=actor_membership_or_user)
                .order_by("-id")
                .first()
            )
            if actor is None:
                return None
        if actor.room_id != target.room_id:
            return None  # a nickname from another room would not be how they appear here
        owner = (
            Membership.objects.select_related("room")
            .filter(pk=target.author_id, state=Membership.State.ACTIVE)
            .first()
        )
        if owner is None:
            return None
        return _notify_grouped(
            recipient_id=owner.user_id,
            actor_user_id=actor.user_id,
            kind=Kind.REACTION,
            target_key=f"message:{target.pk}",
            actor_label=actor.nickname,
            room=owner.room,
            message=target,
            data={"target": "message", "excerpt": target.body[:140]},
            membership=owner,
            actor_membership=actor,
        )
    # A status post (profiles): its author is a user, seen by their main profile.
    user = getattr(actor_membership_or_user, "user", actor_membership_or_user)
    return _notify_grouped(
        recipient_id=target.author_id,
        actor_user_id=user.pk,
        kind=Kind.REACTION,
        target_key=f"status:{target.pk}",
        actor_label=_handle_label(user),
        data={"target": "status", "status_post_id": target.pk},
    )


def _handle_label(user) -> str:
    # Read fresh: a cached ``user.profile`` may predate a handle change.

    handle = Profile.objects.filter(user_id=user.pk).values_list("handle", flat=True).first()
    return f"@{handle}" if handle else _("Someone")


def notify_new_follower(*, follower, followed) -> Notification | None:
    """Follows are between main profiles, so the follower is shown by handle."""
    return _notify(
        recipient_id=followed.pk,
        actor_user_id=follower.pk,
        kind=Kind.FOLLOWER,
        actor_label=_handle_label(follower),
        data={"handle": _handle_label(follower).lstrip("@")},
    )


def notify_join_request(*, request: JoinRequest) -> list[Notification]:
    """Tell the room's hosts; the requester is shown by the nickname they asked for."""
    hosts = Membership.objects.filter(
        room_id=request.room_id,
        state=Membership.State.ACTIVE,
        role__in=[Membership.Role.OWNER, Membership.Role.COHOST],
    ).order_by("id")
    created = []
    for host in hosts:
        notification = _notify(
            recipient_id=host.user_id,
            actor_user_id=request.user_id,
            kind=Kind.JOIN_REQUEST,
            actor_label=request.nickname,
            room=request.room,
            data={"request_id": request.pk},
            actor_anonymous=request.is_open_profile,
        )
        if notification:
            created.append(notification)
    return created


def notify_join_decision(*, request: JoinRequest) -> Notification | None:
    """Tell the requester that a host approved or declined their request (the host is
    not named)."""
    return _notify(
        recipient_id=request.user_id,
        actor_user_id=None,
        kind=Kind.JOIN_DECISION,
        room=request.room,
        data={"request_id": request.pk, "approved": request.state == JoinRequest.State.APPROVED},
    )


def notify_tip_received(*, tip) -> Notification | None:
    """``tip.sender_label`` already hides an open profile's main name. Idempotent: one
    notification per tip, however often it is called (the tip's task may run twice)."""
    return _notify(
        recipient_id=tip.recipient_id,
        actor_user_id=tip.sender_id,
        kind=Kind.TIP,
        actor_label=tip.sender_label,
        data={"tip_id": tip.pk, "amount": tip.amount, "currency": tip.currency},
        once_key=f"tip:{tip.pk}",
    )


def notify_payout_settled(*, payout) -> Notification | None:
    return _notify(
        recipient_id=payout.user_id,
        actor_user_id=None,
        kind=Kind.PAYOUT,
        data={"payout_id": payout.pk, "amount": payout.amount, "currency": payout.currency},
    )


def notify_membership_lapsed(*, user_id: int, room: Room) -> Notification | None:
    """The monthly membership of a paid room could not be renewed, so it ended."""
    return _notify(
        recipient_id=user_id,
        actor_user_id=None,
        kind=Kind.MEMBERSHIP_LAPSED,
        room=room,
        data={"room_id": room.pk},
    )


def notify_meetup_reminder(
    *, membership: Membership, message: Message, starts_at: str, title: str
) -> Notification | None:
    """A meetup the member is going to (or might) starts soon. Runs in the reminding
    task's transaction; ``starts_at`` is ISO 8601 (clients show it in their zone)."""
    return _notify(
        recipient_id=membership.user_id,
        actor_user_id=None,
        kind=Kind.MEETUP_REMINDER,
        room=message.room,
        message=message,
        membership=membership,
        data={"meetup_title": title[:120], "starts_at": starts_at},
    )


def notify_moderation_outcome(
    *,
    user,
    outcome: str,
    outcome_label: str = "",
    report_id: int | None = None,
    appeal_id: int | None = None,
) -> Notification | None:
    """The outcome of the user's report or appeal (for the moderation feature)."""
    data = {"outcome": outcome, "outcome_label": str(outcome_label or outcome)}
    if report_id is not None:
        data["report_id"] = report_id
    if appeal_id is not None:
        data["appeal_id"] = appeal_id
    return _notify(recipient_id=user.pk, actor_user_id=None, kind=Kind.MODERATION, data=data)


def notify_sanction(
    *, user_id: int, sanction: str, room: Room, reason: str = "", minutes: int | None = None
) -> Notification | None:
    """A ban, removal (``kick``) or mute in ``room``, with the reason the host or
    moderator gave; who took it is not named. Pushed to ``/ws/me/`` after commit."""
    data = {"sanction": sanction, "reason": reason}
    if minutes:
        data["minutes"] = minutes
    return _notify(
        recipient_id=user_id, actor_user_id=None, kind=Kind.MODERATION, room=room, data=data
    )


def withdraw_message_notifications(*, message: Message) -> None:
    """A deleted or hidden message takes its mention, reply and reaction notifications
    with it (their excerpts would otherwise outlive the tombstone: in the notification
    centre, the API, a digest not yet emailed). Each recipient's ``/ws/me/`` sockets get
    ``notification.deleted`` with the ids to drop, then the new totals. Call inside the
    delete or hide."""
    rows = list(Notification.objects.filter(message=message).values_list("id", "recipient_id"))
    if not rows:
        return
    Notification.objects.filter(pk__in=[pk for pk, _recipient in rows]).delete()
    by_recipient: dict[int, list[int]] = {}
    for pk, recipient_id in rows:
        by_recipient.setdefault(recipient_id, []).append(pk)
    for recipient_id, ids in sorted(by_recipient.items()):
        events.send_on_commit(
            user_group(user_id=recipient_id),
            events.notification_deleted(ids=ids),
            events.unread_updated(**unread_counts(user_id=recipient_id)),
        )


# --- reading ---------------------------------------------------------------------------------


def mark_room_notifications_read(*, membership: Membership, seq: int) -> int:
    """Reading a room up to ``seq`` reads its mentions and replies up to there too, so
    they leave the badge and are never emailed. Returns how many were marked.

    A membership read with ``selectors.unread_addressed_in_room`` (``has_unread_addressed``
    False: none unread when it was read, under its room's lock) costs no statement."""
    if getattr(membership, "has_unread_addressed", True) is False:
        return 0
    return Notification.objects.filter(
        recipient_id=membership.user_id,
        room_id=membership.room_id,
        kind__in=ROOM_READ_KINDS,
        read_at__isnull=True,
        message__seq__lte=seq,
    ).update(read_at=timezone.now())


@transaction.atomic
def mark_notification_read(*, user, notification_id: int) -> Notification:
    notification = (
        Notification.objects.select_for_update().filter(pk=notification_id, recipient=user).first()
    )
    if notification is None:
        raise NotFoundError(_("No such notification."))
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        broadcast_unread(user_id=user.pk)
    return notification


@transaction.atomic
def mark_all_notifications_read(*, user) -> int:
    updated = Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if updated:
        broadcast_unread(user_id=user.pk)
    return updated


# --- preferences -----------------------------------------------------------------------------


@transaction.atomic
def set_room_notification_level(*, user, room_id: int, level: str) -> RoomNotificationLevel:
    if level not in Level.values:
        raise DomainError(
            _("Choose all, mentions or muted."), fields={"level": [_("Invalid choice.")]}
        )
    membership = Membership.objects.filter(
        room_id=room_id, user=user, state=Membership.State.ACTIVE
    ).first()
    if membership is None:
        raise NotFoundError(_("You are not a member of this room."))
    row, _created = RoomNotificationLevel.objects.update_or_create(
        membership=membership, defaults={"level": level}
    )
    broadcast_unread(user_id=user.pk)
    return row


def _clean_time(value, field: str) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    try:
        return datetime.strptime(str(value), "%H:%M").time()
    except ValueError:
        raise DomainError(
            _("Use a time like 22:30."), fields={field: [_("Invalid time.")]}
        ) from None


_UNSET = object()


@transaction.atomic
def update_notification_settings(
    *,
    user,
    muted_kinds: list[str] | None = None,
    email_digest: bool | None = None,
    push_previews: bool | None = None,
    quiet_hours_start=_UNSET,
    quiet_hours_end=_UNSET,
) -> NotificationSettings:
    row, _created = NotificationSettings.objects.select_for_update().get_or_create(user=user)
    fields = []
    if muted_kinds is not None:
        unknown = [kind for kind in muted_kinds if kind not in Kind.values]
        if unknown:
            raise DomainError(
                _("Unknown notification kind."), fields={"muted_kinds": [_("Invalid choice.")]}
            )
        row.muted_kinds = sorted(set(muted_kinds))
        fields.append("muted_kinds")
    if email_digest is not None:
        row.email_digest = bool(email_digest)
        fields.append("email_digest")
    if push_previews is not None:
        row.push_previews = bool(push_previews)
        fields.append("push_previews")
    if quiet_hours_start is not _UNSET:
        row.quiet_hours_start = _clean_time(quiet_hours_start, "quiet_hours_start")
        fields.append("quiet_hours_start")
    if quiet_hours_end is not _UNSET:
        row.quiet_hours_end = _clean_time(quiet_hours_end, "quiet_hours_end")
        fields.append("quiet_hours_end")
    if fields:
        row.save(update_fields=fields)
    return row


# --- email digest ----------------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def send_notification_digest(*, user_id: int, now: datetime | None = None) -> int:
    """Email the user's unread, not yet emailed mentions and replies older than the
    digest delay. Returns how many notifications the email covered (0: nothing sent).

    Idempotent: the rows are locked and marked ``emailed_at`` in the transaction that
    sends, so two workers never email one notification and a failed send is retried.
    Skipped (and retried on a later run) during the user's quiet hours.
    """

    now = now or timezone.now()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return 0
    prefs = settings_for(user_id=user.pk)
    if not prefs.email_digest:
        return 0
    if in_quiet_hours(
        start=prefs.quiet_hours_start, end=prefs.quiet_hours_end, tz_name=user.timezone, now=now
    ):
        return 0
    cutoff = now - timedelta(minutes=settings.NOTIFY_DIGEST_DELAY_MINUTES)
    with transaction.atomic():
        ids = list(
            unread_digest_candidates(user_id=user.pk, created_before=cutoff)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)
        )
        notifications = list(
            Notification.objects.filter(pk__in=ids).select_related("room").order_by("id")
        )
        notifications = [n for n in notifications if n.kind not in prefs.muted_kinds]
        if not notifications:
            return 0
        # The recipient's language and time zone, whoever runs the task.
        with (
            translation.override(user.locale or settings.LANGUAGE_CODE),
            timezone.override(_zone(user.timezone)),
        ):
            context = {
                "user": user,
                "lines": [
                    {"text": notification_text(n), "when": n.created_at} for n in notifications
                ],
                "site_url": settings.SITE_URL.rstrip("/"),
            }
            subject = ngettext(
                "Moim: %(count)s new mention or reply",
                "Moim: %(count)s new mentions and replies",
                len(notifications),
            ) % {"count": len(notifications)}
            body = render_to_string("community/email/digest.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=now)
    return len(notifications)
