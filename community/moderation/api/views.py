"""Moderation API: reports, host tools, appeals. Views only translate to services."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from community import access
from community.media.selectors import media_payload
from community.moderation import selectors, services
from community.moderation.models import (
    Appeal,
    BlockedPattern,
    HeldMessage,
    ModerationCase,
    ReportReason,
)
from community.rooms.api.serializers import BanSerializer, MemberSerializer, MuteSerializer
from community.rooms.models import Room
from community.rooms.selectors import get_room_for_viewer, room_announcement
from config.api.pagination import CursorPagination


class OldestFirstPagination(CursorPagination):
    ordering = "id"


def _paginated(view, request, queryset, serializer_class, paginator_class=CursorPagination):
    """A cursor page of ``queryset`` in the API's list shape (``next``, ``previous``,
    ``results``)."""
    paginator = paginator_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


# --- serializers --------------------------------------------------------------------


class ReportInSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(
        choices=[
            ModerationCase.TargetType.MESSAGE,
            ModerationCase.TargetType.MEMBER,
            ModerationCase.TargetType.ROOM,
        ]
    )
    target_id = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    text = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ReportOutSerializer(serializers.Serializer):
    """What a reporter learns: that it was received, not who else reported."""

    received = serializers.BooleanField(default=True)
    target_type = serializers.CharField()
    target_id = serializers.IntegerField()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class SlowModeSerializer(serializers.Serializer):
    seconds = serializers.IntegerField(min_value=0, max_value=services.SLOW_MODE_MAX_SECONDS)


class AnnouncementSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, max_length=services.ANNOUNCEMENT_MAX_LENGTH)


class PinMessageSerializer(serializers.Serializer):
    message_id = serializers.IntegerField(min_value=1)


class AnnouncementSetterSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField()
    nickname = serializers.CharField()


class AnnouncementMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()


class AnnouncementPayloadSerializer(serializers.Serializer):
    """The room's notice (``community.rooms.selectors.announcement_payload``), the same
    in the room payload, the socket's ``ready`` and ``room.announcement``."""

    body = serializers.CharField()
    pinned_at = serializers.DateTimeField()
    pinned_by = AnnouncementSetterSerializer(
        allow_null=True,
        help_text="Who set it, by room nickname; null when a site moderator set it.",
    )
    message = AnnouncementMessageSerializer(
        allow_null=True, help_text="The pinned message (to jump to it); null for a written notice."
    )


class AnnouncementOutSerializer(serializers.Serializer):
    announcement = AnnouncementPayloadSerializer(allow_null=True)


class WordFilterSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockedPattern
        fields = ["id", "kind", "text", "action", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]
        extra_kwargs = {"text": {"validators": []}}


class HeldMessageSerializer(serializers.ModelSerializer):
    member_id = serializers.IntegerField(source="membership_id")
    nickname = serializers.CharField(source="membership.nickname")
    # An image or video message's file (``body`` is then its caption), else null.
    media = serializers.SerializerMethodField()

    class Meta:
        model = HeldMessage
        fields = [
            "id",
            "member_id",
            "nickname",
            "body",
            "rule_kind",
            "status",
            "created_at",
            "media",
        ]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_media(self, held) -> dict | None:

        return media_payload(held.media)


class AppealInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Appeal.Kind.choices)
    member_id = serializers.IntegerField(required=False, min_value=1)
    text = serializers.CharField(max_length=2000)


class AppealOutSerializer(serializers.ModelSerializer):
    member_id = serializers.IntegerField(source="membership_id", allow_null=True)

    class Meta:
        model = Appeal
        fields = ["id", "kind", "member_id", "status", "text", "created_at", "decided_at"]


# --- reports ----------------------------------------------------------------------------


class ReportView(APIView):
    @extend_schema(request=ReportInSerializer, responses={201: ReportOutSerializer})
    def post(self, request):
        data = ReportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.check_file_report(reporter=request.user, **data.validated_data)
        return Response(
            ReportOutSerializer(
                {
                    "received": True,
                    "target_type": data.validated_data["target_type"],
                    "target_id": data.validated_data["target_id"],
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


# --- host tools: members ----------------------------------------------------------------------


class KickMemberView(APIView):
    """Remove a member now; they may join again (204, like the rooms feature's ban)."""

    @extend_schema(request=ReasonSerializer, responses={204: None})
    def post(self, request, room_id: int, member_id: int):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.check_kick_member(
            actor=request.user,
            room_id=room_id,
            member_id=member_id,
            reason=data.validated_data.get("reason", ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UndoKickView(APIView):
    """Take back my own kick of a moment ago: the same membership and nickname are
    active again (204). ``409 undo_expired`` after the window (30 seconds), for another
    host's kick, or for anything that was not a kick; ``409 already_member`` when they
    are back already; ``409 nickname_taken``, ``409 room_full``."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, room_id: int, member_id: int):
        services.check_undo_kick(actor=request.user, room_id=room_id, member_id=member_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberBanView(APIView):
    @extend_schema(request=BanSerializer, responses={204: None})
    def post(self, request, room_id: int, membership_id: int):
        serializer = BanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.check_ban_member(
            actor=request.user,
            room_id=room_id,
            member_id=membership_id,
            reason=serializer.validated_data["reason"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberMuteView(APIView):
    @extend_schema(request=MuteSerializer, responses=MemberSerializer)
    def post(self, request, room_id: int, membership_id: int):
        serializer = MuteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.check_mute_member(
            actor=request.user,
            room_id=room_id,
            member_id=membership_id,
            minutes=serializer.validated_data["minutes"],
            reason=serializer.validated_data["reason"],
        )
        return Response(MemberSerializer(membership).data)


class UnbanMemberView(APIView):
    """Lift a ban, with an optional reason for the audit log; the person may join again.
    (The one URL for unbanning: ``.../ban/`` only bans.)"""

    @extend_schema(request=ReasonSerializer, responses={204: None})
    def post(self, request, room_id: int, member_id: int):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.check_unban_member(
            actor=request.user,
            room_id=room_id,
            member_id=member_id,
            reason=data.validated_data.get("reason", ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- host tools: room settings ------------------------------------------------------------------


def _room_for_host(request, room_id: int) -> Room:
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        raise access.room_not_found_error()
    access.require_moderator(room_id=room.pk, user=request.user)
    return room


class SlowModeView(APIView):
    @extend_schema(request=SlowModeSerializer, responses={200: SlowModeSerializer})
    def post(self, request, room_id: int):
        data = SlowModeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = services.check_set_slow_mode(
            actor=request.user, room_id=room_id, seconds=data.validated_data["seconds"]
        )
        return Response({"seconds": room.slow_mode_seconds})


class AnnouncementView(APIView):
    """``GET`` the room's notice (whoever may see the room); ``PUT`` writes one, ``POST``
    pins a message as the notice, ``DELETE`` removes it (hosts and site moderators)."""

    def get_permissions(self):
        # The notice shows on the room's page: whoever may see the room may read it.
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(responses={200: AnnouncementOutSerializer})
    def get(self, request, room_id: int):
        viewer = request.user if request.user.is_authenticated else None
        room = get_room_for_viewer(room_id=room_id, viewer=viewer)
        return Response({"announcement": room_announcement(room_id=room.pk)})

    @extend_schema(request=AnnouncementSerializer, responses={200: AnnouncementOutSerializer})
    def put(self, request, room_id: int):
        data = AnnouncementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.check_pin_announcement(
            actor=request.user, room_id=room_id, body=data.validated_data["body"]
        )
        return Response({"announcement": room_announcement(room_id=room_id)})

    @extend_schema(request=PinMessageSerializer, responses={200: AnnouncementOutSerializer})
    def post(self, request, room_id: int):
        data = PinMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.check_pin_message_announcement(
            actor=request.user, room_id=room_id, message_id=data.validated_data["message_id"]
        )
        return Response({"announcement": room_announcement(room_id=room_id)})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, room_id: int):
        services.check_pin_announcement(actor=request.user, room_id=room_id, body="")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WordFilterListView(APIView):
    pagination_class = CursorPagination

    @extend_schema(responses={200: WordFilterSerializer(many=True)})
    def get(self, request, room_id: int):
        room = _room_for_host(request, room_id)
        return _paginated(self, request, selectors.room_filters(room), WordFilterSerializer)

    @extend_schema(request=WordFilterSerializer, responses={201: WordFilterSerializer})
    def post(self, request, room_id: int):
        data = WordFilterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.check_add_room_filter(
            actor=request.user,
            room_id=room_id,
            kind=data.validated_data.get("kind", BlockedPattern.Kind.WORD),
            text=data.validated_data["text"],
            action=data.validated_data.get("action", BlockedPattern.Action.BLOCK),
        )
        return Response(WordFilterSerializer(rule).data, status=status.HTTP_201_CREATED)


class WordFilterDetailView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, room_id: int, filter_id: int):
        services.check_remove_room_filter(actor=request.user, room_id=room_id, filter_id=filter_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HeldMessageListView(APIView):
    pagination_class = OldestFirstPagination

    @extend_schema(responses={200: HeldMessageSerializer(many=True)})
    def get(self, request, room_id: int):
        """Pending held messages, oldest first (the review order)."""
        room = _room_for_host(request, room_id)
        return _paginated(
            self,
            request,
            selectors.pending_held_messages(room),
            HeldMessageSerializer,
            OldestFirstPagination,
        )


class HeldMessageReviewView(APIView):
    approve = True

    @extend_schema(request=None, responses={200: HeldMessageSerializer})
    def post(self, request, room_id: int, held_id: int):
        held = services.check_review_held_message(
            actor=request.user, room_id=room_id, held_id=held_id, approve=self.approve
        )
        return Response(HeldMessageSerializer(held).data)


# --- appeals ----------------------------------------------------------------------------


class AppealView(APIView):
    pagination_class = CursorPagination

    @extend_schema(responses={200: AppealOutSerializer(many=True)})
    def get(self, request):
        return _paginated(
            self, request, Appeal.objects.filter(user=request.user), AppealOutSerializer
        )

    @extend_schema(request=AppealInSerializer, responses={201: AppealOutSerializer})
    def post(self, request):
        data = AppealInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.check_file_appeal(user=request.user, **data.validated_data)
        return Response(AppealOutSerializer(appeal).data, status=status.HTTP_201_CREATED)


class NoticeSerializer(serializers.Serializer):
    """A moderation decision about the requesting user, without who took it."""

    id = serializers.IntegerField()
    action = serializers.CharField()
    description = serializers.CharField(source="get_action_display")
    room_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class NoticeListView(APIView):
    """Your own moderation history: warnings, mutes, removals, suspensions."""

    pagination_class = CursorPagination

    @extend_schema(responses={200: NoticeSerializer(many=True)})
    def get(self, request):
        return _paginated(self, request, selectors.notices_for_user(request.user), NoticeSerializer)
