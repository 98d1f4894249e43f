"""Reactions on messages, profile status posts and rooms, and their per-emoji counters.

One table for all three targets, with one nullable foreign key per target kind and a
check constraint that exactly one is set, rather than a generic (type, id) pair: the
foreign keys keep referential integrity and cascade (a deleted room, message or status
post takes its reactions with it, no orphans to sweep), ``select_related`` works, and
the partial unique indexes stay small. Code addresses targets generically through
:class:`ReactionTarget` (``"message"``, ``"status_post"``, ``"room"``), which names the
column to filter on.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from community.reactions.emoji import EMOJI_MAX_LENGTH


class ReactionTarget(models.TextChoices):
    MESSAGE = "message", _("Message")
    STATUS_POST = "status_post", _("Status post")
    ROOM = "room", _("Room")

    @property
    def field(self) -> str:
        """The foreign key column on :class:`Reaction` and :class:`ReactionCount`."""
        return f"{self.value}_id"


def _exactly_one_target() -> Q:
    message, status_post, room = (Q(**{f"{kind}__isnull": False}) for kind in ReactionTarget)
    return (
        (message & ~status_post & ~room)
        | (~message & status_post & ~room)
        | (~message & ~status_post & room)
    )


def _per_target_unique(model_name: str, *extra: str) -> list[models.UniqueConstraint]:
    return [
        models.UniqueConstraint(
            fields=[kind.value, *extra],
            condition=Q(**{f"{kind.value}__isnull": False}),
            name=f"{model_name}_unique_per_{kind.value}",
        )
        for kind in ReactionTarget
    ]


class TargetColumns(models.Model):
    message = models.ForeignKey(
        "community.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status_post = models.ForeignKey(
        "profiles.StatusPost", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    room = models.ForeignKey(
        "community.Room", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def target_type(self) -> ReactionTarget:
        for kind in ReactionTarget:
            if getattr(self, kind.field) is not None:
                return kind
        raise ValueError("reaction without a target")

    @property
    def target_id(self) -> int:
        return getattr(self, self.target_type.field)


class Reaction(TargetColumns):
    """One user's one emoji on one target."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    # For message and room reactions: who reacted as the room knows them (their
    # nickname), so "who reacted" never needs, or leaks, the account.
    membership = models.ForeignKey(
        "community.Membership",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reactions",
    )
    emoji = models.CharField(_("emoji"), max_length=EMOJI_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_exactly_one_target(), name="reaction_one_target"),
            *_per_target_unique("reaction", "user", "emoji"),
        ]
        indexes = [
            # "Who reacted with X", newest first, per target kind.
            models.Index(fields=["message", "emoji", "-id"], name="reaction_who_message"),
            models.Index(fields=["status_post", "emoji", "-id"], name="reaction_who_status"),
            models.Index(fields=["room", "emoji", "-id"], name="reaction_who_room"),
        ]
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.target_type.value} {self.target_id}"


class ReactionCount(TargetColumns):
    """The number of users who put ``emoji`` on one target, kept by the reaction services.

    Updated with ``F("count") ± 1`` in the same transaction as the reaction row, so the
    row lock that UPDATE takes serialises concurrent reactors and every count is exact.
    Rows that fall to zero are kept (and skipped by readers): deleting them would race
    a concurrent first reaction's insert-then-increment and lose its count.
    """

    emoji = models.CharField(max_length=EMOJI_MAX_LENGTH)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_exactly_one_target(), name="reactioncount_one_target"
            ),
            *_per_target_unique("reactioncount", "emoji"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} ×{self.count} on {self.target_type.value} {self.target_id}"
