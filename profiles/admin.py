from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from profiles.models import Profile, StatusPost, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["handle", "display_name", "bio", "status_message"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "email", "is_staff", "is_active", "date_joined"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Moim", {"fields": ["locale", "timezone", "suspended_until"]}),
    ]


@admin.register(StatusPost)
class StatusPostAdmin(admin.ModelAdmin):
    list_display = ["id", "author", "body", "created_at"]
    list_select_related = ["author"]
    raw_id_fields = ["author"]
