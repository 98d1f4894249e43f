"""Pages of push and the installable web app (the worker and manifest at the root)."""

from django.urls import path

from community.push import views

urlpatterns = [
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.manifest, name="web-manifest"),
    path("offline/", views.offline, name="offline"),
    path("settings/notifications/", views.push_settings, name="push-settings"),
]
