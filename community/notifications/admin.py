"""Admin for notifications: read-only for support."""

from django.contrib import admin

from community.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: notifications are written by the services (support looks, never edits)."""

    list_display = ["id", "recipient", "kind", "room", "count", "created_at", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient", "room"]
    raw_id_fields = ["recipient", "room", "message"]
    search_fields = ["recipient__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
