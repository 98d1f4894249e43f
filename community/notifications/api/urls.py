"""API routes: notifications, unread counts, my rooms and notification preferences."""

from django.urls import path

from community.notifications.api import views

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view(), name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        views.NotificationReadView.as_view(),
        name="notification-read",
    ),
    path(
        "notifications/read-all/",
        views.NotificationReadAllView.as_view(),
        name="notifications-read-all",
    ),
    path("me/unread/", views.UnreadCountsView.as_view(), name="me-unread"),
    path("me/rooms/", views.MyRoomsView.as_view(), name="me-rooms"),
    path(
        "me/notification-settings/",
        views.NotificationSettingsView.as_view(),
        name="me-notification-settings",
    ),
    path(
        "rooms/<int:room_id>/notifications/",
        views.RoomNotificationLevelView.as_view(),
        name="room-notification-level",
    ),
]
