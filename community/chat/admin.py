"""Admin for messages (read by moderators; changes go through the services)."""

from django.contrib import admin

from community.chat.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "kind", "body", "created_at", "deleted_at"]
    list_select_related = ["room", "author"]
    raw_id_fields = ["room", "author", "reply_to"]
    list_filter = ["kind"]


# --- The moderators' desk ------------------------------------------------------------------
