"""Reads for media assets: who may see one, and the payload other areas embed."""

import time

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from community.chat.models import Message
from community.media.models import MediaAsset
from community.rooms.models import Membership, Room
from profiles.models import Profile, StatusPost

VARIANT_ORIGINAL = "original"
VARIANT_POSTER = "poster"
_SIGNING_SALT = "moim.media.url"


def asset_for_owner(*, user, asset_id: int) -> MediaAsset | None:
    if not user.is_authenticated:
        return None
    return MediaAsset.objects.filter(pk=asset_id, owner=user).first()


def asset_by_key(*, key) -> MediaAsset | None:
    return MediaAsset.objects.select_related("room").filter(key=key).first()


def is_restricted(asset: MediaAsset) -> bool:
    """Media of a private room: only its members (and the uploader) may see it."""
    return asset.room_id is not None and asset.room.visibility == Room.Visibility.PRIVATE


def can_view_asset(*, user, asset: MediaAsset) -> bool:
    """Avatars, covers of listed rooms and public rooms' media are public; a private
    room's media needs an active membership there."""
    if not is_restricted(asset):
        return True
    if not user.is_authenticated:
        return False
    if asset.owner_id == user.pk:
        return True
    return Membership.objects.filter(
        room_id=asset.room_id, user=user, state=Membership.State.ACTIVE
    ).exists()


def variant_file(asset: MediaAsset, variant: str) -> tuple[str, str] | None:
    """(storage name, content type) of one served form of a ready asset."""
    if asset.state != MediaAsset.State.READY:
        return None
    if variant == VARIANT_ORIGINAL:
        return asset.original_name, asset.original_content_type
    if variant == VARIANT_POSTER and asset.poster_name:
        return asset.poster_name, "image/webp"
    entry = asset.thumbnails.get(variant)
    if entry:
        return entry["name"], "image/webp"
    return None


# --- Signed URLs ------------------------------------------------------------------
# A restricted asset's URLs carry an expiry and an HMAC, so an <img> tag or a mobile
# client can fetch them without a session; the expiry is bucketed so URLs stay the same
# (cacheable) for a while. Without a valid signature the view checks the viewer instead.


def _signature(key: str, variant: str, expires: int) -> str:
    return salted_hmac(_SIGNING_SALT, f"{key}/{variant}/{expires}").hexdigest()[:40]


def signature_is_valid(*, key, variant: str, expires: str, signature: str) -> bool:
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at < time.time():
        return False
    return constant_time_compare(_signature(str(key), variant, expires_at), signature or "")


def media_url(asset: MediaAsset, variant: str) -> str:
    url = reverse("api:media-file", kwargs={"key": asset.key, "variant": variant})
    if not is_restricted(asset):
        return url
    ttl = settings.MEDIA_SIGNED_URL_SECONDS
    expires = (int(time.time()) // ttl + 2) * ttl
    return f"{url}?expires={expires}&signature={_signature(str(asset.key), variant, expires)}"


# Renditions pages and payloads show: avatars are small, backgrounds, covers and post
# images fill a column.
AVATAR_SIZE = "320"
LARGE_SIZE = "1280"


def image_url(asset: MediaAsset | None, size: str) -> str:
    """The URL of a ready image's ``size`` rendition (its full-size one if it has no
    such thumbnail), or "" while there is none: no image, still processing or failed,
    so nothing ever links to a file that is not there. Needs ``asset.room`` loaded
    (select_related) when the asset belongs to a room."""
    if asset is None or asset.state != MediaAsset.State.READY:
        return ""
    return media_url(asset, size if size in asset.thumbnails else VARIANT_ORIGINAL)


def member_avatar_url(membership: Membership) -> str | None:
    """A member's room avatar (320 px), or None. The asset belongs to the member's room:
    a room already loaded on the membership is reused rather than queried again."""
    if membership.avatar_media_id is None:
        return None
    asset = membership.avatar_media
    if (
        asset.room_id == membership.room_id
        and Membership.room.is_cached(membership)
        and not MediaAsset.room.is_cached(asset)
    ):
        asset.room = membership.room
    return image_url(asset, AVATAR_SIZE) or None


def media_payload(asset: MediaAsset | None) -> dict | None:
    """What a client needs to show an asset progressively: the placeholder at once, the
    thumbnail that fits once ``state`` is ``ready``. Embedded by messages, profiles,
    rooms and status posts. Needs ``asset.room`` loaded (select_related) for URLs."""
    if asset is None:
        return None
    ready = asset.state == MediaAsset.State.READY
    payload = {
        "id": asset.pk,
        "kind": asset.kind,
        "state": asset.state,
        "failure_reason": asset.failure_reason if asset.state == MediaAsset.State.FAILED else "",
        "content_type": asset.content_type,
        "width": asset.width,
        "height": asset.height,
        "duration": asset.duration_seconds,
        "is_animated": asset.is_animated,
        "placeholder": asset.placeholder,
        "url": media_url(asset, VARIANT_ORIGINAL) if ready else None,
        "poster_url": media_url(asset, VARIANT_POSTER) if ready and asset.poster_name else None,
        "thumbnails": {
            size: {
                "url": media_url(asset, size),
                "width": entry["width"],
                "height": entry["height"],
            }
            for size, entry in (asset.thumbnails.items() if ready else ())
        },
    }
    return payload


def stale_asset_ids(*, before) -> list[tuple[int, int]]:
    """(id, attempts) of assets still pending/processing that were created ``before``."""
    return list(
        MediaAsset.objects.filter(
            state__in=[MediaAsset.State.PENDING, MediaAsset.State.PROCESSING],
            created_at__lt=before,
        )
        .order_by("pk")
        .values_list("pk", "attempts")[:500]
    )


def unused_upload_ids(*, before) -> list[int]:
    """Processed uploads from before ``before`` that nothing shows: no room, no message,
    not an avatar, background, cover or status-post image."""

    asset = OuterRef("pk")
    return list(
        MediaAsset.objects.filter(
            room__isnull=True,
            created_at__lt=before,
            state__in=[MediaAsset.State.READY, MediaAsset.State.FAILED],
        )
        .exclude(Exists(Message.objects.filter(media=asset)))
        .exclude(Exists(Profile.objects.filter(Q(avatar_media=asset) | Q(background_media=asset))))
        .exclude(Exists(StatusPost.objects.filter(image_media=asset)))
        .exclude(Exists(Room.objects.filter(cover_media=asset)))
        .exclude(Exists(Membership.objects.filter(avatar_media=asset)))
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )


def asset_is_shown(*, asset_id: int) -> bool:
    """Whether anything still shows the asset: a message, a profile, a status post, a
    room cover or a member's room avatar."""

    return (
        Message.objects.filter(media_id=asset_id).exists()
        or asset_is_shown_outside_rooms(asset_id=asset_id)
        or Room.objects.filter(cover_media_id=asset_id).exists()
        or Membership.objects.filter(avatar_media_id=asset_id).exists()
    )


def asset_is_shown_outside_rooms(*, asset_id: int) -> bool:
    """Whether a profile or status post shows the asset (it must then stay public)."""

    shown_on_profile = Profile.objects.filter(
        Q(avatar_media_id=asset_id) | Q(background_media_id=asset_id)
    ).exists()
    return shown_on_profile or StatusPost.objects.filter(image_media_id=asset_id).exists()
