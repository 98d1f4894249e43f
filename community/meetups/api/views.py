"""The meetups API: create a meetup message, read one, answer it, who answered, its
iCalendar file, a room's upcoming meetups. Views only translate."""

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from community.chat.api.views import CHAT_THROTTLES, ChatMessageSerializer
from community.chat.selectors import message_payload_by_id
from community.chat.services import CLIENT_ID_MAX_LENGTH
from community.meetups import selectors, services
from community.meetups.models import MeetupRsvp


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A meetup",
            value={
                "title": "Board games night",
                "starts_at": "2026-12-24T19:00:00+09:00",
                "ends_at": "2026-12-24T22:00:00+09:00",
                "time_zone": "Asia/Seoul",
                "place": "Hongdae station, exit 9",
                "link": "",
                "capacity": 12,
                "client_id": "9b1f4c2e-6a3d-4e8f-b7c5-1d2e3f4a5b6c",
            },
            request_only=True,
        )
    ]
)
class WallClockDateTimeField(serializers.DateTimeField):
    """A time without an offset stays naive: the service reads it in the meetup's zone
    (DRF would read it in the server's)."""

    def enforce_timezone(self, value):
        return value if timezone.is_naive(value) else super().enforce_timezone(value)


class MeetupCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=services.TITLE_MAX_LENGTH)
    starts_at = WallClockDateTimeField(
        help_text="With an offset, or without one: then in ``time_zone``."
    )
    ends_at = WallClockDateTimeField(required=False, allow_null=True, default=None)
    time_zone = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="An IANA zone name (Asia/Seoul); default: the creator's time zone.",
    )
    place = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=services.PLACE_MAX_LENGTH
    )
    link = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=services.LINK_MAX_LENGTH
    )
    capacity = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=services.MAX_CAPACITY
    )
    client_id = serializers.CharField(
        required=False, allow_blank=True, max_length=CLIENT_ID_MAX_LENGTH, default=""
    )
    reply_to = serializers.IntegerField(required=False, allow_null=True, default=None)


class RsvpSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[str(answer) for answer in services.ANSWERS])


class MeetupCountsSerializer(serializers.Serializer):
    going = serializers.IntegerField()
    maybe = serializers.IntegerField()
    not_going = serializers.IntegerField()
    waitlisted = serializers.IntegerField()


class MeetupSerializer(serializers.Serializer):
    """The ``meetup`` part of a meetup message's payload (schema only: built by
    ``community.meetups.selectors``)."""

    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    time_zone = serializers.CharField(help_text="The creator's zone, e.g. Asia/Seoul.")
    place = serializers.CharField()
    link = serializers.CharField()
    capacity = serializers.IntegerField(allow_null=True)
    counts = MeetupCountsSerializer()
    full = serializers.BooleanField()
    my_rsvp = serializers.CharField(
        allow_null=True,
        help_text=(
            "The viewer's answer (going, maybe, not_going, waitlisted) or none; null in"
            " broadcasts (the same for all)."
        ),
    )


class ListedMeetupSerializer(MeetupSerializer):
    message_id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    title = serializers.CharField()


class MeetupAnswerSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField()
    nickname = serializers.CharField()
    status = serializers.ChoiceField(choices=MeetupRsvp.Status.values)


class UpcomingQuerySerializer(serializers.Serializer):
    upcoming = serializers.BooleanField(required=False, default=True)


class RoomMeetupsView(APIView):
    """``GET`` the room's meetups (``?upcoming=1``, the default: not over yet, soonest
    first); ``POST`` a meetup message (the same message over the socket)."""

    throttle_classes = CHAT_THROTTLES

    def get_permissions(self):
        if self.request.method == "GET":
            return [AllowAny()]  # rooms readable without an account; the selector decides
        return [IsAuthenticated()]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "upcoming", bool, description="1 (default): not over yet; 0: the latest."
            )
        ],
        responses={200: ListedMeetupSerializer(many=True)},
    )
    def get(self, request, room_id: int):
        query = UpcomingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            selectors.room_meetups(
                room_id=room_id, user=request.user, upcoming=query.validated_data["upcoming"]
            )
        )

    @extend_schema(
        request=MeetupCreateSerializer,
        responses={201: ChatMessageSerializer, 200: ChatMessageSerializer},
    )
    def post(self, request, room_id: int):
        data = MeetupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        sent = services.create_meetup(
            user=request.user,
            room_id=room_id,
            title=values["title"],
            starts_at=values["starts_at"],
            ends_at=values["ends_at"],
            time_zone=values["time_zone"],
            place=values["place"],
            link=values["link"],
            capacity=values["capacity"],
            client_id=values["client_id"],
            reply_to_id=values["reply_to"],
        )
        return Response(
            message_payload_by_id(sent.message.pk, viewer=request.user),
            status=status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK,
        )


class MeetupDetailView(APIView):
    """``GET`` one meetup with the reader's own answer."""

    permission_classes = [AllowAny]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(responses={200: ListedMeetupSerializer})
    def get(self, request, meetup_id: int):
        return Response(selectors.meetup_payload(meetup_id=meetup_id, user=request.user))


class MeetupRsvpView(APIView):
    """``PUT {"status"}`` answers (going, maybe, not_going); ``GET`` who answered, by
    room nickname."""

    permission_classes = [IsAuthenticated]
    throttle_classes = CHAT_THROTTLES

    @extend_schema(responses={200: MeetupAnswerSerializer(many=True)})
    def get(self, request, meetup_id: int):
        return Response(selectors.meetup_rsvps(meetup_id=meetup_id, user=request.user))

    @extend_schema(request=RsvpSerializer, responses={200: ListedMeetupSerializer})
    def put(self, request, meetup_id: int):
        data = RsvpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.rsvp(user=request.user, meetup_id=meetup_id, status=data.validated_data["status"])
        return Response(selectors.meetup_payload(meetup_id=meetup_id, user=request.user))


class JsonWhateverAccepted(BaseContentNegotiation):
    """Calendar apps ask for text/calendar only: the file is an HttpResponse of its own,
    and an error still answers the API's JSON shape rather than 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MeetupIcsView(APIView):
    """``GET`` the meetup as an iCalendar (RFC 5545) file."""

    permission_classes = [AllowAny]
    content_negotiation_class = JsonWhateverAccepted
    throttle_classes = CHAT_THROTTLES

    @extend_schema(
        responses={
            (200, "text/calendar"): OpenApiResponse(
                response=OpenApiTypes.STR, description="An iCalendar file with one VEVENT."
            )
        }
    )
    def get(self, request, meetup_id: int):
        body, filename = selectors.meetup_ics(meetup_id=meetup_id, user=request.user)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
