"""Admin for interests, hashtags, rooms and memberships."""

from django.contrib import admin

from community.rooms.models import Hashtag, Interest, Membership, Room


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
    raw_id_fields = ["owner", "cover_media"]
    filter_horizontal = ["interests"]
    exclude = ["password_hash", "hashtags"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["nickname", "room", "user", "role", "state", "joined_at"]
    list_select_related = ["room", "user"]
    list_filter = ["role", "state"]
    raw_id_fields = ["room", "user", "avatar_media"]
