"""The export sections and deletion hooks for the data profiles holds (and for room
memberships and messages, which have no other owner yet)."""

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from community.chat.models import Message, MessageEdit
from community.chat.selectors import forget_room_histories
from community.media.selectors import VARIANT_ORIGINAL, image_url
from community.media.services import release_media_asset
from community.moderation.models import RoomAnnouncement
from community.rooms.models import JoinRequest, Membership
from community.rooms.services import cancel_join_request, leave_room
from profiles.deletion import register_deletion_hook
from profiles.export import register_export_section
from profiles.models import Block, Follow, Profile, StatusPost, User


def _image_url(asset) -> str:
    """The full-size, metadata-free rendition ("" if none, or not processed yet)."""
    return image_url(asset, VARIANT_ORIGINAL)


# --- Export -----------------------------------------------------------------------------------


def export_account(user: User) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "locale": user.locale,
        "timezone": user.timezone,
    }


def export_profile(user: User) -> dict:
    profile = (
        Profile.objects.select_related("avatar_media", "background_media")
        .prefetch_related("interests")
        .get(user=user)
    )
    return {
        "handle": profile.handle,
        "display_name": profile.display_name,
        "bio": profile.bio,
        "status_message": profile.status_message,
        "avatar": _image_url(profile.avatar_media),
        "background": _image_url(profile.background_media),
        "interests": [interest.slug for interest in profile.interests.all()],
        "languages": profile.languages,
        "created_at": profile.created_at,
    }


def export_follows(user: User) -> dict:
    following = Follow.objects.filter(follower=user).select_related("followee__profile")
    followers = Follow.objects.filter(followee=user).select_related("follower__profile")
    return {
        "following": [
            {"handle": f.followee.profile.handle, "since": f.created_at}
            for f in following.order_by("id")
        ],
        "followers": [
            {"handle": f.follower.profile.handle, "since": f.created_at}
            for f in followers.order_by("id")
        ],
    }


def export_blocks(user: User) -> list[dict]:
    return [
        {"handle": b.blocked.profile.handle, "since": b.created_at}
        for b in Block.objects.filter(blocker=user)
        .select_related("blocked__profile")
        .order_by("id")
    ]


def export_status_posts(user: User) -> list[dict]:
    return [
        {
            "id": post.pk,
            "body": post.body,
            "image": _image_url(post.image_media),
            "created_at": post.created_at,
        }
        for post in StatusPost.objects.filter(author=user)
        .select_related("image_media")
        .order_by("id")
    ]


def export_memberships(user: User) -> list[dict]:
    return [
        {
            "room_id": m.room_id,
            "room_title": m.room.title,
            "nickname": m.nickname,
            "avatar": _image_url(m.avatar_media),
            "role": m.role,
            "state": m.state,
            "is_open_profile": m.is_open_profile,
            "joined_at": m.joined_at,
        }
        for m in Membership.objects.filter(user=user)
        .select_related("room", "avatar_media__room")
        .order_by("id")
    ]


def export_join_requests(user: User) -> list[dict]:
    return [
        {
            "room_id": request.room_id,
            "nickname": request.nickname,
            "is_open_profile": request.is_open_profile,
            "message": request.message,
            "state": request.state,
            "created_at": request.created_at,
            "decided_at": request.decided_at,
        }
        for request in JoinRequest.objects.filter(user=user).order_by("id")
    ]


def export_messages(user: User) -> list[dict]:
    messages = (
        Message.objects.filter(author__user=user)
        .select_related("author")
        .prefetch_related(Prefetch("edits", queryset=MessageEdit.objects.order_by("id")))
        .order_by("room_id", "seq")
    )
    return [
        {
            "room_id": message.room_id,
            "seq": message.seq,
            "as_nickname": message.author.nickname,
            "kind": message.kind,
            "body": "" if message.deleted_at else message.body,
            "created_at": message.created_at,
            "edited_at": message.edited_at,
            "deleted_at": message.deleted_at,
            "previous_versions": [
                {"body": edit.previous_body, "replaced_at": edit.edited_at}
                for edit in message.edits.all()
            ],
        }
        for message in messages.iterator(chunk_size=500)
    ]


# --- Deletion ---------------------------------------------------------------------------------


def delete_or_keep_messages(*, user: User, delete_messages: bool) -> None:
    """Deleted: tombstones (the room's order stays), bodies and edit history gone.
    Kept: they stay, under the anonymised membership (see below)."""
    if not delete_messages:
        return
    mine = Message.objects.filter(author__user=user)
    MessageEdit.objects.filter(message__in=mine).delete()
    # A room's notice pinned from one of them held a copy of its text: it goes too.
    RoomAnnouncement.objects.filter(message__in=mine).delete()
    mine.filter(deleted_at__isnull=True).update(body="", deleted_at=timezone.now())
    mine.update(body="")
    # Bulk updates send no signal: the rooms' cached history pages are renewed here.
    forget_room_histories(mine.values_list("room_id", flat=True).distinct())


def leave_rooms_and_anonymise_memberships(*, user: User, delete_messages: bool = False) -> None:
    """Leave every room through the rooms service (so members see ``member.removed`` and an
    owned room passes to a co-host, else the longest-standing member, else is archived),
    cancel pending join requests, then replace nicknames and avatars with neutral ones."""

    active = Membership.objects.filter(user=user, state=Membership.State.ACTIVE)
    for membership in active.order_by("room_id"):  # the rooms' lock order
        successor_id, archive = None, False
        if membership.role == Membership.Role.OWNER:
            successor = (
                Membership.objects.filter(room_id=membership.room_id, state=Membership.State.ACTIVE)
                .exclude(pk=membership.pk)
                .annotate(is_cohost=Q(role=Membership.Role.COHOST))
                .order_by("-is_cohost", "joined_at", "id")
                .first()
            )
            successor_id, archive = (successor.pk, False) if successor else (None, True)
        leave_room(
            room_id=membership.room_id, user=user, successor_id=successor_id, archive=archive
        )
    pending = JoinRequest.objects.filter(user=user, state=JoinRequest.State.PENDING)
    for room_id in pending.order_by("room_id").values_list("room_id", flat=True):
        cancel_join_request(room_id=room_id, user=user)
    JoinRequest.objects.filter(user=user).update(nickname=_("Deleted member"), message="")

    avatar_ids = list(
        Membership.objects.filter(user=user, avatar_media__isnull=False).values_list(
            "avatar_media_id", flat=True
        )
    )
    memberships = Membership.objects.filter(user=user)
    memberships.update(nickname=_("Deleted member"), avatar_media=None, is_open_profile=True)
    forget_room_histories(memberships.values_list("room_id", flat=True))  # no signal
    for asset_id in avatar_ids:
        release_media_asset(asset_id=asset_id)


def delete_status_posts(*, user: User, delete_messages: bool = False) -> None:
    posts = StatusPost.objects.filter(author=user)
    image_ids = list(
        posts.filter(image_media__isnull=False).values_list("image_media_id", flat=True)
    )
    posts.delete()
    for asset_id in image_ids:
        release_media_asset(asset_id=asset_id)


def delete_follows_and_blocks(*, user: User, delete_messages: bool = False) -> None:
    Follow.objects.filter(follower=user).delete()
    Follow.objects.filter(followee=user).delete()
    Block.objects.filter(blocker=user).delete()
    Block.objects.filter(blocked=user).delete()


def anonymise_profile(*, user: User, delete_messages: bool = False) -> None:
    """Free the handle and clear everything the person wrote about themselves."""
    profile = Profile.objects.select_for_update().get(user=user)
    image_ids = [profile.avatar_media_id, profile.background_media_id]
    # "-" never appears in a chosen handle, so this cannot collide with one.
    profile.handle = profile.handle_key = f"deleted-{user.pk}"
    profile.display_name = _("Deleted user")
    profile.bio = profile.status_message = ""
    profile.avatar_media = profile.background_media = None
    profile.languages = []
    profile.save(
        update_fields=[
            "handle",
            "handle_key",
            "display_name",
            "bio",
            "status_message",
            "avatar_media",
            "background_media",
            "languages",
        ]
    )
    profile.interests.clear()
    for asset_id in image_ids:
        release_media_asset(asset_id=asset_id)


def revoke_api_tokens(*, user: User, delete_messages: bool = False) -> None:
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in OutstandingToken.objects.filter(user=user)],
        ignore_conflicts=True,
    )


def register() -> None:
    register_export_section("account", export_account)
    register_export_section("profile", export_profile)
    register_export_section("follows", export_follows)
    register_export_section("blocks", export_blocks)
    register_export_section("status_posts", export_status_posts)
    register_export_section("memberships", export_memberships)
    register_export_section("join_requests", export_join_requests)
    register_export_section("messages", export_messages)

    register_deletion_hook("messages", delete_or_keep_messages)
    register_deletion_hook("memberships", leave_rooms_and_anonymise_memberships)
    register_deletion_hook("status_posts", delete_status_posts)
    register_deletion_hook("follows_and_blocks", delete_follows_and_blocks)
    register_deletion_hook("profile", anonymise_profile)
    register_deletion_hook("api_tokens", revoke_api_tokens)
