from django.contrib import admin

from community.links.models import LinkPreview


@admin.register(LinkPreview)
class LinkPreviewAdmin(admin.ModelAdmin):
    """Cached link previews. Deleting one removes its card (and stored image) from every
    message showing it; the next message with the URL fetches it again."""

    list_display = ("url", "status", "failure_reason", "title", "fetched_at")
    list_filter = ("status", "failure_reason")
    search_fields = ("url", "title")
    readonly_fields = (
        "url", "url_hash", "key", "status", "failure_reason", "title", "description",
        "site_name", "image_name", "image_width", "image_height", "claimed_at",
        "fetched_at", "created_at",
    )  # fmt: skip
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False
