"""Polls: a poll message's options and its members' votes.

The question is the message's body (edits, replies, reactions and deletion are the
message's). Tallies are counters kept under the poll's row lock, so a page of messages
reads them without counting votes.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Poll(models.Model):
    message = models.OneToOneField(
        "community.Message", on_delete=models.CASCADE, related_name="poll"
    )
    allows_multiple = models.BooleanField(_("multiple choice"), default=False)
    # Anonymous: nobody (the author and hosts included) learns who voted for what.
    is_anonymous = models.BooleanField(_("anonymous"), default=True)
    # None: open until its author or a host closes it.
    closes_at = models.DateTimeField(_("closes at"), null=True, blank=True)
    # Set when it was closed early, or by the closing task at ``closes_at``.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    voter_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("poll")
        verbose_name_plural = _("polls")
        indexes = [
            # The closing sweep looks for open polls whose time has come.
            models.Index(
                fields=["closes_at"],
                condition=models.Q(closed_at__isnull=True, closes_at__isnull=False),
                name="poll_due_to_close",
            ),
        ]

    def __str__(self) -> str:
        return f"poll {self.pk} on message {self.message_id}"

    def is_closed(self, *, now=None) -> bool:
        now = now or timezone.now()
        return self.closed_at is not None or (self.closes_at is not None and self.closes_at <= now)


class PollOption(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=100)
    vote_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["poll", "position"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "position"], name="poll_option_position"),
        ]

    def __str__(self) -> str:
        return self.text


class PollVote(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="votes")
    option = models.ForeignKey(PollOption, on_delete=models.CASCADE, related_name="votes")
    # The voter as the room knows them: a named poll shows the room nickname only.
    membership = models.ForeignKey(
        "community.Membership", on_delete=models.CASCADE, related_name="poll_votes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["option", "membership"], name="poll_vote_once"),
        ]
        indexes = [models.Index(fields=["poll", "membership"])]

    def __str__(self) -> str:
        return f"vote for {self.option_id} by {self.membership_id}"
