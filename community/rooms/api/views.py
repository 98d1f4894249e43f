"""Room endpoints under ``/api/v1/``: they translate HTTP to the room services/selectors."""

from base64 import b64decode, b64encode

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import BasePagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from community import access
from community.reactions.selectors import with_reaction_summaries
from community.rooms import selectors, services
from community.rooms.api.filters import room_filters
from community.rooms.api.serializers import (
    BlockedMemberSerializer,
    InterestSerializer,
    InviteCreateSerializer,
    InviteSerializer,
    JoinRequestSerializer,
    JoinRoomSerializer,
    LeaveSerializer,
    MemberSerializer,
    MyMembershipSerializer,
    RoleSerializer,
    RoomDetailSerializer,
    RoomSerializer,
    RoomWriteSerializer,
    TransferSerializer,
)
from community.rooms.models import JoinRequest, RoomInvite
from config.errors import NotFoundError


class RankedPagination(BasePagination):
    """Cursor pages for ranked lists (trending, search, for-you, similar).

    Ranks are computed, not stored, so the opaque ``cursor`` encodes a position in the
    ranking; clients follow ``next``/``previous`` exactly as on every other list. One
    extra row tells whether a next page exists, so no ``COUNT(*)`` query is run.
    """

    default_limit = 20
    max_limit = 50
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self._int(request.query_params.get("limit"), self.default_limit)
        self.limit = max(1, min(self.limit, self.max_limit))
        self.offset = self._decode(request.query_params.get(self.cursor_query_param))
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_next = len(rows) > self.limit
        return rows[: self.limit]

    @staticmethod
    def _int(value, default: int) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            return default

    def _decode(self, cursor: str | None) -> int:
        if not cursor:
            return 0
        try:
            position = int(b64decode(cursor.encode("ascii"), validate=True).decode("ascii"))
        except (ValueError, UnicodeError):
            position = -1
        if not 0 <= position <= 10_000:
            raise ValidationError({self.cursor_query_param: [_("Invalid cursor.")]})
        return position

    def _link(self, position: int) -> str:
        url = self.request.build_absolute_uri()
        if position <= 0:
            return remove_query_param(url, self.cursor_query_param)
        cursor = b64encode(str(position).encode("ascii")).decode("ascii")
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        next_url = self._link(self.offset + self.limit) if self.has_next else None
        previous_url = self._link(self.offset - self.limit) if self.offset > 0 else None
        return Response({"next": next_url, "previous": previous_url, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "The pagination cursor value (from `next` or `previous`).",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Results per page, 1 to {self.max_limit}.",
                "schema": {"type": "integer"},
            },
        ]


def _viewer(request):
    return request.user if request.user.is_authenticated else None


class RankedRoomListView(GenericAPIView):
    serializer_class = RoomSerializer
    pagination_class = RankedPagination
    filter_backends: list = []

    def list_response(self, queryset):
        page = with_reaction_summaries(
            "room", list(self.paginate_queryset(queryset)), viewer=self.request.user
        )
        selectors.with_room_offers(page, viewer=_viewer(self.request))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class RoomListView(RankedRoomListView):
    """Listed rooms: search (``q``) and filters (``interest`` slug, ``language``); create."""

    throttle_scope = "writes"

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="rooms_list",
        responses=RoomSerializer(many=True),
        parameters=[
            OpenApiParameter("q", str, description=_("Text over title, description, hashtags")),
            OpenApiParameter("interest", str, description=_("Interest slug")),
            OpenApiParameter("language", str),
        ],
    )
    def get(self, request):
        return self.list_response(
            selectors.search_rooms(viewer=_viewer(request), **room_filters(request))
        )

    @extend_schema(request=RoomWriteSerializer, responses={201: RoomSerializer})
    def post(self, request):
        serializer = RoomWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        room = services.create_room(owner=request.user, **data)
        room = selectors.get_room_for_viewer(room_id=room.pk, viewer=request.user)
        return Response(
            RoomSerializer(room, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class TrendingRoomsView(RankedRoomListView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="rooms_trending",
        responses=RoomSerializer(many=True),
        parameters=[OpenApiParameter("language", str)],
    )
    def get(self, request):
        return self.list_response(
            selectors.trending_rooms(
                viewer=_viewer(request), language=request.query_params.get("language", "")
            )
        )


class ForYouRoomsView(RankedRoomListView):
    @extend_schema(operation_id="rooms_for_you", responses=RoomSerializer(many=True))
    def get(self, request):
        return self.list_response(selectors.for_you_rooms(viewer=request.user))


class SimilarRoomsView(RankedRoomListView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="rooms_similar", responses=RoomSerializer(many=True))
    def get(self, request, room_id: int):
        room = selectors.get_room_for_viewer(room_id=room_id, viewer=_viewer(request))
        return self.list_response(selectors.similar_rooms(room=room, viewer=_viewer(request)))


class RoomDetailView(APIView):
    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(operation_id="rooms_retrieve", responses=RoomDetailSerializer)
    def get(self, request, room_id: int):
        room = selectors.get_room_for_viewer(room_id=room_id, viewer=_viewer(request))
        with_reaction_summaries("room", [room], viewer=request.user)
        selectors.with_room_offers([room], viewer=_viewer(request))
        return Response(RoomDetailSerializer(room, context={"request": request}).data)

    @extend_schema(request=RoomWriteSerializer, responses=RoomDetailSerializer)
    def patch(self, request, room_id: int):
        selectors.get_room_for_viewer(room_id=room_id, viewer=request.user)
        serializer = RoomWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.update_room(room_id=room_id, actor=request.user, **serializer.validated_data)
        room = selectors.get_room_for_viewer(room_id=room_id, viewer=request.user)
        selectors.with_room_offers([room], viewer=request.user)
        return Response(RoomDetailSerializer(room, context={"request": request}).data)


class JoinRoomView(APIView):
    """Join (201 with ``membership``) or ask to join (202 with ``join_request``)."""

    throttle_scope = "writes"

    @extend_schema(
        request=JoinRoomSerializer,
        responses={
            201: inline_serializer(
                "JoinedResponse",
                {"status": serializers.CharField(), "membership": MemberSerializer()},
            ),
            202: inline_serializer(
                "JoinPendingResponse",
                {"status": serializers.CharField(), "join_request": JoinRequestSerializer()},
            ),
        },
    )
    def post(self, request, room_id: int):
        serializer = JoinRoomSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.join_room(room_id=room_id, user=request.user, **serializer.validated_data)
        if isinstance(result, JoinRequest):
            return Response(
                {"status": "pending", "join_request": JoinRequestSerializer(result).data},
                status=status.HTTP_202_ACCEPTED,
            )
        return Response(
            {"status": "joined", "membership": MemberSerializer(result).data},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses={204: None}, description="Withdraw a pending join request.")
    def delete(self, request, room_id: int):
        services.cancel_join_request(room_id=room_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaveRoomView(APIView):
    @extend_schema(request=LeaveSerializer, responses={204: None})
    def post(self, request, room_id: int):
        serializer = LeaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.leave_room(room_id=room_id, user=request.user, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(GenericAPIView):
    """Active members by room nickname, hosts first (cursor pages)."""

    serializer_class = MemberSerializer
    filter_backends: list = []

    def get_permissions(self):
        return [AllowAny()]

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request, room_id: int):
        room = selectors.get_room_for_viewer(room_id=room_id, viewer=_viewer(request))
        members = selectors.room_members(room=room).order_by("id")
        page = self.paginate_queryset(members)
        return self.get_paginated_response([MemberSerializer(m).data for m in page])

    def paginate_queryset(self, queryset):
        self.paginator.ordering = "id"
        return super().paginate_queryset(queryset)


class MentionCandidatesSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField(read_only=True)
    nickname = serializers.CharField(read_only=True)
    avatar = serializers.CharField(read_only=True, allow_null=True)


class MentionCandidatesView(APIView):
    """Members whose room nickname starts with ``q``, for the composer's ``@``
    autocomplete. Members only (anyone else gets the answer of a missing room);
    nicknames only, never handles."""

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="The nickname's first letters.")],
        responses=inline_serializer(
            name="MentionCandidatesPage",
            fields={"results": MentionCandidatesSerializer(many=True)},
        ),
    )
    def get(self, request, room_id: int):
        membership = access.active_membership(room_id=room_id, user=request.user)
        if membership is None:
            raise access.room_not_found_error()
        prefix = request.query_params.get("q", "").strip().lstrip("@")[:40]
        return Response(
            {
                "results": selectors.mention_candidates(
                    room_id=room_id, prefix=prefix, exclude_id=membership.pk
                )
            }
        )


class MyMembershipView(APIView):
    """The viewer's own appearance in the room: nickname, room avatar, open profile."""

    @extend_schema(request=MyMembershipSerializer, responses=MemberSerializer)
    def patch(self, request, room_id: int):
        serializer = MyMembershipSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        membership = services.update_my_membership(
            room_id=room_id, user=request.user, **serializer.validated_data
        )
        return Response(MemberSerializer(membership).data)


class MemberRoleView(APIView):
    @extend_schema(request=RoleSerializer, responses=MemberSerializer)
    def patch(self, request, room_id: int, membership_id: int):
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "role" not in serializer.validated_data:
            return Response(
                {"error": {"code": "invalid", "message": _("Nothing to change."), "fields": {}}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        membership = services.change_member_role(
            room_id=room_id,
            actor=request.user,
            membership_id=membership_id,
            role=serializer.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data)


class MemberBlockView(APIView):
    """Block or unblock one member of the room for myself (per room, by membership).

    Their messages arrive ``collapsed`` for me, and their mentions, replies and
    reactions stop reaching me; nothing tells them. Blocking an account
    (``/users/<handle>/block/``) never does this to an open profile."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, room_id: int, membership_id: int):
        selectors.get_room_for_viewer(room_id=room_id, viewer=request.user)
        services.block_member(room_id=room_id, actor=request.user, membership_id=membership_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None})
    def delete(self, request, room_id: int, membership_id: int):
        selectors.get_room_for_viewer(room_id=room_id, viewer=request.user)
        services.unblock_member(room_id=room_id, actor=request.user, membership_id=membership_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyMemberBlocksView(GenericAPIView):
    """The members of this room I blocked (by room nickname), oldest block first."""

    serializer_class = BlockedMemberSerializer
    filter_backends: list = []

    @extend_schema(responses=BlockedMemberSerializer(many=True))
    def get(self, request, room_id: int):
        room = selectors.get_room_for_viewer(room_id=room_id, viewer=request.user)
        self.paginator.ordering = "id"
        page = self.paginate_queryset(selectors.my_member_blocks(room=room, viewer=request.user))
        return self.get_paginated_response(BlockedMemberSerializer(page, many=True).data)


class TransferOwnershipView(APIView):
    @extend_schema(request=TransferSerializer, responses=MemberSerializer)
    def post(self, request, room_id: int):
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.transfer_ownership(
            room_id=room_id,
            actor=request.user,
            membership_id=serializer.validated_data["membership_id"],
        )
        return Response(MemberSerializer(membership).data)


def _host_room(request, room_id: int):
    room = selectors.get_room_for_viewer(room_id=room_id, viewer=request.user)
    if not access.role_is_host(room.viewer_role):
        raise access.not_host_error()
    return room


class JoinRequestListView(GenericAPIView):
    serializer_class = JoinRequestSerializer
    filter_backends: list = []

    @extend_schema(responses=JoinRequestSerializer(many=True))
    def get(self, request, room_id: int):
        room = _host_room(request, room_id)
        self.paginator.ordering = "id"
        page = self.paginate_queryset(selectors.pending_join_requests(room=room))
        return self.get_paginated_response(JoinRequestSerializer(page, many=True).data)


class JoinRequestDecisionView(APIView):
    decision = "approve"

    @extend_schema(
        request=None,
        responses=MemberSerializer,
        description="approve: the new member; decline: the declined request.",
    )
    def post(self, request, room_id: int, request_id: int):
        if self.decision == "approve":
            membership = services.approve_join_request(
                room_id=room_id, request_id=request_id, actor=request.user
            )
            return Response(MemberSerializer(membership).data)
        join_request = services.decline_join_request(
            room_id=room_id, request_id=request_id, actor=request.user
        )
        return Response(JoinRequestSerializer(join_request).data)


class InviteListView(GenericAPIView):
    serializer_class = InviteSerializer
    throttle_scope = "writes"
    filter_backends: list = []

    @extend_schema(responses=InviteSerializer(many=True))
    def get(self, request, room_id: int):
        room = _host_room(request, room_id)
        page = self.paginate_queryset(RoomInvite.objects.filter(room=room))
        return self.get_paginated_response(InviteSerializer(page, many=True).data)

    @extend_schema(request=InviteCreateSerializer, responses={201: InviteSerializer})
    def post(self, request, room_id: int):
        serializer = InviteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invite = services.create_invite(
            room_id=room_id, actor=request.user, **serializer.validated_data
        )
        return Response(InviteSerializer(invite).data, status=status.HTTP_201_CREATED)


class InvitePreviewView(APIView):
    """What an invite link shows before joining: the room, whatever its visibility."""

    @extend_schema(responses=RoomSerializer)
    def get(self, request, code: str):
        invite = RoomInvite.objects.filter(code=code).first()
        if invite is None or not services.invite_is_usable(invite):
            raise NotFoundError(_("This invite link is invalid or has expired."))
        room = selectors.room_cards(
            selectors.live_rooms().filter(pk=invite.room_id), request.user
        ).first()
        if room is None:
            raise NotFoundError(_("This invite link is invalid or has expired."))
        selectors.with_room_offers([room], viewer=_viewer(request))
        return Response(RoomSerializer(room, context={"request": request}).data)


class InterestListView(GenericAPIView):
    serializer_class = InterestSerializer
    permission_classes = [AllowAny]
    filter_backends: list = []

    @extend_schema(responses=InterestSerializer(many=True))
    def get(self, request):
        self.paginator.ordering = "slug"
        self.paginator.page_size = 100
        page = self.paginate_queryset(selectors.all_interests())
        return self.get_paginated_response(InterestSerializer(page, many=True).data)
