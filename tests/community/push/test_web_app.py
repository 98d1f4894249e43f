"""The installable web app: manifest, service worker, offline page, and Settings ›
Notifications (turn on, previews, the per-device list)."""

import json

import pytest
from django.test import Client
from push_notifications.models import GCMDevice

from community.notifications.selectors import settings_for
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


def _static_file_exists(url: str) -> bool:
    from django.conf import settings
    from django.contrib.staticfiles import finders

    return bool(finders.find(url.removeprefix(settings.STATIC_URL)))


def test_manifest_names_the_app_and_its_icons(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert (manifest["name"], manifest["display"], manifest["scope"]) == ("Moim", "standalone", "/")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        assert _static_file_exists(icon["src"]), icon["src"]


def test_the_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    for handler in ("install", "fetch", "push", "notificationclick"):
        assert f'addEventListener("{handler}"' in text
    config = json.loads(text.split("var CONFIG = ", 1)[1].split(";\n", 1)[0])
    assert config["offline_url"] == "/offline/"
    assert all(path.startswith("/static/") for path in config["precache"])
    for path in config["precache"]:
        assert _static_file_exists(path), path


def test_pages_link_the_manifest_and_csp_allows_the_worker(client):
    page = client.get("/offline/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'rel="manifest" href="/manifest.webmanifest"' in html
    assert 'data-worker-url="/sw.js"' in html
    policy = page["Content-Security-Policy"]
    assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy


def test_settings_page_lists_devices_and_removes_one(user, vapid):
    phone = client_for(user)
    phone.post(
        "/api/v1/me/push-devices/",
        {"platform": "fcm", "token": "fcm-settings-token-0123456789", "name": "Galaxy <b>"},
        format="json",
    )
    browser = client_for(user, session=True)
    page = browser.get("/settings/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Turn on notifications" in html
    assert "Galaxy &lt;b&gt;" in html  # escaped
    assert 'data-vapid-key="B' in html  # an uncompressed P-256 point, base64url
    device = GCMDevice.objects.get()

    # Someone else cannot remove it through their own page.
    other = client_for(type(user).objects.create_user("other"), session=True)
    other.post(
        "/settings/notifications/",
        {"action": "remove", "platform": "fcm", "device_id": device.pk},
    )
    assert GCMDevice.objects.exists()

    browser.post(
        "/settings/notifications/", {"action": "remove", "platform": "fcm", "device_id": device.pk}
    )
    assert not GCMDevice.objects.exists()
    # Bad input is a message on the page, not a 500.
    bad = browser.post("/settings/notifications/", {"action": "remove", "device_id": "x"})
    assert bad.status_code == 302


def test_settings_page_turns_previews_off(user):
    browser = client_for(user, session=True)
    browser.post("/settings/notifications/", {"action": "previews"})
    assert settings_for(user_id=user.pk).push_previews is False
    browser.post("/settings/notifications/", {"action": "previews", "push_previews": "on"})
    assert settings_for(user_id=user.pk).push_previews is True


def test_settings_page_needs_an_account():
    response = Client().get("/settings/notifications/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_support_sees_devices_in_the_admin_but_never_their_tokens(make_user, user):
    root = make_user("root")
    root.is_staff = root.is_superuser = True
    root.save(update_fields=["is_staff", "is_superuser"])
    client_for(user).post(
        "/api/v1/me/push-devices/",
        {"platform": "fcm", "token": "fcm-admin-token-0123456789", "name": "Pixel"},
        format="json",
    )
    admin = client_for(root, session=True)
    listing = admin.get("/admin/push_notifications/gcmdevice/")
    assert listing.status_code == 200
    assert "Pixel" in listing.content.decode()
    device = GCMDevice.objects.get()
    page = admin.get(f"/admin/push_notifications/gcmdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert "fcm-admin-token" not in page.content.decode()
    assert admin.get("/admin/push_notifications/wnsdevice/").status_code == 404
