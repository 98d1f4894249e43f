"""Link previews: one cached row per URL, and which message shows which preview."""

import uuid

from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _


class LinkPreview(models.Model):
    """What a web page says about itself (Open Graph, else its <title> and description),
    fetched once per URL by ``community.links.services`` and reused by every message
    that links it until it is stale (``LINK_PREVIEW_TTL_SECONDS``).

    The page's image is never hot-linked: it is fetched through the same guarded client,
    re-encoded as a small WebP and stored in the media storage (``image_name``), served
    by ``/api/v1/link-previews/<key>/image/``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        FETCHING = "fetching", _("Fetching")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    # The URL as linked (normalised: scheme and host lower-cased, no fragment);
    # ``url_hash`` (its SHA-256) is the unique key, as URLs can be long.
    url = models.URLField(max_length=2048)
    url_hash = models.CharField(max_length=64, unique=True)
    # The public handle of the stored image in URLs: not guessable, unlike the id.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Why there is no preview (a short code: "blocked_address", "timeout", "too_large"…).
    failure_reason = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300, blank=True)
    description = models.CharField(max_length=500, blank=True)
    site_name = models.CharField(max_length=100, blank=True)
    image_name = models.CharField(max_length=300, blank=True)
    image_width = models.PositiveIntegerField(null=True, blank=True)
    image_height = models.PositiveIntegerField(null=True, blank=True)
    # When the current fetch was claimed (a claim older than the fetch's time limit
    # belongs to a worker that died and may be taken over).
    claimed_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("Link preview")
        verbose_name_plural = _("Link previews")

    def __str__(self) -> str:
        return f"{self.url} ({self.status})"


class MessageLink(models.Model):
    """The preview a message shows: the first http(s) URL of its text."""

    message = models.OneToOneField(
        "community.Message", on_delete=models.CASCADE, related_name="link"
    )
    preview = models.ForeignKey(LinkPreview, on_delete=models.CASCADE, related_name="links")
    # False while the preview was not fetched yet: the fetch that finishes it sends the
    # message's ``message.updated`` and sets it.
    announced = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["preview"],
                condition=models.Q(announced=False),
                name="messagelink_unannounced",
            )
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} → {self.preview_id}"


@receiver(post_delete, sender=LinkPreview)
def delete_image_with_the_row(sender, instance: LinkPreview, **kwargs) -> None:
    """A preview deleted (the admin) takes its stored image along, once committed."""
    name = instance.image_name
    if not name:
        return

    def delete_image():
        from django.core.files.storage import storages

        storages["media"].delete(name)

    transaction.on_commit(delete_image)
