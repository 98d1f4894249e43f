"""Room, member, join request and invite payloads for ``/api/v1/``.

Members appear only as their room nickname and room avatar (``member_payload``);
no user id, username, handle or display name unless the member turned their open
profile off, in which case ``profile_handle`` carries the main profile's handle.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from community import access
from community.media.api.fields import MediaPayloadField
from community.media.selectors import LARGE_SIZE, image_url
from community.rooms.models import (
    NICKNAME_MAX_LENGTH,
    Interest,
    JoinRequest,
    Membership,
    Room,
    RoomInvite,
)
from community.rooms.selectors import member_payload, room_announcement


class InterestSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Interest
        fields = ["id", "slug", "name", "name_en", "name_ko", "name_ja", "parent", "room_count"]


class MemberSerializer(serializers.Serializer):
    """A member as everyone sees them: ``member_payload`` (the fields document it)."""

    id = serializers.IntegerField(read_only=True)
    nickname = serializers.CharField(read_only=True)
    avatar = serializers.CharField(read_only=True, allow_null=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices, read_only=True)
    is_open_profile = serializers.BooleanField(read_only=True)
    profile_handle = serializers.CharField(read_only=True, allow_null=True)
    muted_until = serializers.DateTimeField(read_only=True, allow_null=True)
    joined_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Membership) -> dict:
        return member_payload(instance)


class BlockedMemberSerializer(serializers.Serializer):
    """A member I blocked in a room: their membership id and room nickname."""

    membership_id = serializers.IntegerField(read_only=True)
    nickname = serializers.CharField(source="membership.nickname", read_only=True)
    blocked_at = serializers.DateTimeField(source="created_at", read_only=True)


class ViewerMembershipField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, room: Room) -> dict | None:
        membership_id = getattr(room, "viewer_membership_id", None)
        if membership_id is None:
            return None
        return {"id": membership_id, "role": getattr(room, "viewer_role", None)}


@extend_schema_field({"type": "object", "nullable": True})
class _ViewerMembershipSchemaField(ViewerMembershipField):
    pass


class RoomPermissionsSerializer(serializers.Serializer):
    """What the viewer may do in the room (community.access.room_permissions): clients
    show or hide controls by these flags and never work them out from roles."""

    can_read = serializers.BooleanField(help_text="Read the room's messages.")
    can_post = serializers.BooleanField(help_text="Send messages (an active, unmuted member).")
    can_moderate = serializers.BooleanField(
        help_text="Kick, ban, unban, mute, slow mode, announcement, word filters, held messages."
    )
    can_manage_members = serializers.BooleanField(
        help_text="Change roles, decide join requests, list invites (hosts)."
    )
    can_edit_room = serializers.BooleanField(help_text="Change the room's settings (hosts).")
    can_delete_any_message = serializers.BooleanField(
        help_text="Delete anyone's message (hosts; site moderators hide instead)."
    )


class RoomOfferPriceSerializer(serializers.Serializer):
    """What joining a paid room costs (null: free)."""

    amount = serializers.IntegerField(help_text="Minor units of the currency.")
    currency = serializers.CharField()
    display = serializers.CharField(help_text="The amount as people read it: ₩5,000, $4.99.")
    interval = serializers.ChoiceField(
        choices=["once", "month"], help_text="once: a one-off entry; month: renews monthly."
    )


class RoomOfferAccessSerializer(serializers.Serializer):
    """The viewer's paid access to a paid room (null: none, or signed out)."""

    active = serializers.BooleanField(help_text="Paid up: may join now.")
    renews = serializers.BooleanField(help_text="A monthly membership that charges again.")
    renews_at = serializers.DateTimeField(allow_null=True)
    cancelled = serializers.BooleanField(
        help_text="A monthly membership whose renewal was cancelled; it ends at ends_at."
    )
    ends_at = serializers.DateTimeField(allow_null=True)


class RoomSerializer(serializers.ModelSerializer):
    """A room as lists and the detail show it, with the viewer's own membership."""

    interests = InterestSerializer(many=True, read_only=True)
    hashtags = serializers.SerializerMethodField()
    cover = serializers.SerializerMethodField()
    cover_media = MediaPayloadField()
    viewer_membership = _ViewerMembershipSchemaField()
    viewer_has_pending_request = serializers.BooleanField(read_only=True, default=False)
    viewer_permissions = serializers.SerializerMethodField()
    has_password = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    # Likes: set on the page by community.reactions.selectors.with_reaction_summaries.
    reactions = serializers.SerializerMethodField()
    # A paid room: set by community.rooms.selectors.with_room_offers.
    price = serializers.SerializerMethodField()
    access = serializers.SerializerMethodField()

    class Meta:
        model = Room
        fields = [
            "id",
            "title",
            "description",
            "cover",
            "cover_media",
            "language",
            "visibility",
            "join_policy",
            "has_password",
            "capacity",
            "member_count",
            "slow_mode_seconds",
            "is_web_public",
            "is_archived",
            "interests",
            "hashtags",
            "created_at",
            "last_activity_at",
            "viewer_membership",
            "viewer_has_pending_request",
            "viewer_permissions",
            "url",
            "reactions",
            "price",
            "access",
        ]

    @extend_schema_field(RoomOfferPriceSerializer(allow_null=True))
    def get_price(self, room: Room) -> dict | None:
        offer = getattr(room, "offer", None)
        return offer["price"] if offer else None

    @extend_schema_field(RoomOfferAccessSerializer(allow_null=True))
    def get_access(self, room: Room) -> dict | None:
        offer = getattr(room, "offer", None)
        return offer["access"] if offer else None

    @extend_schema_field(RoomPermissionsSerializer)
    def get_viewer_permissions(self, room: Room) -> dict[str, bool]:
        request = self.context.get("request")
        return access.room_permissions(
            room,
            user=getattr(request, "user", None),
            membership=access.annotated_membership(room),
        )

    def get_hashtags(self, room: Room) -> list[str]:
        return [tag.label for tag in room.hashtags.all()]

    def get_cover(self, room: Room) -> str | None:
        # Null too while the cover is processed (cover_media has its placeholder).
        return image_url(room.cover_media, LARGE_SIZE) or None

    def get_has_password(self, room: Room) -> bool:
        return room.join_policy == Room.JoinPolicy.PASSWORD

    def get_url(self, room: Room) -> str:
        return f"/rooms/{room.pk}/"

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "emoji": {"type": "string"},
                    "count": {"type": "integer"},
                    "me": {"type": "boolean"},
                },
            },
        }
    )
    def get_reactions(self, room: Room) -> list[dict]:
        return getattr(room, "reaction_summary", [])


class AnnouncementField(serializers.Field):
    """The room's notice (``community.rooms.selectors.announcement_payload``): the same
    object as ``GET /rooms/{id}/announcement/``, the socket's ``ready`` and the
    ``room.announcement`` event; null when there is none."""

    def __init__(self, **kwargs):
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, room: Room) -> dict | None:
        return room_announcement(room_id=room.pk)


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "body": {"type": "string"},
            "pinned_at": {"type": "string", "format": "date-time"},
            "pinned_by": {
                "type": "object",
                "nullable": True,
                "description": "Who set it, by room nickname; null when a site moderator did.",
                "properties": {
                    "membership_id": {"type": "integer"},
                    "nickname": {"type": "string"},
                },
            },
            "message": {
                "type": "object",
                "nullable": True,
                "description": "The pinned message, to jump to; null for a written notice.",
                "properties": {"id": {"type": "integer"}, "seq": {"type": "integer"}},
            },
        },
    }
)
class _AnnouncementSchemaField(AnnouncementField):
    pass


class RoomDetailSerializer(RoomSerializer):
    """A room as its detail shows it: the card's fields and the room's notice (one more
    query, so the lists leave it out)."""

    announcement = _AnnouncementSchemaField()

    class Meta(RoomSerializer.Meta):
        fields = [*RoomSerializer.Meta.fields, "announcement"]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Create a room",
            value={
                "title": "Seoul jazz nights",
                "description": "Live jazz in Seoul, every weekend.",
                "language": "ko",
                "interests": ["music"],
                "hashtags": ["jazz", "seoul"],
                "nickname": "bebop",
                "is_open_profile": True,
            },
            request_only=True,
        )
    ]
)
class RoomWriteSerializer(serializers.Serializer):
    """Input for create (POST) and edit (PATCH, all fields optional)."""

    title = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    language = serializers.CharField(max_length=10, required=False)
    visibility = serializers.ChoiceField(choices=Room.Visibility.choices, required=False)
    join_policy = serializers.ChoiceField(choices=Room.JoinPolicy.choices, required=False)
    password = serializers.CharField(
        max_length=128, required=False, allow_blank=True, write_only=True
    )
    capacity = serializers.IntegerField(
        min_value=2, max_value=settings.ROOM_MAX_CAPACITY, required=False
    )
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=3600, required=False)
    is_web_public = serializers.BooleanField(required=False)
    interests = serializers.SlugRelatedField(
        slug_field="slug", queryset=Interest.objects.all(), many=True, required=False
    )
    hashtags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=10
    )
    # The media pipeline sniffs the bytes and stores only stripped renditions.
    cover = serializers.FileField(required=False, allow_null=True, allow_empty_file=False)
    # Create only: the owner's own nickname in the room.
    nickname = serializers.CharField(max_length=NICKNAME_MAX_LENGTH, required=False)
    is_open_profile = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if self.partial:
            attrs.pop("nickname", None)
            attrs.pop("is_open_profile", None)
        elif not attrs.get("nickname", "").strip():
            raise serializers.ValidationError(
                {"nickname": [_("Choose your nickname in this room.")]}
            )
        return attrs


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Join with an open profile",
            value={"nickname": "jazzcat", "is_open_profile": True},
            request_only=True,
        )
    ]
)
class JoinRoomSerializer(serializers.Serializer):
    nickname = serializers.CharField(max_length=NICKNAME_MAX_LENGTH)
    password = serializers.CharField(max_length=128, required=False, allow_blank=True)
    is_open_profile = serializers.BooleanField(required=False, default=True)
    invite_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    message = serializers.CharField(max_length=300, required=False, allow_blank=True)


class LeaveSerializer(serializers.Serializer):
    successor_id = serializers.IntegerField(required=False, min_value=1)
    archive = serializers.BooleanField(required=False, default=False)


class JoinRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = JoinRequest
        fields = ["id", "nickname", "is_open_profile", "message", "state", "created_at"]


class MyMembershipSerializer(serializers.Serializer):
    nickname = serializers.CharField(max_length=NICKNAME_MAX_LENGTH, required=False)
    is_open_profile = serializers.BooleanField(required=False)
    avatar = serializers.FileField(required=False, allow_null=True, allow_empty_file=False)
    remove_avatar = serializers.BooleanField(
        required=False, help_text="Take the room avatar off (an upload wins)."
    )


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=[Membership.Role.COHOST, Membership.Role.MEMBER], required=False
    )


# What the host or moderator tells the person they ban or mute (audited, and sent to them
# in a notification); the same bound as the web tools' note.
SANCTION_REASON_MAX_LENGTH = 2000


def _reason_field():
    return serializers.CharField(
        required=False, allow_blank=True, default="", max_length=SANCTION_REASON_MAX_LENGTH
    )


class BanSerializer(serializers.Serializer):
    reason = _reason_field()


class MuteSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(min_value=0, max_value=60 * 24 * 30)
    reason = _reason_field()


class TransferSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField(min_value=1)


class InviteCreateSerializer(serializers.Serializer):
    expires_in_hours = serializers.IntegerField(
        min_value=1, max_value=24 * 30, required=False, allow_null=True, default=24 * 7
    )
    max_uses = serializers.IntegerField(min_value=0, max_value=10000, required=False, default=0)


class InviteSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = RoomInvite
        fields = ["id", "code", "url", "expires_at", "max_uses", "use_count", "revoked_at"]

    def get_url(self, invite: RoomInvite) -> str:
        return f"{settings.SITE_URL}/invite/{invite.code}/"
