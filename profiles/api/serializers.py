from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenBlacklistSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from community.media.api.fields import MediaPayloadField
from community.media.selectors import AVATAR_SIZE, LARGE_SIZE, image_url
from config.currencies import user_currency
from profiles.models import (
    BIO_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    STATUS_MESSAGE_MAX_LENGTH,
    STATUS_POST_MAX_LENGTH,
    User,
)
from profiles.selectors import POST


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}
    )
    email = serializers.EmailField(required=False, allow_blank=True)
    timezone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The device's IANA time zone (Asia/Seoul); UTC when left out.",
    )
    currency = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=3,
        help_text="ISO 4217 code Moim takes; default from the Accept-Language country.",
    )


class AccountSerializer(serializers.ModelSerializer):
    handle = serializers.CharField(source="profile.handle", read_only=True)
    display_name = serializers.CharField(source="profile.display_name", read_only=True)
    # Both may be blank: no e-mail given, or the locale follows the browser/device.
    email = serializers.CharField(read_only=True)
    locale = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "email_verified",
            "handle",
            "display_name",
            "locale",
            "timezone",
            "currency",
        ]
        read_only_fields = fields


def avatar_url(profile) -> str:
    """The avatar's 320 px rendition; "" without one or while it is processed."""
    return image_url(profile.avatar_media, AVATAR_SIZE)


class ProfileCardSerializer(serializers.Serializer):
    """The least a list shows of a main profile: handle, name and avatar."""

    handle = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    avatar = serializers.SerializerMethodField()

    def get_avatar(self, profile) -> str:
        return avatar_url(profile)


class ProfileInterestSerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    # Blank when no e-mail was given: not documented as format "email".
    email = serializers.CharField(source="user.email", read_only=True)
    email_verified = serializers.BooleanField(source="user.email_verified", read_only=True)
    handle = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    bio = serializers.CharField(read_only=True)
    status_message = serializers.CharField(read_only=True)
    # URLs of one rendition ("" while there is none); the *_media payloads have them all.
    avatar = serializers.SerializerMethodField()
    background = serializers.SerializerMethodField()
    avatar_media = MediaPayloadField()
    background_media = MediaPayloadField()
    interests = serializers.SerializerMethodField()
    languages = serializers.ListField(child=serializers.CharField(), read_only=True)
    locale = serializers.CharField(source="user.locale", read_only=True)
    timezone = serializers.CharField(source="user.timezone", read_only=True)
    # Whether people search and follow suggestions show me.
    discoverable = serializers.BooleanField(read_only=True)
    # Top-ups and tips start in it (set at sign-up from the locale; PATCH to change).
    currency = serializers.SerializerMethodField()

    def get_currency(self, profile) -> str:

        return user_currency(profile.user)

    def get_avatar(self, profile) -> str:
        return avatar_url(profile)

    def get_background(self, profile) -> str:
        return image_url(profile.background_media, LARGE_SIZE)

    def get_interests(self, profile) -> list[str]:
        return [interest.slug for interest in profile.interests.all()]


class MeUpdateSerializer(serializers.Serializer):
    handle = serializers.CharField(required=False, max_length=60)
    display_name = serializers.CharField(required=False, max_length=DISPLAY_NAME_MAX_LENGTH)
    bio = serializers.CharField(required=False, allow_blank=True, max_length=BIO_MAX_LENGTH)
    status_message = serializers.CharField(
        required=False, allow_blank=True, max_length=STATUS_MESSAGE_MAX_LENGTH
    )
    interests = serializers.ListField(
        child=serializers.SlugField(max_length=60), required=False, max_length=50
    )
    languages = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, max_length=50
    )
    locale = serializers.CharField(required=False, allow_blank=True, max_length=10)
    timezone = serializers.CharField(required=False, max_length=64)
    currency = serializers.CharField(required=False, max_length=3)
    discoverable = serializers.BooleanField(
        required=False, help_text="Show me in people search and follow suggestions."
    )
    # Multipart only; the media pipeline sniffs the bytes and strips the metadata.
    avatar = serializers.FileField(required=False, allow_empty_file=False)
    background = serializers.FileField(required=False, allow_empty_file=False)
    remove_avatar = serializers.BooleanField(
        required=False, default=False, help_text="Take the avatar off (an upload wins)."
    )
    remove_background = serializers.BooleanField(
        required=False, default=False, help_text="Take the background off (an upload wins)."
    )


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, style={"input_type": "password"})
    messages = serializers.ChoiceField(choices=["anonymise", "delete"])


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, style={"input_type": "password"})
    new_password = serializers.CharField(max_length=128, style={"input_type": "password"})


class EmailChangeSerializer(serializers.Serializer):
    email = serializers.EmailField(allow_blank=True, help_text="Blank removes the address.")
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text="From the emailed link.")
    token = serializers.CharField(max_length=128, help_text="From the emailed link.")
    new_password = serializers.CharField(max_length=128, style={"input_type": "password"})


class EmailVerifySerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512, help_text="From the emailed link.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class EmailVerifiedSerializer(serializers.Serializer):
    email = serializers.CharField()
    email_verified = serializers.BooleanField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class PublicProfileSerializer(serializers.Serializer):
    handle = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    bio = serializers.CharField(read_only=True)
    status_message = serializers.CharField(read_only=True)
    avatar = serializers.SerializerMethodField()
    background = serializers.SerializerMethodField()
    avatar_media = MediaPayloadField()
    background_media = MediaPayloadField()
    interests = ProfileInterestSerializer(many=True, read_only=True, source="interests.all")
    languages = serializers.ListField(child=serializers.CharField(), read_only=True)
    is_me = serializers.SerializerMethodField()
    following = serializers.BooleanField(source="viewer_follows", read_only=True)
    follows_you = serializers.BooleanField(source="follows_viewer", read_only=True)
    is_friend = serializers.SerializerMethodField()
    blocked = serializers.BooleanField(source="viewer_blocks", read_only=True)

    def get_avatar(self, profile) -> str:
        return avatar_url(profile)

    def get_background(self, profile) -> str:
        return image_url(profile.background_media, LARGE_SIZE)

    def get_is_me(self, profile) -> bool:
        return profile.user_id == self.context["request"].user.pk

    def get_is_friend(self, profile) -> bool:
        return bool(profile.viewer_follows and profile.follows_viewer)


class PersonSerializer(ProfileCardSerializer):
    """A main profile in people search and follow suggestions."""

    status_message = serializers.CharField(read_only=True)
    following = serializers.BooleanField(source="viewer_follows", read_only=True)
    follows_you = serializers.BooleanField(source="follows_viewer", read_only=True)


class SuggestionSerializer(PersonSerializer):
    followed_by_count = serializers.IntegerField(
        read_only=True, help_text="How many of the people I follow follow them."
    )
    shared_room_count = serializers.IntegerField(
        read_only=True,
        help_text="Public rooms where both of us show our main profiles.",
    )


class StatusPostSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    author = ProfileCardSerializer(source="author.profile", read_only=True)
    body = serializers.CharField(read_only=True)
    image = serializers.SerializerMethodField()
    image_media = MediaPayloadField()
    created_at = serializers.DateTimeField(read_only=True)
    # Set on the page by community.reactions.selectors.with_reaction_summaries.
    reactions = serializers.SerializerMethodField()

    def get_image(self, post) -> str:
        return image_url(post.image_media, LARGE_SIZE)

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
    def get_reactions(self, post) -> list[dict]:
        return getattr(post, "reaction_summary", [])


class StatusPostCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=STATUS_POST_MAX_LENGTH)
    # The media pipeline sniffs the bytes, whatever the name or content type claims.
    image = serializers.FileField(required=False, allow_empty_file=False)


class StatusPostUpdateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=STATUS_POST_MAX_LENGTH)


class FeedRoomSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)


def feed_item_data(item, context) -> dict:

    if item.kind == POST:
        return {
            "type": item.kind,
            "at": item.at,
            "post": StatusPostSerializer(item.post, context=context).data,
        }
    membership = item.membership
    return {
        "type": item.kind,
        "at": item.at,
        "friend": ProfileCardSerializer(membership.user.profile, context=context).data,
        "room": FeedRoomSerializer(membership.room, context=context).data,
    }


class LogoutSerializer(TokenBlacklistSerializer):
    """The refresh token to revoke and, optionally, this device's push token."""

    push_token = serializers.CharField(
        required=False,
        max_length=4096,
        write_only=True,
        help_text="This device's FCM registration token or APNs device token: it stops "
        "receiving pushes of this account.",
    )

    def validate(self, attrs):
        user_id = self.token_class(attrs["refresh"]).payload.get(jwt_settings.USER_ID_CLAIM)
        super().validate(attrs)
        return {"user_id": user_id, "push_token": attrs.get("push_token", "")}
