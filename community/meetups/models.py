"""Meetups: an event message's time, place and capacity, and its members' RSVPs.

The title is the message's body (edits, replies, reactions and deletion are the
message's). The time is stored in UTC with the creator's time zone name, so the event
reads "19:00 Seoul" to its creator and in each viewer's own zone to everyone else.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Meetup(models.Model):
    message = models.OneToOneField(
        "community.Message", on_delete=models.CASCADE, related_name="meetup"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    place = models.CharField(_("place"), max_length=200, blank=True)
    link = models.URLField(_("link"), max_length=500, blank=True)
    # None: no limit. When full, "going" answers join the waitlist.
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    going_count = models.PositiveIntegerField(default=0)
    maybe_count = models.PositiveIntegerField(default=0)
    not_going_count = models.PositiveIntegerField(default=0)
    waitlist_count = models.PositiveIntegerField(default=0)
    # Set when the reminders went out: each meetup reminds once.
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("meetup")
        verbose_name_plural = _("meetups")
        indexes = [
            models.Index(fields=["starts_at"], name="meetup_starts_at"),
            models.Index(
                fields=["starts_at"],
                condition=models.Q(reminded_at__isnull=True),
                name="meetup_reminder_due",
            ),
        ]

    def __str__(self) -> str:
        return f"meetup {self.pk} on message {self.message_id}"

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and self.going_count >= self.capacity


class MeetupRsvp(models.Model):
    class Status(models.TextChoices):
        GOING = "going", _("Going")
        MAYBE = "maybe", _("Maybe")
        NOT_GOING = "not_going", _("Not going")
        # Asked to go when it was full: moved up, first come first served, when a seat frees.
        WAITLISTED = "waitlisted", _("Waitlisted")

    meetup = models.ForeignKey(Meetup, on_delete=models.CASCADE, related_name="rsvps")
    # The member as the room knows them: RSVPs show the room nickname only.
    membership = models.ForeignKey(
        "community.Membership", on_delete=models.CASCADE, related_name="meetup_rsvps"
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["meetup", "membership"], name="meetup_rsvp_once"),
        ]
        indexes = [models.Index(fields=["meetup", "status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.status} for {self.meetup_id} by {self.membership_id}"
