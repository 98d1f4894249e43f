from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from profiles.models import Block, Follow, Profile, StatusPost, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["handle", "display_name", "bio", "status_message", "avatar", "languages"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "handle", "email", "is_staff", "is_active", "date_joined"]
    list_select_related = ["profile"]
    search_fields = ["username", "email", "profile__handle", "profile__display_name"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Moim", {"fields": ["locale", "timezone", "suspended_until"]}),
    ]

    @admin.display(description=_("handle"), ordering="profile__handle_key")
    def handle(self, user):
        return getattr(getattr(user, "profile", None), "handle", "")


@admin.register(StatusPost)
class StatusPostAdmin(admin.ModelAdmin):
    list_display = ["id", "author", "body", "created_at"]
    list_select_related = ["author"]
    raw_id_fields = ["author"]
    search_fields = ["body", "author__username", "author__profile__handle"]
    date_hierarchy = "created_at"


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["id", "follower", "followee", "created_at"]
    list_select_related = ["follower", "followee"]
    raw_id_fields = ["follower", "followee"]
    search_fields = ["follower__username", "followee__username"]


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["id", "blocker", "blocked", "created_at"]
    list_select_related = ["blocker", "blocked"]
    raw_id_fields = ["blocker", "blocked"]
    search_fields = ["blocker__username", "blocked__username"]
