"""Admin for reactions: read-only; deletions go through the service (exact counters)."""

from django.contrib import admin

from community.reactions.models import Reaction, ReactionCount
from community.reactions.services import take_back_reactions


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    """Read-only; deleting (one or "delete selected") goes through the service, which
    keeps the per-emoji counters exact."""

    list_display = ["id", "emoji", "message", "room", "status_post", "membership", "user"]
    list_select_related = ["membership", "user", "room", "message", "status_post"]
    list_filter = [("room", admin.EmptyFieldListFilter), ("message", admin.EmptyFieldListFilter)]
    search_fields = ["emoji", "membership__nickname", "user__username"]
    raw_id_fields = ["message", "room", "status_post", "membership", "user"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        take_back_reactions(reaction_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        take_back_reactions(reaction_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(ReactionCount)
class ReactionCountAdmin(admin.ModelAdmin):
    """Read-only: kept by the reaction services; repaired by ``manage.py recount_reactions``."""

    list_display = ["id", "emoji", "count", "message", "room", "status_post"]
    list_select_related = ["room", "message", "status_post"]
    raw_id_fields = ["message", "room", "status_post"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
