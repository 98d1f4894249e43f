import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _


class MediaAsset(models.Model):
    """An uploaded image or video and everything derived from it.

    Files live in the ``media`` storage (private: local disk outside MEDIA_ROOT, or an S3
    prefix) under ``assets/<key>/``, and are only ever served by the permission-checked
    media view. Names are kept as plain strings so the storage is looked up at run time
    (tests and deployments swap it through ``STORAGES``).

    ``original_name`` first holds the upload exactly as received. Processing replaces it
    with a metadata-free rendition (images: full-size WebP, upright; video: the same
    streams remuxed without container metadata), so no stored file keeps EXIF or GPS.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    # The public handle in URLs and storage paths: not guessable, unlike the id.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_assets"
    )
    # Set when the media belongs to a room (messages, covers): a private room's media
    # is served only to its members. Deleting the room deletes its media.
    room = models.ForeignKey(
        "community.Room",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="media_assets",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    # Detected from the bytes at upload time, never from the name or the client.
    content_type = models.CharField(max_length=40)
    size_bytes = models.PositiveBigIntegerField(default=0)
    original_name = models.CharField(max_length=300)
    original_content_type = models.CharField(max_length=40, blank=True)
    # {"320": {"name", "width", "height"}, "720": ..., "1280": ...}: WebP, long side
    # at most that many pixels (never upscaled; small images share one file).
    thumbnails = models.JSONField(default=dict, blank=True)
    poster_name = models.CharField(max_length=300, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # Animated GIF/WebP stay animated: the thumbnails are animated WebP.
    is_animated = models.BooleanField(default=False)
    # A 16-pixel-wide WebP as a data: URI, shown blurred while the real image loads.
    placeholder = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.state})"

    @property
    def storage_prefix(self) -> str:
        return f"assets/{self.key}"

    @property
    def stored_names(self) -> list[str]:
        names = {self.original_name, self.poster_name}
        names |= {entry["name"] for entry in self.thumbnails.values()}
        return sorted(name for name in names if name)


@receiver(post_delete, sender=MediaAsset)
def delete_files_with_the_row(sender, instance: MediaAsset, **kwargs) -> None:
    """However a row goes (a deleted room or account cascades here too), its files
    follow once the deletion is committed."""
    names = instance.stored_names
    if not names:
        return

    def delete_files():
        from django.core.files.storage import storages

        storage = storages["media"]
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
