from django.contrib import admin

from community.models import (
    Hashtag,
    Interest,
    Membership,
    Message,
    Reaction,
    ReactionCount,
    Room,
)
from community.services.reactions import take_back_reactions


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    list_display = ["slug", "name_en", "name_ko", "name_ja", "parent", "room_count"]
    list_select_related = ["parent"]
    search_fields = ["slug", "name_en", "name_ko", "name_ja"]


@admin.register(Hashtag)
class HashtagAdmin(admin.ModelAdmin):
    list_display = ["label", "key"]
    search_fields = ["key"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "owner",
        "visibility",
        "member_count",
        "is_suspended",
        "last_activity_at",
    ]
    list_select_related = ["owner"]
    list_filter = ["visibility", "is_suspended", "is_archived"]
    search_fields = ["title"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["interests"]
    exclude = ["password_hash", "hashtags"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["nickname", "room", "user", "role", "state", "joined_at"]
    list_select_related = ["room", "user"]
    list_filter = ["role", "state"]
    raw_id_fields = ["room", "user"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "kind", "body", "created_at", "deleted_at"]
    list_select_related = ["room", "author"]
    raw_id_fields = ["room", "author", "reply_to"]
    list_filter = ["kind"]


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
