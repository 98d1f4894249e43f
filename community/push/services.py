"""Push targets (devices and browser subscriptions) and the delivery of pushes.

Registering a token again moves it to its newest owner (a phone handed on, a browser
profile logged in as someone else): one row per token, never two people's. Log-out
removes the device's targets, "log out everywhere" all of them.

What is pushed goes through one of two paths, both queued on commit from the hooks
``community.notifications.services`` runs (wired in ``community/apps.py``):

* a notification of a kind in ``PUSH_KINDS`` (mention, reply, tip received, join
  request to hosts, join decision, moderation notice): ``deliver_notification_push``;
* plain messages of a room: at most one push per room per ``PUSH_ROOM_COLLAPSE_SECONDS``
  (``deliver_room_pushes``), to members who set the room to *all*, as one notification
  per room that a newer one replaces (the count of unread messages).

Both skip people in their quiet hours, members with the room open on any device
(presence), authors the recipient blocked, and stop at ``PUSH_MAX_PER_USER`` pushes per
``PUSH_RATE_WINDOW_SECONDS``. What a push shows is what the recipient may see: a room
nickname, never an open-profile member's account; with previews off, not the text.
"""

import base64
import binascii
import logging
import re

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from community.chat.models import Message
from community.chat.presence import online_membership_ids
from community.notifications.models import Notification, RoomNotificationLevel
from community.notifications.selectors import (
    in_quiet_hours,
    notification_text,
    room_level,
    settings_for,
)
from community.push import senders
from community.push.selectors import (
    PLATFORM_MODELS,
    addressed_pairs,
    blocks_among,
    devices_by_user,
    recent_messages,
    room_push_recipients,
    settings_by_user,
)
from community.rooms.models import Membership, Room
from config.commit_hooks import on_commit_once
from config.errors import ConflictError, DomainError, NotFoundError

logger = logging.getLogger(__name__)

Kind = Notification.Kind
PUSH_KINDS = {
    Kind.MENTION,
    Kind.REPLY,
    Kind.TIP,
    Kind.JOIN_REQUEST,
    Kind.JOIN_DECISION,
    Kind.MODERATION,
}
# Kinds about what is said in a room: not pushed while the room is open, nor when muted.
ROOM_MESSAGE_KINDS = {Kind.MENTION, Kind.REPLY}
MAX_NAME_LENGTH = 100
MAX_TOKEN_LENGTH = 4096
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-.]{20,4096}$")
_APNS_TOKEN = re.compile(r"^[0-9a-fA-F]{64,200}$")
# A browser session's registered targets (``[[platform, id], ...]``), removed at log-out.
SESSION_TARGETS_KEY = "push_targets"
# What a push's excerpt may show of a message.
EXCERPT_LENGTH = 140


class PushRetry(Exception):
    """Some provider could not take a push now; the task retries (sent ones are skipped)."""


# --- devices -----------------------------------------------------------------------------------


def _b64url_bytes(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(message, fields={field: [message]})


def _clean_registration(
    *, platform: str, token: str, p256dh: str, auth: str, environment: str
) -> dict:
    if platform not in PLATFORM_MODELS:
        raise _invalid("platform", _("Choose web, fcm or apns."))
    token = (token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid("token", _("A push token or subscription endpoint is required."))
    if platform == "web":
        if not senders.web_endpoint_allowed(token):
            raise _invalid("endpoint", _("This push service is not supported."))
        key = _b64url_bytes(p256dh or "")
        secret = _b64url_bytes(auth or "")
        # RFC 8291: an uncompressed P-256 point and a 16-byte authentication secret.
        if key is None or len(key) != 65 or key[0] != 4:
            raise _invalid("p256dh", _("Invalid subscription key."))
        if secret is None or len(secret) != 16:
            raise _invalid("auth", _("Invalid subscription secret."))
        return {"p256dh": p256dh, "auth": auth}
    if platform == "fcm" and not _FCM_TOKEN.match(token):
        raise _invalid("token", _("Invalid FCM registration token."))
    if platform == "apns":
        if not _APNS_TOKEN.match(token):
            raise _invalid("token", _("Invalid APNs device token."))
        environment = environment or senders.APNS_PRODUCTION
        if environment not in (senders.APNS_SANDBOX, senders.APNS_PRODUCTION):
            raise _invalid("environment", _("Choose sandbox or production."))
        return {"application_id": environment}
    return {"cloud_message_type": "FCM"} if platform == "fcm" else {}


def _device_count(user_id: int) -> int:
    return sum(model.objects.filter(user_id=user_id).count() for model in PLATFORM_MODELS.values())


@transaction.atomic
def register_device(
    *,
    user,
    platform: str,
    token: str,
    name: str = "",
    p256dh: str = "",
    auth: str = "",
    environment: str = "",
    browser: str = "",
):
    """Add (or refresh) a push target of ``user``; a token already registered moves to
    ``user``. Returns the device row."""
    fields = _clean_registration(
        platform=platform, token=token, p256dh=p256dh, auth=auth, environment=environment
    )
    token = token.strip()
    if platform == "apns":
        token = token.lower()
    fields["name"] = (name or "").strip()[:MAX_NAME_LENGTH]
    if platform == "web":
        known = {choice for choice, _label in PLATFORM_MODELS["web"].browser.field.choices}
        fields["browser"] = browser.upper() if browser and browser.upper() in known else "CHROME"
    model = PLATFORM_MODELS[platform]
    device = model.objects.select_for_update().filter(registration_id=token).first()
    if device is None:
        if _device_count(user.pk) >= settings.PUSH_MAX_DEVICES_PER_USER:
            raise ConflictError(
                _("Too many devices. Remove one in the notification settings first."),
                code="too_many_devices",
            )
        return model.objects.create(user=user, registration_id=token, active=True, **fields)
    if device.user_id != user.pk:
        logger.info("push %s target %s moved to its newest owner", platform, device.pk)
    for key, value in fields.items():
        setattr(device, key, value)
    device.user = user
    device.active = True
    device.save(update_fields=["user", "active", *fields])
    return device


@transaction.atomic
def remove_device(*, user, platform: str, device_id: int) -> None:
    model = PLATFORM_MODELS.get(platform)
    deleted = 0
    if model is not None:
        deleted, _rows = model.objects.filter(pk=device_id, user=user).delete()
    if not deleted:
        raise NotFoundError(_("No such device."))


@transaction.atomic
def remove_devices(*, user_id: int, targets: list[tuple[str, int]] = (), tokens=()) -> int:
    """Remove some of the user's targets, by ``(platform, id)`` or by token (log-out of
    one device or browser). Another user's targets are never touched."""
    removed = 0
    for platform, model in PLATFORM_MODELS.items():
        ids = [pk for kind, pk in targets if kind == platform]
        if ids:
            removed += model.objects.filter(user_id=user_id, pk__in=ids).delete()[0]
        if tokens:
            # APNs tokens are stored in lower case (hex, as registered).
            wanted = [str(t).lower() if platform == "apns" else str(t) for t in tokens]
            removed += model.objects.filter(user_id=user_id, registration_id__in=wanted).delete()[0]
    return removed


@transaction.atomic
def remove_all_devices(*, user_id: int) -> int:
    """ "Log out everywhere": nothing more is pushed to any of the user's devices."""
    return sum(
        model.objects.filter(user_id=user_id).delete()[0] for model in PLATFORM_MODELS.values()
    )


# --- hooks (inside the caller's transaction) ---------------------------------------------------


def queue_notification_push(*, notification: Notification, updated: bool) -> None:
    """Registered with notifications: queue the push of a new notification on commit."""
    if updated or notification.kind not in PUSH_KINDS:
        return
    from community.push import tasks  # the task module wraps this one's functions

    tasks.push_notification.delay_on_commit(notification.pk)


def _pending_key(room_id: int) -> str:
    return f"push:room-pending:{room_id}"


def queue_room_push(*, message: Message, notified_user_ids=()) -> None:
    """Registered with notifications: after commit, make sure one room push is on its
    way within ``PUSH_ROOM_COLLAPSE_SECONDS`` (later messages join it)."""
    if message.kind == Message.Kind.SYSTEM or message.author_id is None:
        return
    room_id = message.room_id

    def schedule() -> None:
        from community.push import tasks  # the task module wraps this one's functions

        delay = settings.PUSH_ROOM_COLLAPSE_SECONDS
        try:
            if not cache.add(_pending_key(room_id), 1, timeout=delay + 60):
                return
        except Exception:  # no cache: push every message rather than none
            logger.warning("push collapse unavailable for room %s", room_id)
        tasks.push_room_messages.apply_async(kwargs={"room_id": room_id}, countdown=delay)

    # A batch of the room's messages in one transaction schedules once (the same push).
    on_commit_once(("push:room", room_id), schedule)


# --- delivery ------------------------------------------------------------------------------------


def _rate_allows(user_id: int, *, once_key: str) -> bool:
    """Count this push against the user's cap (once, whatever the retries)."""
    window = settings.PUSH_RATE_WINDOW_SECONDS
    key = f"push:rate:{user_id}"
    try:
        if not cache.add(f"push:counted:{once_key}", 1, timeout=window):
            return True  # a retry of a push already counted
        cache.add(key, 0, timeout=window)
        return cache.incr(key) <= settings.PUSH_MAX_PER_USER
    except Exception:
        logger.warning("push rate cap unavailable for user %s", user_id)
        return True


def _send_to_devices(devices, content: senders.PushContent, *, once_key: str) -> int:
    """Send to each device; prune dead ones. Returns how many took it; raises
    ``PushRetry`` after trying them all when some provider was unavailable."""
    sent = 0
    retry = False
    for platform, device in devices:
        marker = f"push:sent:{once_key}:{platform}:{device.pk}"
        if cache.get(marker):
            continue
        try:
            result = senders.SENDERS[platform](device, content)
        except senders.PushUnavailable as exc:
            logger.warning("push to %s %s unavailable: %s", platform, device.pk, exc)
            retry = True
            continue
        if result == senders.Result.SENT:
            sent += 1
            cache.set(marker, 1, timeout=24 * 3600)
        elif result == senders.Result.GONE:
            # The provider says the token or subscription is dead: it never comes back.
            PLATFORM_MODELS[platform].objects.filter(pk=device.pk).delete()
            logger.info("pruned dead push %s target %s", platform, device.pk)
        else:
            logger.warning("push to %s %s rejected", platform, device.pk)
    if retry:
        raise PushRetry(once_key)
    return sent


def _room_url(room_id: int, message_id: int | None = None) -> str:
    url = reverse("room-detail", kwargs={"room_id": room_id})
    return f"{url}#message-{message_id}" if message_id else url


def _notification_content(notification: Notification, *, previews: bool) -> senders.PushContent:
    room = notification.room
    text = notification_text(notification)
    excerpt = (notification.data or {}).get("excerpt", "")
    body = text
    if excerpt and previews and notification.kind in ROOM_MESSAGE_KINDS:
        body = f"{text}\n{excerpt[:EXCERPT_LENGTH]}"
    if room is not None:
        url = _room_url(room.pk, notification.message_id)
    else:
        url = reverse("notifications")
    data = {"kind": notification.kind, "notification_id": notification.pk}
    if room is not None:
        data["room_id"] = room.pk
    if notification.message_id:
        data["message_id"] = notification.message_id
    return senders.PushContent(
        title=room.title if room is not None else "Moim",
        body=body,
        url=url,
        tag=f"notification-{notification.pk}",
        data=data,
    )


def deliver_notification_push(*, notification_id: int) -> int:
    """Push one notification to its recipient's devices. Returns how many took it.

    Idempotent under retries: a device that took it is not sent it again."""
    notification = (
        Notification.objects.select_related("room", "recipient").filter(pk=notification_id).first()
    )
    if notification is None or notification.read_at is not None:
        return 0
    user = notification.recipient
    if not user.is_active or notification.kind not in PUSH_KINDS:
        return 0
    devices = devices_by_user(user_ids=[user.pk]).get(user.pk)
    if not devices:
        return 0
    prefs = settings_for(user_id=user.pk)
    if in_quiet_hours(
        start=prefs.quiet_hours_start, end=prefs.quiet_hours_end, tz_name=user.timezone
    ):
        return 0
    if notification.room_id and notification.kind in (*ROOM_MESSAGE_KINDS, Kind.JOIN_REQUEST):
        membership = (
            Membership.objects.select_related("notification_level")
            .filter(room_id=notification.room_id, user=user, state=Membership.State.ACTIVE)
            .first()
        )
        if membership is not None:
            if room_level(membership) == RoomNotificationLevel.Level.MUTED:
                return 0
            if notification.kind in ROOM_MESSAGE_KINDS and membership.pk in (
                online_membership_ids(room_id=notification.room_id)
            ):
                return 0  # reading the room right now, on some device
    once_key = f"n{notification.pk}"
    if not _rate_allows(user.pk, once_key=once_key):
        return 0
    with translation.override(user.locale or settings.LANGUAGE_CODE):
        content = _notification_content(notification, previews=prefs.push_previews)
    return _send_to_devices(devices, content, once_key=once_key)


def _room_content(
    *, room: Room, membership: Membership, latest: Message, unread: int, previews: bool
) -> senders.PushContent:
    # The author as this room shows them: the room nickname, never an account name.
    if previews:
        text = latest.body[:EXCERPT_LENGTH] or _("Sent a photo or video")
        body = _("%(nickname)s: %(text)s") % {"nickname": latest.author.nickname, "text": text}
    else:
        body = _("%(nickname)s sent a message") % {"nickname": latest.author.nickname}
    if unread > 1:
        body = ngettext(
            "%(body)s (%(count)s new message)", "%(body)s (%(count)s new messages)", unread
        ) % {"body": body, "count": unread}
    return senders.PushContent(
        title=room.title,
        body=body,
        url=_room_url(room.pk, latest.pk),
        tag=f"room-{room.pk}",
        data={"kind": "message", "room_id": room.pk, "message_id": latest.pk},
        badge=unread,
    )


def _room_seq_key(membership_id: int) -> str:
    return f"push:room-seq:{membership_id}"


def _pushable(
    message: Message, *, member: Membership, since: int, mentioned, member_blocks, account_blocks
) -> bool:
    """Whether ``message`` is news to ``member`` that a room push may show."""
    author = message.author
    return not (
        message.seq <= since
        or author.pk == member.pk
        or (message.pk, member.pk) in mentioned  # pushed as a mention
        or (message.reply_to is not None and message.reply_to.author_id == member.pk)
        or (member.user_id, author.pk) in member_blocks
        # An account block never hides an open profile (that would reveal who it is).
        or (not author.is_open_profile and (member.user_id, author.user_id) in account_blocks)
    )


def _mark_room_pushed(member: Membership, room: Room) -> None:
    cache.set(_room_seq_key(member.pk), room.last_message_seq, timeout=7 * 24 * 3600)


def deliver_room_pushes(*, room_id: int) -> int:
    """One push per member who should hear of the room's new messages: the newest one
    they may see and the unread count. Returns how many devices took one."""
    try:
        cache.delete(_pending_key(room_id))  # later messages schedule the next round
    except Exception:
        logger.warning("push collapse unavailable for room %s", room_id)
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        return 0
    recipients = room_push_recipients(room_id=room.pk, last_message_seq=room.last_message_seq)
    online = online_membership_ids(room_id=room.pk) if recipients else set()
    for member in recipients:
        if member.pk in online:
            # Reading the room now: what is there is seen, never pushed afterwards.
            _mark_room_pushed(member, room)
    recipients = [member for member in recipients if member.pk not in online]
    if not recipients:
        return 0
    floor = min(member.last_read_seq for member in recipients)
    messages = recent_messages(room_id=room.pk, after_seq=floor)
    if not messages:
        return 0
    user_ids = [member.user_id for member in recipients]
    mentioned = addressed_pairs(message_ids=[message.pk for message in messages])
    member_blocks, account_blocks = blocks_among(
        user_ids=user_ids, memberships=[message.author for message in messages]
    )
    prefs = settings_by_user(user_ids=user_ids)
    devices = devices_by_user(user_ids=user_ids)
    sent = 0
    retry = False
    for member in recipients:
        user = member.user
        since = max(member.last_read_seq, cache.get(_room_seq_key(member.pk)) or 0)
        latest = next(
            (
                message
                for message in messages
                if _pushable(
                    message,
                    member=member,
                    since=since,
                    mentioned=mentioned,
                    member_blocks=member_blocks,
                    account_blocks=account_blocks,
                )
            ),
            None,
        )
        if latest is None:
            continue
        wants = prefs[user.pk]
        once_key = f"r{room.pk}:{member.pk}:{room.last_message_seq}"
        # Quiet hours and the cap silence these messages for good (as a phone's "do not
        # disturb" would): a later push does not bring them back.
        if in_quiet_hours(
            start=wants.quiet_hours_start, end=wants.quiet_hours_end, tz_name=user.timezone
        ) or not _rate_allows(user.pk, once_key=once_key):
            _mark_room_pushed(member, room)
            continue
        with translation.override(user.locale or settings.LANGUAGE_CODE):
            content = _room_content(
                room=room,
                membership=member,
                latest=latest,
                unread=room.last_message_seq - member.last_read_seq,
                previews=wants.push_previews,
            )
        try:
            sent += _send_to_devices(devices.get(user.pk, []), content, once_key=once_key)
        except PushRetry:
            retry = True
            continue
        _mark_room_pushed(member, room)
    if retry:
        raise PushRetry(f"room {room.pk}")
    return sent
