"""Moderation API: reports, host tools, appeals. Views only translate to services."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from community.models import (
    Appeal,
    BlockedPattern,
    HeldMessage,
    Membership,
    ModerationCase,
    ReportReason,
    Room,
)
from community.selectors import moderation as selectors
from community.services import moderation as services
from config.errors import PermissionDeniedError

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


class MuteSerializer(ReasonSerializer):
    minutes = serializers.IntegerField(min_value=0)


class MemberStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Membership
        fields = ["id", "nickname", "role", "state", "muted_until"]


class SlowModeSerializer(serializers.Serializer):
    seconds = serializers.IntegerField(min_value=0, max_value=services.SLOW_MODE_MAX_SECONDS)


class AnnouncementSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, max_length=services.ANNOUNCEMENT_MAX_LENGTH)


class WordFilterSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockedPattern
        fields = ["id", "kind", "text", "action", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]
        extra_kwargs = {"text": {"validators": []}}


class HeldMessageSerializer(serializers.ModelSerializer):
    member_id = serializers.IntegerField(source="membership_id")
    nickname = serializers.CharField(source="membership.nickname")

    class Meta:
        model = HeldMessage
        fields = ["id", "member_id", "nickname", "body", "rule_kind", "status", "created_at"]


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


class _MemberActionView(APIView):
    serializer_class = ReasonSerializer

    def act(self, request, room_id: int, member_id: int, data: dict) -> Membership:
        raise NotImplementedError

    def post(self, request, room_id: int, member_id: int):
        data = self.serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        membership = self.act(request, room_id, member_id, data.validated_data)
        return Response(MemberStateSerializer(membership).data)


class KickMemberView(_MemberActionView):
    @extend_schema(request=ReasonSerializer, responses={200: MemberStateSerializer})
    def post(self, request, room_id: int, member_id: int):
        return super().post(request, room_id, member_id)

    def act(self, request, room_id, member_id, data):
        return services.check_kick_member(
            actor=request.user, room_id=room_id, member_id=member_id, reason=data.get("reason", "")
        )


class BanMemberView(_MemberActionView):
    @extend_schema(request=ReasonSerializer, responses={200: MemberStateSerializer})
    def post(self, request, room_id: int, member_id: int):
        return super().post(request, room_id, member_id)

    def act(self, request, room_id, member_id, data):
        return services.check_ban_member(
            actor=request.user, room_id=room_id, member_id=member_id, reason=data.get("reason", "")
        )


class UnbanMemberView(_MemberActionView):
    @extend_schema(request=ReasonSerializer, responses={200: MemberStateSerializer})
    def post(self, request, room_id: int, member_id: int):
        return super().post(request, room_id, member_id)

    def act(self, request, room_id, member_id, data):
        return services.check_unban_member(
            actor=request.user, room_id=room_id, member_id=member_id, reason=data.get("reason", "")
        )


class MuteMemberView(_MemberActionView):
    serializer_class = MuteSerializer

    @extend_schema(request=MuteSerializer, responses={200: MemberStateSerializer})
    def post(self, request, room_id: int, member_id: int):
        return super().post(request, room_id, member_id)

    def act(self, request, room_id, member_id, data):
        return services.check_mute_member(
            actor=request.user,
            room_id=room_id,
            member_id=member_id,
            minutes=data["minutes"],
            reason=data.get("reason", ""),
        )


# --- host tools: room settings ------------------------------------------------------------------


def _room_for_host(request, room_id: int) -> Room:
    room = get_object_or_404(Room, pk=room_id)
    if not (
        services.is_site_moderator(request.user)
        or selectors.host_membership(room=room, user=request.user)
    ):
        raise PermissionDeniedError(_("Only the room's hosts can do that."), code="not_host")
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
    @extend_schema(request=AnnouncementSerializer, responses={200: AnnouncementSerializer})
    def put(self, request, room_id: int):
        data = AnnouncementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        announcement = services.check_pin_announcement(
            actor=request.user, room_id=room_id, body=data.validated_data["body"]
        )
        return Response({"body": announcement.body if announcement else ""})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, room_id: int):
        services.check_pin_announcement(actor=request.user, room_id=room_id, body="")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WordFilterListView(APIView):
    @extend_schema(responses={200: WordFilterSerializer(many=True)})
    def get(self, request, room_id: int):
        room = _room_for_host(request, room_id)
        return Response(WordFilterSerializer(selectors.room_filters(room), many=True).data)

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
    @extend_schema(responses={200: HeldMessageSerializer(many=True)})
    def get(self, request, room_id: int):
        room = _room_for_host(request, room_id)
        rows = selectors.pending_held_messages(room)[:100]
        return Response(HeldMessageSerializer(rows, many=True).data)


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
    @extend_schema(responses={200: AppealOutSerializer(many=True)})
    def get(self, request):
        rows = Appeal.objects.filter(user=request.user).order_by("-id")[:50]
        return Response(AppealOutSerializer(rows, many=True).data)

    @extend_schema(request=AppealInSerializer, responses={201: AppealOutSerializer})
    def post(self, request):
        data = AppealInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.check_file_appeal(user=request.user, **data.validated_data)
        return Response(AppealOutSerializer(appeal).data, status=status.HTTP_201_CREATED)
