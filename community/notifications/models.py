"""Mentions, in-app notifications and notification preferences."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageMention(models.Model):
    """``@nickname`` in a message, resolved (by room nickname only) to a membership."""

    message = models.ForeignKey(
        "community.Message", on_delete=models.CASCADE, related_name="mentions"
    )
    membership = models.ForeignKey(
        "community.Membership", on_delete=models.CASCADE, related_name="mentions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "membership"], name="mention_once"),
        ]
        # Unread mention counts read a member's mentions past their read marker.
        indexes = [models.Index(fields=["membership", "message"])]

    def __str__(self) -> str:
        return f"mention of {self.membership_id} in {self.message_id}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        MENTION = "mention", _("Mention")
        REPLY = "reply", _("Reply")
        REACTION = "reaction", _("Reaction")
        FOLLOWER = "follower", _("New follower")
        JOIN_REQUEST = "join_request", _("Join request")
        JOIN_DECISION = "join_decision", _("Join request answered")
        TIP = "tip", _("Tip received")
        PAYOUT = "payout", _("Payout settled")
        MODERATION = "moderation", _("Moderation outcome")
        MEMBERSHIP_LAPSED = "membership_lapsed", _("Paid membership ended")
        MEETUP_REMINDER = "meetup_reminder", _("Meetup reminder")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    room = models.ForeignKey(
        "community.Room", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        "community.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Grouping key: reactions to one target share one row ("message:12", "status:3");
    # or what a notification made once stands for ("tip:7": a tip notifies once).
    target_key = models.CharField(max_length=40, blank=True, default="")
    # The actors as the recipient may see them (a room nickname inside a room), newest
    # first, at most a few; ``count`` is how many events the row stands for.
    actor_labels = models.JSONField(default=list, blank=True)
    count = models.PositiveIntegerField(default=1)
    # Kind-specific details (amount, outcome, excerpt...), never a hidden main name.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set once the email digest included it: a notification is emailed at most once.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "target_key"],
                condition=~Q(target_key=""),
                name="notification_grouped_per_target",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"]),
            models.Index(
                fields=["recipient", "read_at"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


class NotificationSettings(models.Model):
    """A user's notification preferences; a missing row means the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    # Kinds the user turned off: no notification of these is created.
    muted_kinds = models.JSONField(default=list, blank=True)
    email_digest = models.BooleanField(_("email me unread mentions and replies"), default=True)
    # Local times in the user's time zone; equal or empty means no quiet hours.
    quiet_hours_start = models.TimeField(_("quiet hours start"), null=True, blank=True)
    quiet_hours_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    # Push notifications show what was said (off: only who and where, for a lock screen).
    push_previews = models.BooleanField(_("show message text in push notifications"), default=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"notification settings of {self.user_id}"


class RoomNotificationLevel(models.Model):
    """Per-room preference; a missing row means ``all``."""

    class Level(models.TextChoices):
        ALL = "all", _("All messages")
        MENTIONS = "mentions", _("Mentions and replies only")
        MUTED = "muted", _("Muted")

    membership = models.OneToOneField(
        "community.Membership", on_delete=models.CASCADE, related_name="notification_level"
    )
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.ALL)

    def __str__(self) -> str:
        return f"{self.level} for {self.membership_id}"
