"""Web pages of notifications and my rooms' notification levels."""

from django.urls import path

from community.notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path(
        "notifications/read-all/",
        views.notification_read_all,
        name="notifications-read-all",
    ),
    path(
        "notifications/settings/",
        views.notification_settings,
        name="notification-settings",
    ),
    path("me/rooms/", views.my_rooms_page, name="my-rooms"),
    path(
        "me/rooms/<int:room_id>/level/",
        views.room_level_set,
        name="my-room-level",
    ),
]
