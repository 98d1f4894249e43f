from django.urls import path

from community import moderation_views, notification_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/", views.room_search, name="room-search"),
    path("rooms/new/", views.room_create, name="room-create"),
    path("rooms/<int:room_id>/", views.room_detail, name="room-detail"),
    path("rooms/<int:room_id>/edit/", views.room_edit, name="room-edit"),
    path("rooms/<int:room_id>/members/", views.room_members, name="room-members"),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/<slug:action>/",
        views.member_action,
        name="room-member-action",
    ),
    path("rooms/<int:room_id>/join/", views.room_join, name="room-join"),
    path("rooms/<int:room_id>/join/cancel/", views.cancel_request, name="room-join-cancel"),
    path("rooms/<int:room_id>/leave/", views.room_leave, name="room-leave"),
    path("rooms/<int:room_id>/me/", views.my_membership, name="room-me"),
    path("rooms/<int:room_id>/requests/", views.room_requests, name="room-requests"),
    path("rooms/<int:room_id>/invite/", views.room_invites, name="room-invite"),
    path("invite/<str:code>/", views.invite_page, name="invite"),
    # --- moderation ---
    path(
        "rooms/<int:room_id>/moderation/",
        moderation_views.room_moderation,
        name="room-moderation",
    ),
    path(
        "report/<str:target_type>/<int:target_id>/",
        moderation_views.report,
        name="report",
    ),
    path("appeals/", moderation_views.appeal_list, name="appeal-list"),
    path("appeals/new/", moderation_views.appeal, name="appeal"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        notification_views.notification_read,
        name="notification-read",
    ),
    path(
        "notifications/read-all/",
        notification_views.notification_read_all,
        name="notifications-read-all",
    ),
    path(
        "notifications/settings/",
        notification_views.notification_settings,
        name="notification-settings",
    ),
    path("me/rooms/", notification_views.my_rooms_page, name="my-rooms"),
    path(
        "me/rooms/<int:room_id>/level/",
        notification_views.room_level_set,
        name="my-room-level",
    ),
]
