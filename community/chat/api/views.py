"""The REST twin of the chat socket: history, send, edit, delete, read markers.

Views only translate: input serializers check shapes, services and selectors do the
work, and every message is returned as the one payload the socket sends.
"""

import functools

from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from community import access
from community.chat.selectors import (
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    SEARCH_DEFAULT_LIMIT,
    SEARCH_MAX_LIMIT,
    SEARCH_MAX_QUERY_LENGTH,
    chat_list,
    history_page,
    message_payload_by_id,
    message_payloads,
    parse_search_query,
    readable_room,
    search_highlights,
    search_messages,
)
from community.chat.services import (
    CLIENT_ID_MAX_LENGTH,
    check_send_message,
    delete_message,
    edit_message,
    mark_read,
    send_media_message,
    send_uploaded_media_message,
)
from community.media.api.views import limited_upload_data
from community.rooms.models import Membership
from config.api.rendering import PreEncodedJSONRenderer
from config.api.throttling import AnonRateThrottle, UserRateThrottle
from config.errors import PermissionDeniedError


class MediaMessageSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, use_url=False)
    body = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    client_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    reply_to = serializers.IntegerField(required=False, allow_null=True, default=None)


class UploadedMediaMessageSerializer(serializers.Serializer):
    media_id = serializers.IntegerField()
    body = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    client_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    reply_to = serializers.IntegerField(required=False, allow_null=True, default=None)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Send",
            value={"body": "Hello!", "client_id": "6f1c0a52-8d3e-4b7a-9c1d-2e5f3a4b6c7d"},
            request_only=True,
        )
    ]
)
class MessageSendSerializer(serializers.Serializer):
    body = serializers.CharField(trim_whitespace=False, allow_blank=True)
    client_id = serializers.CharField(
        required=False, allow_blank=True, max_length=CLIENT_ID_MAX_LENGTH, default=""
    )
    reply_to = serializers.IntegerField(required=False, allow_null=True, default=None)


class MessageEditSerializer(serializers.Serializer):
    body = serializers.CharField(trim_whitespace=False, allow_blank=True)


class HistoryQuerySerializer(serializers.Serializer):
    before = serializers.IntegerField(required=False, min_value=0)
    after = serializers.IntegerField(required=False, min_value=0)
    around = serializers.IntegerField(required=False, min_value=0)
    # Not trimmed here: parse_search_query refuses a blank query with its own message.
    q = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=HISTORY_MAX_LIMIT)

    def validate(self, attrs):
        if "around" in attrs and ("before" in attrs or "after" in attrs):
            raise serializers.ValidationError(
                {"around": [_("Use around without before or after.")]}
            )
        if "q" in attrs and ("after" in attrs or "around" in attrs):
            raise serializers.ValidationError(
                {"q": [_("A search pages with before only (newest first).")]}
            )
        if "q" in attrs and attrs.get("limit", 0) > SEARCH_MAX_LIMIT:
            raise serializers.ValidationError(
                {"limit": [_("At most %(count)s results a page.") % {"count": SEARCH_MAX_LIMIT}]}
            )
        return attrs


@functools.lru_cache(maxsize=256)
def _valid_history_query(query_string: str) -> tuple[tuple[str, object], ...] | None:
    """``HistoryQuerySerializer``'s validated data for a query string, or None when it is
    invalid: the same strings come back on every scroll and refresh (``?limit=50``), and
    validating them was ~0.1 ms of a history request (docs/performance.md, "Message
    history API, third pass"). Errors are never kept: an invalid query is validated
    again, in the request's language, by the serializer itself."""
    query = HistoryQuerySerializer(data=QueryDict(query_string))
    if not query.is_valid():
        return None
    return tuple(query.validated_data.items())


def _history_params(request) -> dict:
    """The validated parameters of a history request, or a 400 ``ValidationError``."""
    valid = _valid_history_query(request.META.get("QUERY_STRING", ""))
    if valid is not None:
        return dict(valid)
    query = HistoryQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


class ReadMarkerSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


# The kinds a message payload has; one enum component (ChatMessageKindEnum, named in
# SPECTACULAR_SETTINGS) for every schema that embeds a message.
CHAT_MESSAGE_KINDS = ["text", "image", "video", "system", "poll", "meetup", "tip"]


class ChatMessageSerializer(serializers.Serializer):
    """The message payload, for the API schema only: the payload itself is built by
    ``community.chat.selectors.message_payloads`` (shared with the socket)."""

    id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CHAT_MESSAGE_KINDS)
    body = serializers.CharField()
    author = serializers.DictField(allow_null=True)
    reply_to = serializers.DictField(allow_null=True)
    client_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    deleted_at = serializers.DateTimeField(allow_null=True)
    mentions = serializers.ListField()
    reactions = serializers.ListField()
    media = serializers.DictField(allow_null=True)
    poll = serializers.DictField(
        allow_null=True, help_text="A poll message's poll (PollSerializer); null otherwise."
    )
    meetup = serializers.DictField(
        allow_null=True, help_text="A meetup message's event (MeetupSerializer); null otherwise."
    )
    collapsed = serializers.BooleanField(
        help_text=(
            "True when the viewer blocked the author in this room (or blocked the account of"
            " an author shown with their main profile): show it folded, opened on request."
        )
    )
    unread_count = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "How many members have not read it yet (active members who joined before it,"
            " the author never counted); null for system and deleted messages and in rooms"
            " over READ_COUNTS_MAX_MEMBERS. Only ever goes down; live as read.updated."
        ),
    )
    translation = serializers.DictField(
        allow_null=True,
        help_text=(
            '{"source_language": code or null (unsure)} when the reader can translate it'
            " (POST /api/v1/messages/{id}/translation/); null when translation is off or"
            " the message has no text."
        ),
    )


class ChatMessageSearchResultSerializer(ChatMessageSerializer):
    highlights = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text=(
            "[start, end) ranges of the matched terms in `body`, in Unicode code points"
            " (not UTF-16 units), sorted: mark them yourself; the body is plain text."
        ),
    )


HISTORY_PAGE = inline_serializer(
    name="ChatMessageHistory",
    fields={
        "results": ChatMessageSerializer(many=True),
        "has_more": serializers.BooleanField(
            help_text="More messages beyond the page (older ones, with around)."
        ),
        "has_newer": serializers.BooleanField(
            required=False, help_text="With around only: newer messages after the page."
        ),
        "last_seq": serializers.IntegerField(),
        "last_read_seq": serializers.IntegerField(allow_null=True),
    },
)
SEARCH_PAGE = inline_serializer(
    name="ChatMessageSearch",
    fields={
        "results": ChatMessageSearchResultSerializer(many=True),
        "has_more": serializers.BooleanField(
            help_text="More matches: ask again with before=<the last result's seq>."
        ),
        "last_seq": serializers.IntegerField(),
        "last_read_seq": serializers.IntegerField(allow_null=True),
    },
)


# Every Moim throttle fails open (config/api/throttling.py): with the cache down, chat
# still accepts messages, and the message is stored.
ChatUserRateThrottle = UserRateThrottle
ChatAnonRateThrottle = AnonRateThrottle


CHAT_THROTTLES = [ChatAnonRateThrottle, ChatUserRateThrottle]


def _membership_or_403(*, room_id: int, user) -> Membership:
    """The poster's active membership (community.access), or ``403 not_member``."""
    membership = access.active_membership(room_id=room_id, user=user, related=("room", "user"))
    if membership is None:
        raise PermissionDeniedError(_("Only members can post in this room."), code="not_member")
    return membership


class RoomMessagesView(APIView):
    """``GET`` history by seq cursor; ``POST`` sends (same message as the socket)."""

    throttle_classes = CHAT_THROTTLES
    # DRF's renderers, its JSON one writing a history page's pre-encoded results as they are.
    renderer_classes = [
        PreEncodedJSONRenderer if renderer is JSONRenderer else renderer
        for renderer in api_settings.DEFAULT_RENDERER_CLASSES
    ]

    def get_permissions(self):
        # Rooms readable without an account serve history to anyone; the selector decides.
        if self.request.method == "GET":
            return [AllowAny()]
        return [IsAuthenticated()]

    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, description="Messages with seq < before."),
            OpenApiParameter("after", int, description="Messages with seq > after."),
            OpenApiParameter(
                "around",
                int,
                description=(
                    "The messages around this seq (it included): where a search result or"
                    " the pinned notice jumps to; the page says has_more (older) and"
                    " has_newer. Not with before or after."
                ),
            ),
            OpenApiParameter(
                "q",
                str,
                description=(
                    "Search the room (members only): every space-separated term must"
                    " match; Korean, Japanese and Chinese terms inside words, others as"
                    " whole words, case"
                    f" aside. At most {SEARCH_MAX_QUERY_LENGTH} characters. Results are"
                    " newest first, with highlights; page with before. Deleted and hidden"
                    " messages and those of members you blocked never match."
                ),
            ),
            OpenApiParameter(
                "limit",
                int,
                description=(
                    f"1 to {HISTORY_MAX_LIMIT} (default {HISTORY_DEFAULT_LIMIT}); a search"
                    f" 1 to {SEARCH_MAX_LIMIT} (default {SEARCH_DEFAULT_LIMIT})."
                ),
            ),
        ],
        responses=PolymorphicProxySerializer(
            component_name="ChatMessagePage",
            serializers=[HISTORY_PAGE, SEARCH_PAGE],
            resource_type_field_name=None,
        ),
    )
    def get(self, request, room_id: int):
        params = _history_params(request)
        room, last_read_seq = readable_room(room_id=room_id, user=request.user)
        # Most viewers block no one: their page needs no query for blocks.
        blocks = getattr(room, "viewer_blocks_anyone", None)
        page = {"last_seq": room.last_message_seq, "last_read_seq": last_read_seq}
        if "q" in params:
            # Searching is for members, also where anyone may read (a web-public room).
            if not getattr(room, "viewer_is_member", False):
                raise PermissionDeniedError(
                    _("Only members can search this room."), code="not_member"
                )
            terms = parse_search_query(params["q"])
            messages, has_more = search_messages(
                room_id=room.pk,
                viewer=request.user,
                terms=terms,
                before=params.get("before"),
                limit=params.get("limit", SEARCH_DEFAULT_LIMIT),
                viewer_blocks_anyone=blocks,
            )
            results = message_payloads(messages, viewer=request.user, viewer_blocks_anyone=blocks)
            for result in results:
                result["highlights"] = search_highlights(result["body"], terms)
            return Response({"results": results, "has_more": has_more, **page})
        history = history_page(
            room_id=room.pk,
            viewer=request.user,
            viewer_blocks_anyone=blocks,
            before=params.get("before"),
            after=params.get("after"),
            around=params.get("around"),
            limit=params.get("limit", HISTORY_DEFAULT_LIMIT),
            # The cached part of the page spliced into the JSON (PreEncodedJSONRenderer).
            as_json=True,
        )
        has_newer = history.pop("has_newer", None)
        page = {**history, **page}
        if "around" in params:
            page["has_newer"] = has_newer
        return Response(page)

    @extend_schema(
        request={
            "application/json": MessageSendSerializer,
            # An image or video message (post_media_message, below).
            "multipart/form-data": MediaMessageSerializer,
        },
        responses={201: ChatMessageSerializer, 200: ChatMessageSerializer},
    )
    def post(self, request, room_id: int):
        if is_media_message_request(request):
            # An image or video message: a file, or an earlier upload's media_id.
            return post_media_message(request, room_id)
        data = MessageSendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sent = check_send_message(
            membership=_membership_or_403(room_id=room_id, user=request.user),
            body=data.validated_data["body"],
            client_id=data.validated_data["client_id"],
            reply_to_id=data.validated_data["reply_to"],
        )
        return Response(
            message_payload_by_id(sent.message.pk, viewer=request.user),
            status=status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK,
        )


class MessageDetailView(APIView):
    """``PATCH`` edits (author); ``DELETE`` leaves a tombstone (author or host)."""

    throttle_classes = CHAT_THROTTLES

    @extend_schema(request=MessageEditSerializer, responses={200: ChatMessageSerializer})
    def patch(self, request, message_id: int):
        data = MessageEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = edit_message(
            user_id=request.user.pk, message_id=message_id, body=data.validated_data["body"]
        )
        return Response(message_payload_by_id(message.pk, viewer=request.user))

    @extend_schema(responses={204: None})
    def delete(self, request, message_id: int):
        delete_message(user_id=request.user.pk, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadMarkerView(APIView):
    """``POST {"seq": n}`` moves the caller's read marker forward."""

    throttle_classes = CHAT_THROTTLES

    @extend_schema(
        request=ReadMarkerSerializer,
        responses=inline_serializer(
            name="ChatReadMarker", fields={"last_read_seq": serializers.IntegerField()}
        ),
    )
    def post(self, request, room_id: int):
        data = ReadMarkerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = _membership_or_403(room_id=room_id, user=request.user)
        mark_read(membership=membership, seq=data.validated_data["seq"])
        membership.refresh_from_db(fields=["last_read_seq"])
        return Response({"last_read_seq": membership.last_read_seq})


def is_media_message_request(request) -> bool:
    """Multipart with a ``file``, or JSON naming an upload with ``media_id``."""
    if request.content_type.startswith("multipart/"):
        return True
    return isinstance(request.data, dict) and "media_id" in request.data


def post_media_message(request, room_id: int) -> Response:
    """``POST /rooms/{id}/messages/`` for an image or video message: multipart with the
    ``file``, or JSON ``{"media_id", "body", "client_id", "reply_to"}`` for an upload
    made before (the two-step flow). Chat's ``RoomMessagesView`` hands these here.
    """
    membership = _membership_or_403(room_id=room_id, user=request.user)
    if not request.content_type.startswith("multipart/"):
        data = UploadedMediaMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sent = send_uploaded_media_message(
            membership=membership,
            asset_id=data.validated_data["media_id"],
            body=data.validated_data["body"],
            client_id=data.validated_data["client_id"],
            reply_to_id=data.validated_data["reply_to"],
        )
        return _sent_response(sent)
    serializer = MediaMessageSerializer(data=limited_upload_data(request))
    serializer.is_valid(raise_exception=True)
    sent = send_media_message(
        membership=membership,
        file=serializer.validated_data["file"],
        body=serializer.validated_data["body"],
        client_id=serializer.validated_data["client_id"],
        reply_to_id=serializer.validated_data["reply_to"],
    )
    return _sent_response(sent)


def _sent_response(sent) -> Response:
    return Response(
        message_payload_by_id(sent.message.pk),
        status=status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK,
    )


class ChatLastMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    author_nickname = serializers.CharField(allow_null=True)
    is_mine = serializers.BooleanField()
    preview = serializers.CharField()
    created_at = serializers.DateTimeField()


class ChatSerializer(serializers.Serializer):
    """One joined room in the chat list (``community.chat.selectors.chat_list``)."""

    room_id = serializers.IntegerField()
    title = serializers.CharField()
    cover = serializers.CharField(allow_null=True)
    nickname = serializers.CharField(help_text="My nickname in the room.")
    last_activity_at = serializers.DateTimeField()
    last_message = ChatLastMessageSerializer(allow_null=True)
    unread = serializers.IntegerField()
    mentions = serializers.IntegerField()
    level = serializers.ChoiceField(choices=["all", "mentions", "muted"])
    muted = serializers.BooleanField()
    is_archived = serializers.BooleanField()


class MyChatsView(APIView):
    """The signed-in user's joined rooms, latest activity first (the web app's Chats):
    the last message they may see, unread and mention counts, the notification level."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(name="ChatList", fields={"results": ChatSerializer(many=True)})
    )
    def get(self, request):
        return Response({"results": chat_list(user=request.user)})
