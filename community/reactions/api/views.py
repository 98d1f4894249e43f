"""``/api/v1/{messages,posts,rooms}/{id}/reactions/``: add, remove, summary and who reacted.

- ``POST`` ``{"emoji": "👍"}`` adds (idempotent), ``DELETE ?emoji=👍`` removes (idempotent);
  both answer with the target's summary ``{"target_type", "target_id", "reactions"}``.
- ``GET`` without ``emoji``: the summary; ``GET ?emoji=👍``: who reacted, a cursor page.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from community.media.selectors import AVATAR_SIZE, image_url, member_avatar_url
from community.reactions.models import ReactionTarget
from community.reactions.selectors import (
    check_can_view_reactions,
    check_target_visible,
    reaction_summary,
    reactors,
    resolve_target,
)
from community.reactions.services import (
    check_add_reaction,
    check_remove_reaction,
    validated_emoji,
)
from config.api.pagination import CursorPagination
from config.api.throttling import ScopedRateThrottle, UserRateThrottle


class ReactionInputSerializer(serializers.Serializer):
    emoji = serializers.CharField(max_length=64, trim_whitespace=True)


class ReactionCountSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    me = serializers.BooleanField()


class ReactionSummarySerializer(serializers.Serializer):
    target_type = serializers.CharField()
    target_id = serializers.IntegerField()
    reactions = ReactionCountSerializer(many=True)


class RoomReactorSerializer(serializers.Serializer):
    """A reactor in a room: their open profile there, never their account."""

    membership_id = serializers.IntegerField(source="membership.id")
    nickname = serializers.CharField(source="membership.nickname")
    avatar = serializers.SerializerMethodField()
    reacted_at = serializers.DateTimeField(source="created_at")

    def get_avatar(self, reaction) -> str | None:
        return member_avatar_url(reaction.membership)


class ProfileReactorSerializer(serializers.Serializer):
    """A reactor on a status post: their main profile, as the friends area shows it."""

    handle = serializers.CharField(source="user.profile.handle")
    display_name = serializers.CharField(source="user.profile.display_name")
    avatar = serializers.SerializerMethodField()
    reacted_at = serializers.DateTimeField(source="created_at")

    def get_avatar(self, reaction) -> str | None:
        return image_url(reaction.user.profile.avatar_media, AVATAR_SIZE) or None


class ReactionRateThrottle(ScopedRateThrottle):
    """The ``reactions`` scope; like chat, it lets taps through when the cache is down."""


class ReactorPagination(CursorPagination):
    ordering = "-id"


EMOJI_PARAMETER = OpenApiParameter(
    "emoji", str, description="One emoji; without it, GET answers with the summary."
)


class ReactionsView(APIView):
    """Reactions on one target; subclasses name the target kind."""

    target_type: ReactionTarget
    throttle_classes = [ReactionRateThrottle]
    throttle_scope = "reactions"

    def get_throttles(self):
        # Taps (add/remove) share the "reactions" budget; reads (counts, who reacted on
        # hover) fall under the general per-user rate instead of eating into it.
        if self.request.method == "GET":
            return [UserRateThrottle()]
        return super().get_throttles()

    def _summary(self, target_id: int, reactions: list) -> Response:
        return Response(
            {"target_type": self.target_type.value, "target_id": target_id, "reactions": reactions}
        )

    @extend_schema(
        parameters=[EMOJI_PARAMETER],
        responses={
            200: inline_serializer(
                "ReactionsOrReactors",
                {
                    "target_type": serializers.CharField(required=False),
                    "reactions": ReactionCountSerializer(many=True, required=False),
                    "results": RoomReactorSerializer(many=True, required=False),
                    "next": serializers.CharField(required=False),
                    "previous": serializers.CharField(required=False),
                },
            )
        },
    )
    def get(self, request, pk: int):
        target = resolve_target(self.target_type, pk)
        check_target_visible(target=target, viewer=request.user)
        raw_emoji = request.query_params.get("emoji", "")
        if not raw_emoji:
            check_can_view_reactions(target=target, viewer=request.user)
            return self._summary(pk, reaction_summary(target.kind, target.id, request.user))
        queryset = reactors(
            target=target, emoji=validated_emoji(raw=raw_emoji), viewer=request.user
        )
        paginator = ReactorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        serializer_class = (
            RoomReactorSerializer if target.room_id is not None else ProfileReactorSerializer
        )
        data = serializer_class(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=ReactionInputSerializer, responses={200: ReactionSummarySerializer})
    def post(self, request, pk: int):
        check_target_visible(target=resolve_target(self.target_type, pk), viewer=request.user)
        serializer = ReactionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reactions = check_add_reaction(
            user=request.user,
            target_type=self.target_type,
            target_id=pk,
            emoji=serializer.validated_data["emoji"],
        )
        return self._summary(pk, reactions)

    @extend_schema(parameters=[EMOJI_PARAMETER], responses={200: ReactionSummarySerializer})
    def delete(self, request, pk: int):
        check_target_visible(target=resolve_target(self.target_type, pk), viewer=request.user)
        reactions = check_remove_reaction(
            user=request.user,
            target_type=self.target_type,
            target_id=pk,
            emoji=request.query_params.get("emoji", ""),
        )
        return self._summary(pk, reactions)


class MessageReactionsView(ReactionsView):
    target_type = ReactionTarget.MESSAGE


class StatusPostReactionsView(ReactionsView):
    target_type = ReactionTarget.STATUS_POST


class RoomReactionsView(ReactionsView):
    target_type = ReactionTarget.ROOM
