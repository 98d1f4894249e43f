"""Reads for push: a person's devices, and who should hear of a room's new messages."""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from community.chat.models import Message
from community.notifications.models import (
    MessageMention,
    NotificationSettings,
    RoomNotificationLevel,
)
from community.rooms.models import MemberBlock, Membership
from profiles.models import Block

# The platforms of the API and the library's model for each.
PLATFORM_MODELS = {"web": WebPushDevice, "fcm": GCMDevice, "apns": APNSDevice}
# New messages of a room a room push looks at (the newest; the count covers the rest).
ROOM_PUSH_LOOKBACK = 50


def device_querysets(*, user_ids) -> dict[str, QuerySet]:
    return {
        platform: model.objects.filter(user_id__in=user_ids, active=True).order_by("id")
        for platform, model in PLATFORM_MODELS.items()
    }


def devices_by_user(*, user_ids) -> dict[int, list[tuple[str, Any]]]:
    """Each user's active push targets as ``(platform, device)``: three queries."""
    found: dict[int, list[tuple[str, Any]]] = {}
    for platform, queryset in device_querysets(user_ids=list(user_ids)).items():
        for device in queryset:
            found.setdefault(device.user_id, []).append((platform, device))
    return found


def device_payload(platform: str, device) -> dict[str, Any]:
    payload = {
        "id": device.pk,
        "platform": platform,
        "name": device.name or "",
        "created_at": device.date_created.isoformat() if device.date_created else None,
    }
    if platform == "apns":
        payload["environment"] = device.application_id or "production"
    if platform == "web":
        payload["browser"] = device.browser
    return payload


def device_payloads(*, user_id: int) -> list[dict[str, Any]]:
    """The user's push targets, newest first (three queries, whatever the number)."""
    rows = [
        (device.date_created, platform, device)
        for platform, queryset in device_querysets(user_ids=[user_id]).items()
        for device in queryset
    ]
    rows.sort(key=lambda row: (row[0] is not None, row[0]), reverse=True)
    return [device_payload(platform, device) for _created, platform, device in rows]


def has_push_target():
    """An annotation: the ``user_id`` of the outer row has an active push target."""
    return (
        Exists(WebPushDevice.objects.filter(user_id=OuterRef("user_id"), active=True))
        | Exists(GCMDevice.objects.filter(user_id=OuterRef("user_id"), active=True))
        | Exists(APNSDevice.objects.filter(user_id=OuterRef("user_id"), active=True))
    )


def room_push_recipients(*, room_id: int, last_message_seq: int) -> list[Membership]:
    """Active members who set the room to *all*, have unread messages and a push target."""
    return list(
        Membership.objects.filter(
            room_id=room_id,
            state=Membership.State.ACTIVE,
            last_read_seq__lt=last_message_seq,
            user__is_active=True,
        )
        .filter(
            Q(notification_level__isnull=True)
            | Q(notification_level__level=RoomNotificationLevel.Level.ALL)
        )
        .filter(has_push_target())
        .select_related("user")
        .order_by("id")
    )


def recent_messages(*, room_id: int, after_seq: int) -> list[Message]:
    """The room's newest member messages after ``after_seq``, newest first."""
    return list(
        Message.objects.filter(
            room_id=room_id,
            seq__gt=after_seq,
            author__isnull=False,
            deleted_at__isnull=True,
        )
        .exclude(kind=Message.Kind.SYSTEM)
        .select_related("author", "reply_to")
        .order_by("-seq")[:ROOM_PUSH_LOOKBACK]
    )


def addressed_pairs(*, message_ids: list[int]) -> set[tuple[int, int]]:
    """(message id, membership id) of every mention in these messages."""
    return set(
        MessageMention.objects.filter(message_id__in=message_ids).values_list(
            "message_id", "membership_id"
        )
    )


def blocks_among(
    *, user_ids: list[int], memberships: list[Membership]
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(blocker user, blocked membership) member blocks and (blocker, blocked user)
    account blocks between these recipients and these authors: two queries."""
    member_blocks = set(
        MemberBlock.objects.filter(
            blocker_id__in=user_ids, membership_id__in=[m.pk for m in memberships]
        ).values_list("blocker_id", "membership_id")
    )
    account_blocks = set(
        Block.objects.filter(
            blocker_id__in=user_ids, blocked_id__in={m.user_id for m in memberships}
        ).values_list("blocker_id", "blocked_id")
    )
    return member_blocks, account_blocks


def settings_by_user(*, user_ids: list[int]) -> dict[int, NotificationSettings]:
    rows = {row.user_id: row for row in NotificationSettings.objects.filter(user_id__in=user_ids)}
    return {
        user_id: rows.get(user_id) or NotificationSettings(user_id=user_id) for user_id in user_ids
    }


def export_push_devices(user) -> list[dict[str, Any]]:
    """The user's push targets for "export everything about me" (no tokens: they are the
    device's secrets, not the person's data)."""
    return device_payloads(user_id=user.pk)
