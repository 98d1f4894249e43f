"""The installable web app: the service worker, the manifest, the offline page, and the
settings page of this device's notifications."""

import hashlib
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from community.notifications.selectors import settings_for
from community.notifications.services import update_notification_settings
from community.push import senders
from community.push.selectors import device_payloads
from community.push.services import remove_device
from config.errors import DomainError

# What the worker caches at install: the app shell's styles, scripts and icons.
APP_SHELL_STATIC = (
    "css/moim.css",
    "css/chat.css",
    "css/notifications.css",
    "js/locale.js",
    "js/moim.js",
    "js/badge.js",
    "js/chat.js",
    "js/push.js",
    "img/favicon.svg",
    "img/icons/moim-192.png",
    "img/icons/moim-badge-96.png",
)


@require_GET
@cache_control(no_cache=True)
def service_worker(request):
    """``/sw.js``: served from the root so its scope is the whole site. Its text changes
    when a deployed static file's (hashed) name does, so browsers install the new one."""
    precache = [static(path) for path in APP_SHELL_STATIC]
    offline_url = reverse("offline")
    version = hashlib.sha256(json.dumps([precache, offline_url]).encode()).hexdigest()[:12]
    context = {
        "config_json": json.dumps(
            {
                "version": version,
                "precache": precache,
                "offline_url": offline_url,
                "static_prefix": settings.STATIC_URL,
                "icon": static("img/icons/moim-192.png"),
                "badge": static("img/icons/moim-badge-96.png"),
            }
        )
    }
    response = render(
        request, "community/push/sw.js", context, content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
@cache_control(max_age=3600, public=True)
def manifest(request):
    """``/manifest.webmanifest``: name, icons and start page of the installed app."""
    data = {
        "name": "Moim",
        "short_name": "Moim",
        "description": _("Open chat rooms for people who share an interest."),
        "id": "/",
        "start_url": "/?source=app",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f7f7fb",
        "theme_color": "#5b3df5",
        "icons": [
            {"src": static("img/icons/moim-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("img/icons/moim-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("img/icons/moim-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static("img/favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return HttpResponse(
        json.dumps(data, ensure_ascii=False), content_type="application/manifest+json"
    )


@require_GET
def offline(request):
    """What the service worker shows when a page cannot be reached."""
    return render(request, "community/push/offline.html")


@login_required
def push_settings(request):
    """Settings › Notifications: turn push on for this browser, previews, my devices."""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "remove":
                remove_device(
                    user=request.user,
                    platform=request.POST.get("platform", ""),
                    device_id=int(request.POST.get("device_id") or 0),
                )
                messages.success(request, _("The device no longer gets notifications."))
            else:
                update_notification_settings(
                    user=request.user, push_previews=request.POST.get("push_previews") == "on"
                )
                messages.success(request, _("Notification settings saved."))
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", None) or _("Invalid input."))
        return redirect("push-settings")
    return render(
        request,
        "community/push/settings.html",
        {
            "active": "notifications",
            "devices": device_payloads(user_id=request.user.pk),
            "prefs": settings_for(user_id=request.user.pk),
            "vapid_public_key": senders.vapid_public_key(),
        },
    )
