"""Meetups in the admin: the event's message, time, place and counts."""

from django.contrib import admin

from community.meetups.models import Meetup


@admin.register(Meetup)
class MeetupAdmin(admin.ModelAdmin):
    list_display = ("id", "message", "starts_at", "time_zone", "capacity", "going_count")
    raw_id_fields = ("message",)
    readonly_fields = (
        "message", "going_count", "maybe_count", "not_going_count", "waitlist_count",
        "reminded_at",
    )  # fmt: skip
