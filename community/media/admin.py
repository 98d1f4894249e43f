"""Admin for media assets: what moderators see, and the take-down action."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from community.media.models import MediaAsset
from community.media.selectors import media_url
from community.media.services import remove_media_asset


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = ["id", "preview", "kind", "state", "owner", "room", "size_bytes", "created_at"]
    list_select_related = ["owner", "room"]
    list_filter = ["state", "kind"]
    search_fields = ["key", "owner__username"]
    raw_id_fields = ["owner", "room"]
    readonly_fields = [
        "preview",
        "key",
        "kind",
        "state",
        "failure_reason",
        "content_type",
        "size_bytes",
        "width",
        "height",
        "duration_seconds",
        "is_animated",
        "attempts",
        "created_at",
        "processed_at",
    ]
    exclude = ["original_name", "thumbnails", "poster_name", "placeholder", "original_content_type"]
    actions = ["take_down"]

    @admin.display(description=gettext_lazy("preview"))
    def preview(self, asset: MediaAsset):
        if asset.state != MediaAsset.State.READY or "320" not in asset.thumbnails:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="max-height:80px;max-width:120px">',
            media_url(asset, "320"),
        )

    @admin.action(description=gettext_lazy("Take down (delete the files)"))
    def take_down(self, request, queryset):
        count = 0
        for asset_id in sorted(queryset.values_list("pk", flat=True)):
            if remove_media_asset(asset_id=asset_id, reason=_("Removed by a moderator.")):
                count += 1
        self.message_user(
            request, _("%(count)s media taken down.") % {"count": count}, messages.SUCCESS
        )
