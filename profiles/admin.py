from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.errors import DomainError
from profiles import services
from profiles.models import Block, Follow, Profile, StatusPost, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["handle", "display_name", "bio", "status_message", "avatar_media", "languages"]
    # A media asset id (take pictures down from the media admin), not a list of them all.
    raw_id_fields = ["avatar_media"]


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

    actions = ["delete_accounts_keeping_messages", "delete_accounts_and_messages"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Hard deletion would break ledger and room history: use the anonymising actions.
        actions.pop("delete_selected", None)
        return actions

    def _delete_accounts(self, request, queryset, *, delete_messages: bool) -> None:
        deleted = 0
        for user_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                deleted += services.delete_account_as_moderator(
                    actor=request.user, user_id=user_id, delete_messages=delete_messages
                )
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
        self.message_user(
            request,
            ngettext("%(count)d account deleted.", "%(count)d accounts deleted.", deleted)
            % {"count": deleted},
            level=messages.SUCCESS,
        )

    @admin.action(description=_("Delete accounts (messages kept, anonymised)"))
    def delete_accounts_keeping_messages(self, request, queryset):
        self._delete_accounts(request, queryset, delete_messages=False)

    @admin.action(description=_("Delete accounts and their messages"))
    def delete_accounts_and_messages(self, request, queryset):
        self._delete_accounts(request, queryset, delete_messages=True)

    def has_delete_permission(self, request, obj=None):
        return False

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
