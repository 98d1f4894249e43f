"""The polls API: create a poll message, read one poll, vote, close, a named poll's
voters. Views only translate; the services and selectors decide."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from community.chat.api.views import CHAT_THROTTLES, ChatMessageSerializer
from community.chat.selectors import message_payload_by_id
from community.chat.services import CLIENT_ID_MAX_LENGTH
from community.polls import selectors, services


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A poll",
            value={
                "question": "Where do we meet?",
                "options": ["Hongdae", "Gangnam"],
                "multiple": False,
                "anonymous": True,
                "closes_at": "2026-12-24T18:00:00+09:00",
                "client_id": "2c9d7e51-0b7a-4f0e-8a61-3d2f4c5b6a70",
            },
            request_only=True,
        )
    ]
)
class PollCreateSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=services.QUESTION_MAX_LENGTH)
    options = serializers.ListField(
        child=serializers.CharField(max_length=services.OPTION_MAX_LENGTH),
        min_length=services.MIN_OPTIONS,
        max_length=services.MAX_OPTIONS,
    )
    multiple = serializers.BooleanField(required=False, default=False)
    anonymous = serializers.BooleanField(required=False, default=True)
    closes_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    client_id = serializers.CharField(
        required=False, allow_blank=True, max_length=CLIENT_ID_MAX_LENGTH, default=""
    )
    reply_to = serializers.IntegerField(required=False, allow_null=True, default=None)


class PollVoteSerializer(serializers.Serializer):
    options = serializers.ListField(
        child=serializers.IntegerField(), max_length=services.MAX_OPTIONS, allow_empty=True
    )


class PollOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    votes = serializers.IntegerField()


class PollSerializer(serializers.Serializer):
    """The ``poll`` part of a poll message's payload (schema only: built by
    ``community.polls.selectors``)."""

    id = serializers.IntegerField()
    multiple = serializers.BooleanField()
    anonymous = serializers.BooleanField()
    closes_at = serializers.DateTimeField(allow_null=True)
    closed = serializers.BooleanField()
    options = PollOptionSerializer(many=True)
    total_voters = serializers.IntegerField()
    my_votes = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="The viewer's chosen option ids; null in broadcasts (the same for all).",
    )


class PollVoterSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField()
    nickname = serializers.CharField()


class PollOptionVotersSerializer(serializers.Serializer):
    option_id = serializers.IntegerField()
    text = serializers.CharField()
    voters = PollVoterSerializer(many=True)


class RoomPollsView(APIView):
    """``POST`` a poll message to the room (the same message over the socket)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(
        request=PollCreateSerializer,
        responses={201: ChatMessageSerializer, 200: ChatMessageSerializer},
    )
    def post(self, request, room_id: int):
        data = PollCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        sent = services.create_poll(
            user=request.user,
            room_id=room_id,
            question=values["question"],
            options=values["options"],
            allows_multiple=values["multiple"],
            is_anonymous=values["anonymous"],
            closes_at=values["closes_at"],
            client_id=values["client_id"],
            reply_to_id=values["reply_to"],
        )
        return Response(
            message_payload_by_id(sent.message.pk, viewer=request.user),
            status=status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK,
        )


class PollDetailView(APIView):
    """``GET`` one poll with the reader's own votes (rooms readable without an
    account show theirs to anyone)."""

    permission_classes = [AllowAny]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(responses={200: PollSerializer})
    def get(self, request, poll_id: int):
        return Response(selectors.poll_payload(poll_id=poll_id, user=request.user))


class PollVoteView(APIView):
    """``PUT {"options": [ids]}`` sets the caller's vote (``[]`` takes it back)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(request=PollVoteSerializer, responses={200: PollSerializer})
    def put(self, request, poll_id: int):
        data = PollVoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.vote(user=request.user, poll_id=poll_id, option_ids=data.validated_data["options"])
        return Response(selectors.poll_payload(poll_id=poll_id, user=request.user))


class PollCloseView(APIView):
    """``POST`` closes the poll now (its author or a host)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(request=None, responses={200: PollSerializer})
    def post(self, request, poll_id: int):
        services.close_poll(user=request.user, poll_id=poll_id)
        return Response(selectors.poll_payload(poll_id=poll_id, user=request.user))


class PollVotersView(APIView):
    """``GET`` a named poll's voters per option, by room nickname."""

    permission_classes = [IsAuthenticated]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(responses={200: PollOptionVotersSerializer(many=True)})
    def get(self, request, poll_id: int):
        return Response(selectors.poll_voters(poll_id=poll_id, user=request.user))
