"""Writes for media assets: accept an upload, process it, attach it where it is used.

The flow: :func:`create_media_asset` sniffs the bytes, checks the size limit for the
detected kind, stores the upload privately and queues ``process_media_asset`` after
commit. The task calls :func:`claim_media_asset` (pending → processing), the pixel
work in ``community.media.processing``, then :func:`finish_media_asset` (→ ready, with
every derived file) or :func:`fail_media_asset` (→ failed, with a reason). Messages
that show the asset get ``message.updated`` when it is ready or failed.
"""

import logging
import os
import shutil
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import storages
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from community import access
from community.media.models import MediaAsset
from community.media.processing import (
    ImageResult,
    MediaRejected,
    check_image,
    quick_preview,
    render_image,
    render_video,
)
from community.media.selectors import (
    asset_is_shown,
    asset_is_shown_outside_rooms,
    stale_asset_ids,
    unused_upload_ids,
)
from community.media.signals import media_changed
from community.media.types import BY_CONTENT_TYPE, MediaType, sniff_file
from community.rooms.models import Membership, Room
from config.errors import DomainError, NotFoundError, PermissionDeniedError
from profiles.models import Profile, StatusPost, User

logger = logging.getLogger(__name__)

FAILURE_REASON_MAX = 300


class UnsupportedMediaError(DomainError):
    status = 415
    code = "unsupported_media_type"


class MediaTooLargeError(DomainError):
    status = 413
    code = "file_too_large"


def media_storage():
    """The private storage every asset file lives in (``STORAGES["media"]``)."""
    return storages["media"]


def _size_limit(kind: str) -> int:
    if kind == MediaAsset.Kind.VIDEO:
        return settings.MEDIA_VIDEO_MAX_BYTES
    return settings.MEDIA_IMAGE_MAX_BYTES


def check_upload(*, file, kinds: tuple[str, ...] = ("image", "video")) -> MediaType:
    """The detected type of ``file``, or a 4xx error: unknown bytes, wrong kind, too big."""
    if file is None:
        raise DomainError(_("Choose a file to upload."), fields={"file": [_("Required.")]})
    media_type = sniff_file(file)
    if media_type is None or media_type.kind not in kinds:
        accepted = []
        if "image" in kinds:
            accepted.append("JPEG, PNG, GIF, WebP, AVIF, HEIC")
        if "video" in kinds:
            accepted.append("MP4, WebM, MOV")
        raise UnsupportedMediaError(
            _("This kind of file is not supported. Upload %(accepted)s.")
            % {"accepted": ", ".join(accepted)},
            fields={"file": [_("Unsupported file type.")]},
        )
    limit = _size_limit(media_type.kind)
    if file.size > limit:
        raise MediaTooLargeError(
            _("The file is too large: %(kind)s uploads are limited to %(size)s.")
            % {"kind": media_type.get_kind_display(), "size": filesizeformat(limit)},
            fields={"file": [_("Too large.")]},
        )
    if media_type.kind == "image":
        # The signature alone is three bytes: Pillow must be able to open what follows,
        # else the upload is refused here and nothing is stored.
        try:
            check_image(file, media_type=media_type)
        except MediaRejected as rejected:
            raise UnsupportedMediaError(
                rejected.reason, fields={"file": [_("Not a valid image.")]}
            ) from rejected
    return media_type


def new_asset(*, file, media_type: MediaType, owner_id: int, room: Room | None) -> MediaAsset:
    """An unsaved asset for a checked upload, with its upright size and (for JPEG) its
    placeholder already, so it can be shown before processing."""
    preview = quick_preview(
        file,
        media_type=media_type,
        max_pixels=settings.MEDIA_MAX_IMAGE_PIXELS,
        max_side=settings.MEDIA_MAX_STORED_SIDE,
    )
    return MediaAsset(
        owner_id=owner_id,
        room=room,
        kind=media_type.kind,
        content_type=media_type.content_type,
        original_content_type=media_type.content_type,
        size_bytes=file.size,
        width=preview.width,
        height=preview.height,
        placeholder=preview.placeholder,
    )


def create_media_asset(
    *,
    owner: User,
    file,
    room: Room | None = None,
    kinds: tuple[str, ...] = ("image", "video"),
) -> MediaAsset:
    """Check and store an upload, and queue its processing after commit."""
    media_type = check_upload(file=file, kinds=kinds)
    asset = new_asset(file=file, media_type=media_type, owner_id=owner.pk, room=room)
    # The stored name comes from the detected type, never the client's file name.
    file.seek(0)
    asset.original_name = media_storage().save(
        f"{asset.storage_prefix}/upload.{media_type.extension}", File(file)
    )
    try:
        with transaction.atomic():
            asset.save()
            queue_processing(asset_id=asset.pk)
    except Exception:
        media_storage().delete(asset.original_name)
        raise
    return asset


def queue_processing(*, asset_id: int) -> None:
    """Process the asset in a worker once this transaction commits."""
    # Imported here: the task module imports this one (the task calls back into it).
    from community.media import tasks

    tasks.process_media_asset.delay_on_commit(asset_id)


# --- Processing (called by the task) ---------------------------------------------------


# Translated where it is stored (the failure reason shown to the uploader).
GAVE_UP_REASON = gettext_noop("Processing failed; please upload the file again.")


@transaction.atomic
def claim_media_asset(*, asset_id: int) -> MediaAsset | None:
    """Mark the asset processing and count the attempt; ``None`` when it is gone or
    already done (idempotent). The attempt cap is enforced here, on every delivery:
    an asset already tried ``MEDIA_MAX_ATTEMPTS`` times ends ``failed`` instead (a
    file that kills the worker comes back through redelivery, never through the
    task's own retries, so only the claim sees every attempt)."""
    asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
    if asset is None or asset.state in (MediaAsset.State.READY, MediaAsset.State.FAILED):
        return None
    if asset.attempts >= settings.MEDIA_MAX_ATTEMPTS:
        fail_media_asset(asset_id=asset.pk, reason=_(GAVE_UP_REASON))
        return None
    asset.state = MediaAsset.State.PROCESSING
    asset.attempts += 1
    asset.save(update_fields=["state", "attempts"])
    return asset


def process_media_asset(*, asset_id: int) -> MediaAsset | None:
    """Do the whole processing of one asset. Storage errors propagate (the task retries)."""
    asset = claim_media_asset(asset_id=asset_id)
    if asset is None:
        return None
    media_type = BY_CONTENT_TYPE[asset.content_type]
    storage = media_storage()
    try:
        if asset.kind == MediaAsset.Kind.IMAGE:
            with storage.open(asset.original_name, "rb") as source:
                result = render_image(
                    source,
                    media_type=media_type,
                    sizes=settings.MEDIA_THUMBNAIL_SIZES,
                    max_pixels=settings.MEDIA_MAX_IMAGE_PIXELS,
                    max_frames=settings.MEDIA_MAX_ANIMATION_FRAMES,
                    max_side=settings.MEDIA_MAX_STORED_SIDE,
                )
            return _store_image(asset, result)
        return _process_video(asset, media_type)
    except MediaRejected as rejected:
        return fail_media_asset(asset_id=asset.pk, reason=rejected.reason)


def _save_rendition(asset: MediaAsset, name: str, data: bytes) -> str:
    storage = media_storage()
    path = f"{asset.storage_prefix}/{name}"
    # Re-runs (retries) overwrite rather than pile up suffixed copies.
    if storage.exists(path):
        storage.delete(path)
    return storage.save(path, ContentFile(data))


def _thumbnail_entries(asset: MediaAsset, result: ImageResult, stem: str) -> dict:
    entries, names_by_rendition = {}, {}
    for size, rendition in result.thumbnails.items():
        key = id(rendition)
        if key not in names_by_rendition:
            names_by_rendition[key] = _save_rendition(
                asset, f"{stem}-{rendition.width}x{rendition.height}.webp", rendition.data
            )
        entries[str(size)] = {
            "name": names_by_rendition[key],
            "width": rendition.width,
            "height": rendition.height,
        }
    return entries


def _store_image(asset: MediaAsset, result: ImageResult) -> MediaAsset | None:
    asset_id, upload_name = asset.pk, asset.original_name
    full_name = _save_rendition(asset, "original.webp", result.full.data)
    thumbnails = _thumbnail_entries(asset, result, "thumb")
    asset = finish_media_asset(
        asset_id=asset.pk,
        original_name=full_name,
        original_content_type="image/webp",
        thumbnails=thumbnails,
        width=result.width,
        height=result.height,
        is_animated=result.is_animated,
        placeholder=result.placeholder,
    )
    written = [full_name, *(entry["name"] for entry in thumbnails.values())]
    _delete_after_finish(asset, asset_id=asset_id, upload_name=upload_name, written=written)
    return asset


def _delete_after_finish(
    asset: MediaAsset | None, *, asset_id: int, upload_name: str, written: list[str]
):
    """Ready: the raw upload goes (it still carries EXIF/GPS; only the stripped
    renditions are kept). Deleted or already finished meanwhile: what was just
    written goes instead, except files the asset shows (a redelivered run that
    overlapped another wrote the same names: those are the ready asset's files)."""
    if asset is not None:
        names = [upload_name]
    else:
        current = MediaAsset.objects.filter(pk=asset_id).first()
        shown = set(current.stored_names) if current is not None else set()
        names = sorted(set(written) - shown)

    def delete():
        storage = media_storage()
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete)


def _process_video(asset: MediaAsset, media_type: MediaType) -> MediaAsset | None:
    storage = media_storage()
    workdir = tempfile.mkdtemp(prefix="moim-video-")
    try:
        source_path = os.path.join(workdir, f"source.{media_type.extension}")
        with storage.open(asset.original_name, "rb") as source, open(source_path, "wb") as local:
            shutil.copyfileobj(source, local, length=1024 * 1024)
        stripped_path = os.path.join(workdir, f"video.{media_type.extension}")
        result = render_video(
            source_path,
            media_type=media_type,
            sizes=settings.MEDIA_THUMBNAIL_SIZES,
            max_pixels=settings.MEDIA_MAX_IMAGE_PIXELS,
            stripped_path=stripped_path,
            ffmpeg=settings.MEDIA_FFMPEG,
            ffprobe=settings.MEDIA_FFPROBE,
            timeout=settings.MEDIA_FFMPEG_TIMEOUT_SECONDS,
        )
        asset_id, upload_name = asset.pk, asset.original_name
        video_path = f"{asset.storage_prefix}/video.{media_type.extension}"
        if storage.exists(video_path):
            storage.delete(video_path)
        with open(stripped_path, "rb") as stripped:
            video_name = storage.save(video_path, File(stripped))
        poster_name = _save_rendition(asset, "poster.webp", result.poster.full.data)
        thumbnails = _thumbnail_entries(asset, result.poster, "poster")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    asset = finish_media_asset(
        asset_id=asset.pk,
        original_name=video_name,
        original_content_type=media_type.content_type,
        thumbnails=thumbnails,
        width=result.poster.width,
        height=result.poster.height,
        placeholder=result.poster.placeholder,
        poster_name=poster_name,
        duration_seconds=result.duration_seconds,
    )
    written = [video_name, poster_name, *(entry["name"] for entry in thumbnails.values())]
    _delete_after_finish(asset, asset_id=asset_id, upload_name=upload_name, written=written)
    return asset


@transaction.atomic
def finish_media_asset(
    *,
    asset_id: int,
    original_name: str,
    original_content_type: str,
    thumbnails: dict,
    width: int,
    height: int,
    placeholder: str,
    is_animated: bool = False,
    poster_name: str = "",
    duration_seconds: float | None = None,
) -> MediaAsset | None:
    asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
    if asset is None or asset.state != MediaAsset.State.PROCESSING:
        return None
    asset.original_name = original_name
    asset.original_content_type = original_content_type
    asset.thumbnails = thumbnails
    asset.width, asset.height = width, height
    asset.placeholder = placeholder
    asset.is_animated = is_animated
    asset.poster_name = poster_name
    asset.duration_seconds = duration_seconds
    asset.state = MediaAsset.State.READY
    asset.failure_reason = ""
    asset.processed_at = timezone.now()
    asset.save(
        update_fields=[
            "original_name",
            "original_content_type",
            "thumbnails",
            "width",
            "height",
            "placeholder",
            "is_animated",
            "poster_name",
            "duration_seconds",
            "state",
            "failure_reason",
            "processed_at",
        ]
    )
    _announce_media_change(asset)
    return asset


@transaction.atomic
def fail_media_asset(*, asset_id: int, reason: str) -> MediaAsset | None:
    asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
    if asset is None or asset.state == MediaAsset.State.READY:
        return None
    # Nothing that failed is served, and the raw upload may carry EXIF/GPS: drop it.
    upload_name = asset.original_name
    asset.state = MediaAsset.State.FAILED
    asset.failure_reason = reason[:FAILURE_REASON_MAX]
    asset.original_name = ""
    asset.processed_at = timezone.now()
    asset.save(update_fields=["state", "failure_reason", "original_name", "processed_at"])
    if upload_name:
        transaction.on_commit(lambda: media_storage().delete(upload_name))
    logger.info("media asset %s failed: %s", asset_id, asset.failure_reason)
    _announce_media_change(asset)
    return asset


@transaction.atomic
def remove_media_asset(*, asset_id: int, reason: str) -> MediaAsset | None:
    """Take an asset down (moderation): its files are deleted after commit, it ends
    ``failed`` with ``reason``, and rooms showing it get ``message.updated``."""
    asset = MediaAsset.objects.select_for_update().filter(pk=asset_id).first()
    if asset is None:
        return None
    names = asset.stored_names
    asset.state = MediaAsset.State.FAILED
    asset.failure_reason = reason[:FAILURE_REASON_MAX]
    asset.thumbnails = {}
    asset.original_name = asset.poster_name = asset.placeholder = ""
    asset.processed_at = timezone.now()
    asset.save(
        update_fields=[
            "state",
            "failure_reason",
            "thumbnails",
            "original_name",
            "poster_name",
            "placeholder",
            "processed_at",
        ]
    )

    def delete_files():
        storage = media_storage()
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
    _announce_media_change(asset)
    return asset


def delete_media_asset(*, asset_id: int) -> bool:
    """Delete an asset row; its files follow after commit (``post_delete``)."""
    deleted, _rows = MediaAsset.objects.filter(pk=asset_id).delete()
    return bool(deleted)


def sweep_media_assets() -> dict[str, int]:
    """Periodic upkeep: re-queue assets stuck pending/processing (a lost broker message,
    a killed worker), fail those that keep getting stuck, and delete uploads that were
    never used anywhere. Returns counts."""

    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.MEDIA_STALE_SECONDS)
    requeued = failed = deleted = 0
    for asset_id, attempts in stale_asset_ids(before=stale_before):
        if attempts >= settings.MEDIA_MAX_ATTEMPTS:
            fail_media_asset(asset_id=asset_id, reason=_(GAVE_UP_REASON))
            failed += 1
        else:
            with transaction.atomic():
                queue_processing(asset_id=asset_id)
            requeued += 1
    unused_before = now - timedelta(hours=settings.MEDIA_UNUSED_UPLOAD_HOURS)
    for asset_id in unused_upload_ids(before=unused_before):
        deleted += delete_media_asset(asset_id=asset_id)
    return {"requeued": requeued, "failed": failed, "deleted": deleted}


def _announce_media_change(asset: MediaAsset) -> None:
    """The asset's state or renditions changed (in this transaction): chat, which shows
    it in messages, listens (``media_changed``) and sends ``message.updated``."""
    media_changed.send(sender=MediaAsset, asset=asset)


# --- Using an asset -----------------------------------------------------------------


class MediaUse:
    AVATAR = "avatar"
    BACKGROUND = "background"
    ROOM_COVER = "room_cover"
    STATUS_POST = "status_post"
    # A member's avatar in one room (``target_id``: the room), shown with their nickname.
    MEMBER_AVATAR = "member_avatar"
    ALL = (AVATAR, BACKGROUND, ROOM_COVER, STATUS_POST, MEMBER_AVATAR)


def _check_image_asset(*, user: User, asset_id: int) -> MediaAsset:
    """An image ``user`` uploaded that did not fail, locked for the change."""
    asset = MediaAsset.objects.select_for_update().filter(pk=asset_id, owner=user).first()
    if asset is None:
        raise NotFoundError(_("No such upload."))
    if asset.kind != MediaAsset.Kind.IMAGE:
        raise DomainError(
            _("Only an image can be used here."), fields={"media_id": [_("Not an image.")]}
        )
    if asset.state == MediaAsset.State.FAILED:
        raise DomainError(
            _("This upload could not be processed: %(reason)s") % {"reason": asset.failure_reason},
            fields={"media_id": [asset.failure_reason]},
        )
    return asset


def bind_to_room(*, asset: MediaAsset, room: Room) -> None:
    """Make ``asset`` one room's (a private room's rules then apply to it). An image
    already on a profile or status post stays there: binding it would hide it from
    everyone else, and one file in both places would tie an open profile to its owner."""

    if asset.room_id not in (None, room.pk) or (
        asset.room_id is None and asset_is_shown_outside_rooms(asset_id=asset.pk)
    ):
        raise DomainError(
            _("This upload is already used elsewhere; upload it again."),
            fields={"media_id": [_("Used elsewhere.")]},
        )
    if asset.room_id is None:
        asset.room = room
        asset.save(update_fields=["room"])


def _check_not_room_bound(asset: MediaAsset) -> None:
    if asset.room_id is not None:
        raise DomainError(
            _("An image posted in a room cannot be a profile picture."),
            fields={"media_id": [_("Invalid.")]},
        )


@transaction.atomic
def use_media_asset(
    *, user: User, asset_id: int, target: str, target_id: int | None = None
) -> MediaAsset:
    """Make an uploaded image the user's avatar or background, a room's cover (hosts),
    a status post's image (its author) or the user's avatar in one room (a member).
    A pending image may be used at once: the payloads show its placeholder, then its
    thumbnails. The image it replaces is deleted when nothing else shows it."""

    if target not in MediaUse.ALL:
        raise DomainError(_("Unknown use."), fields={"target": [_("Invalid.")]})
    if target in (MediaUse.ROOM_COVER, MediaUse.MEMBER_AVATAR):
        # Room first, then the asset: the order every room write takes.
        room = Room.objects.select_for_update().filter(pk=target_id).first()
        membership = (
            Membership.objects.filter(room=room, user=user, state=Membership.State.ACTIVE).first()
            if room
            else None
        )
        if target == MediaUse.MEMBER_AVATAR:
            if membership is None:
                raise NotFoundError(_("You are not a member of this room."))
            holder, field = membership, "avatar_media"
        else:
            if not access.can_edit_room(membership=membership):
                raise PermissionDeniedError(_("Only the room's hosts can change its cover."))
            holder, field = room, "cover_media"
        asset = _check_image_asset(user=user, asset_id=asset_id)
        bind_to_room(asset=asset, room=room)
    elif target == MediaUse.STATUS_POST:
        holder = StatusPost.objects.select_for_update().filter(pk=target_id, author=user).first()
        if holder is None:
            raise NotFoundError(_("No such post."))
        field = "image_media"
        asset = _check_image_asset(user=user, asset_id=asset_id)
        _check_not_room_bound(asset)
    else:
        holder = Profile.objects.select_for_update().get(user=user)
        field = "avatar_media" if target == MediaUse.AVATAR else "background_media"
        asset = _check_image_asset(user=user, asset_id=asset_id)
        _check_not_room_bound(asset)
    replaced_id = getattr(holder, f"{field}_id")
    setattr(holder, field, asset)
    holder.save(update_fields=[field])
    if replaced_id != asset.pk:
        release_media_asset(asset_id=replaced_id)
    return asset


@transaction.atomic
def upload_image_for(
    *, user: User, file, target: str, target_id: int | None = None, field: str = "file"
) -> MediaAsset:
    """The one-step form of upload + use, for forms and multipart endpoints that take
    an image with other changes (``PATCH /me/`` avatar, a status post, a room cover, a
    member avatar): the type is sniffed from the bytes, the upload stored privately, the
    asset used at ``target`` like :func:`use_media_asset`, and processing queued for when
    the caller's transaction commits. Upload errors name ``field``."""
    try:
        check_upload(file=file, kinds=("image",))
    except DomainError as exc:
        exc.fields = {field: exc.fields.get("file") or [exc.message]}
        raise
    asset = create_media_asset(owner=user, file=file, kinds=("image",))
    try:
        return use_media_asset(user=user, asset_id=asset.pk, target=target, target_id=target_id)
    except Exception:
        # The row rolls back; the stored upload would stay behind.
        media_storage().delete(asset.original_name)
        raise


def release_media_asset(*, asset_id: int | None) -> bool:
    """Delete an asset nothing shows any more (a replaced avatar, a deleted post's
    image, a deleted account's pictures); its files follow after commit. Returns
    whether it was deleted."""

    if asset_id is None or asset_is_shown(asset_id=asset_id):
        return False
    return delete_media_asset(asset_id=asset_id)
