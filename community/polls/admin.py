"""Polls in the admin: the question's message, the options and their counts. Votes are
not listed: an anonymous poll stays anonymous to staff too."""

from django.contrib import admin

from community.polls.models import Poll, PollOption


class PollOptionInline(admin.TabularInline):
    model = PollOption
    fields = ("position", "text", "vote_count")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Poll)
class PollAdmin(admin.ModelAdmin):
    list_display = ("id", "message", "allows_multiple", "is_anonymous", "closes_at", "closed_at")
    list_filter = ("is_anonymous", "allows_multiple")
    raw_id_fields = ("message",)
    readonly_fields = ("message", "voter_count")
    inlines = [PollOptionInline]
