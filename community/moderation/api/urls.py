from django.urls import path

from community.moderation.api import views as moderation

# Sanctions on a room member (ban, unban, mute, kick) and the host tools.
urlpatterns = [
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/mute/",
        moderation.MemberMuteView.as_view(),
        name="room-member-mute",
    ),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/ban/",
        moderation.MemberBanView.as_view(),
        name="room-member-ban",
    ),
    path("reports/", moderation.ReportView.as_view(), name="reports"),
    path("appeals/", moderation.AppealView.as_view(), name="appeals"),
    path("moderation/notices/", moderation.NoticeListView.as_view(), name="moderation-notices"),
    path(
        "rooms/<int:room_id>/members/<int:member_id>/kick/",
        moderation.KickMemberView.as_view(),
        name="member-kick",
    ),
    path(
        "rooms/<int:room_id>/members/<int:member_id>/kick/undo/",
        moderation.UndoKickView.as_view(),
        name="member-kick-undo",
    ),
    path(
        "rooms/<int:room_id>/members/<int:member_id>/unban/",
        moderation.UnbanMemberView.as_view(),
        name="member-unban",
    ),
    path(
        "rooms/<int:room_id>/slow-mode/", moderation.SlowModeView.as_view(), name="room-slow-mode"
    ),
    path(
        "rooms/<int:room_id>/announcement/",
        moderation.AnnouncementView.as_view(),
        name="room-announcement",
    ),
    path(
        "rooms/<int:room_id>/word-filters/",
        moderation.WordFilterListView.as_view(),
        name="room-word-filters",
    ),
    path(
        "rooms/<int:room_id>/word-filters/<int:filter_id>/",
        moderation.WordFilterDetailView.as_view(),
        name="room-word-filter",
    ),
    path(
        "rooms/<int:room_id>/held-messages/",
        moderation.HeldMessageListView.as_view(),
        name="room-held-messages",
    ),
    path(
        "rooms/<int:room_id>/held-messages/<int:held_id>/approve/",
        moderation.HeldMessageReviewView.as_view(approve=True),
        name="room-held-approve",
    ),
    path(
        "rooms/<int:room_id>/held-messages/<int:held_id>/reject/",
        moderation.HeldMessageReviewView.as_view(approve=False),
        name="room-held-reject",
    ),
]
