from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        SYSTEM = "system", _("System")
        # A message that carries a poll, a meetup or a tip (their own rows point at it).
        POLL = "poll", _("Poll")
        MEETUP = "meetup", _("Meetup")
        TIP = "tip", _("Tip")

    room = models.ForeignKey("community.Room", on_delete=models.CASCADE, related_name="messages")
    # Null for system messages.
    author = models.ForeignKey(
        "community.Membership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(max_length=settings.MESSAGE_MAX_LENGTH, blank=True)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    # The sender's own id for the message, so a retried send is stored once.
    client_id = models.CharField(max_length=64, blank=True)
    # The image or video of an image/video message (its caption is ``body``).
    media = models.ForeignKey(
        "community.MediaAsset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    # Per-room, gap-free, increasing: the cursor for history and resync.
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # A tombstone keeps the order; the content is hidden.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_seq_unique_per_room"),
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=~Q(client_id=""),
                name="message_client_id_unique_per_author",
            ),
        ]
        indexes = [
            # Slow mode looks up a member's latest message.
            models.Index(fields=["author", "-seq"], name="message_author_latest"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in {self.room_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class MessageEdit(models.Model):
    """The body a message had before an edit (append-only history)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    previous_body = models.TextField()
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"edit of {self.message_id} at {self.edited_at:%Y-%m-%d %H:%M}"
