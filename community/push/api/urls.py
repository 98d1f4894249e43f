"""API routes of push targets."""

from django.urls import path

from community.push.api import views

urlpatterns = [
    path("me/push-devices/", views.DeviceListView.as_view(), name="push-devices"),
    path(
        "me/push-devices/<str:platform>/<int:device_id>/",
        views.DeviceDetailView.as_view(),
        name="push-device",
    ),
    path("push/config/", views.PushConfigView.as_view(), name="push-config"),
]
