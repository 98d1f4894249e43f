"""Notifications, unread counts, "my rooms" and notification preferences over REST.

Views only translate: selectors read, services write, the payloads are the ones the
``/ws/me/`` socket sends.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from community.notifications.models import Notification, RoomNotificationLevel
from community.notifications.selectors import (
    my_rooms,
    notification_payload,
    notifications_for,
    room_level,
    settings_for,
    unread_counts,
)
from community.notifications.services import (
    mark_all_notifications_read,
    mark_notification_read,
    set_room_notification_level,
    update_notification_settings,
)
from config.api.pagination import CursorPagination


class NotificationSerializer(serializers.Serializer):
    """The payload built by ``notification_payload`` (schema and list rendering)."""

    def to_representation(self, instance):
        return notification_payload(instance)


class NotificationListView(ListAPIView):
    """``GET``: the caller's notifications, newest first (``?unread=1`` for unread only)."""

    serializer_class = NotificationSerializer
    pagination_class = CursorPagination

    def get_queryset(self):
        queryset = notifications_for(user_id=self.request.user.pk)
        if self.request.query_params.get("unread") in ("1", "true"):
            queryset = queryset.filter(read_at__isnull=True)
        return queryset


class NotificationReadView(APIView):
    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request, notification_id: int):
        notification = mark_notification_read(user=request.user, notification_id=notification_id)
        return Response(notification_payload(notification))


class NotificationReadAllView(APIView):
    @extend_schema(
        request=None,
        responses=inline_serializer(
            name="NotificationsReadAll", fields={"marked": serializers.IntegerField()}
        ),
    )
    def post(self, request):
        return Response({"marked": mark_all_notifications_read(user=request.user)})


UnreadCountsSerializer = inline_serializer(
    name="UnreadCounts",
    fields={
        "messages": serializers.IntegerField(),
        "mentions": serializers.IntegerField(),
        "notifications": serializers.IntegerField(),
    },
)


class UnreadCountsView(APIView):
    """Totals for badges and the page title."""

    @extend_schema(responses=UnreadCountsSerializer)
    def get(self, request):
        return Response(unread_counts(user_id=request.user.pk))


class MyRoomSerializer(serializers.Serializer):
    def to_representation(self, membership):
        room = membership.room
        return {
            "room": {"id": room.pk, "title": room.title, "last_message_seq": room.last_message_seq},
            "membership_id": membership.pk,
            "nickname": membership.nickname,
            "role": membership.role,
            "last_read_seq": membership.last_read_seq,
            "unread": max(int(membership.unread), 0),
            "unread_mentions": membership.unread_mentions,
            "notification_level": room_level(membership),
            "last_activity_at": room.last_activity_at.isoformat(),
        }


class MyRoomsPagination(CursorPagination):
    ordering = ("-activity", "-id")


class MyRoomsView(ListAPIView):
    """``GET``: the rooms I am in, with unread and unread-mention counts."""

    serializer_class = MyRoomSerializer
    pagination_class = MyRoomsPagination

    def get_queryset(self):
        return my_rooms(user_id=self.request.user.pk)


class RoomNotificationLevelSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=RoomNotificationLevel.Level.choices)


class RoomNotificationLevelView(APIView):
    """``PUT {"level": "all" | "mentions" | "muted"}`` for one of my rooms."""

    @extend_schema(
        request=RoomNotificationLevelSerializer, responses=RoomNotificationLevelSerializer
    )
    def put(self, request, room_id: int):
        data = RoomNotificationLevelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = set_room_notification_level(
            user=request.user, room_id=room_id, level=data.validated_data["level"]
        )
        return Response({"level": row.level})


@extend_schema_field(
    {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "nullable": True, "example": "22:00"}
)
class _HourMinuteField(serializers.TimeField):
    """``HH:MM``: not the schema's default ``format: time`` (which has seconds)."""


class NotificationSettingsSerializer(serializers.Serializer):
    muted_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Notification.Kind.choices), required=False
    )
    email_digest = serializers.BooleanField(required=False)
    push_previews = serializers.BooleanField(required=False)
    quiet_hours_start = _HourMinuteField(required=False, allow_null=True, format="%H:%M")
    quiet_hours_end = _HourMinuteField(required=False, allow_null=True, format="%H:%M")


def _settings_payload(row, user) -> dict:
    payload = NotificationSettingsSerializer(
        {
            "muted_kinds": row.muted_kinds,
            "email_digest": row.email_digest,
            "push_previews": row.push_previews,
            "quiet_hours_start": row.quiet_hours_start,
            "quiet_hours_end": row.quiet_hours_end,
        }
    ).data
    return {**payload, "timezone": user.timezone}


class NotificationSettingsView(APIView):
    """``GET`` / ``PATCH`` the caller's preferences; quiet hours are local times in the
    account's time zone (``timezone``)."""

    @extend_schema(responses=NotificationSettingsSerializer)
    def get(self, request):
        return Response(_settings_payload(settings_for(user_id=request.user.pk), request.user))

    @extend_schema(request=NotificationSettingsSerializer, responses=NotificationSettingsSerializer)
    def patch(self, request):
        data = NotificationSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        row = update_notification_settings(user=request.user, **data.validated_data)
        return Response(_settings_payload(row, request.user), status=status.HTTP_200_OK)
