"""Push targets over the API: register, list, remove; a token moves to its newest owner;
log-out removes the device's targets, "log out everywhere" all of them."""

import os

import pytest
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice
from rest_framework.test import APIClient

from tests.support.accounts import TEST_PASSWORD, client_for
from tests.support.push_services import b64url

pytestmark = pytest.mark.django_db

FCM_TOKEN = "fcm-token:" + "A1b2" * 30
APNS_TOKEN = "ab" * 32


def _web(endpoint="https://fcm.googleapis.com/fcm/send/abc123"):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "platform": "web",
        "subscription": {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(os.urandom(16))},
        },
        "browser": "firefox",
        "name": "Firefox on Linux",
    }


def _post(client, body):
    return client.post("/api/v1/me/push-devices/", body, format="json")


def test_register_list_and_remove_each_platform(user, django_assert_num_queries):
    client = client_for(user)
    web = _post(client, _web())
    fcm = _post(client, {"platform": "fcm", "token": FCM_TOKEN, "name": "Pixel"})
    apns = _post(
        client,
        {
            "platform": "apns",
            "token": APNS_TOKEN.upper(),
            "environment": "sandbox",
            "name": "iPhone",
        },
    )
    assert (web.status_code, fcm.status_code, apns.status_code) == (201, 201, 201)
    assert apns.json()["environment"] == "sandbox"
    assert APNSDevice.objects.get().registration_id == APNS_TOKEN  # stored in lower case
    assert web.json()["browser"] == "FIREFOX"

    # Three queries whatever the number of devices (one per platform).
    with django_assert_num_queries(3):
        listed = client.get("/api/v1/me/push-devices/")
    assert {(row["platform"], row["name"]) for row in listed.json()} == {
        ("web", "Firefox on Linux"),
        ("fcm", "Pixel"),
        ("apns", "iPhone"),
    }

    assert client.delete(f"/api/v1/me/push-devices/fcm/{fcm.json()['id']}/").status_code == 204
    assert not GCMDevice.objects.exists()
    # Someone else's device, or an unknown platform, is not found: nothing is revealed.
    stranger = client_for(type(user).objects.create_user("stranger", password=TEST_PASSWORD))
    assert stranger.delete(f"/api/v1/me/push-devices/web/{web.json()['id']}/").status_code == 404
    assert stranger.delete("/api/v1/me/push-devices/wns/1/").status_code == 404
    assert WebPushDevice.objects.count() == 1
    assert stranger.get("/api/v1/me/push-devices/").json() == []


def test_a_reused_token_moves_to_its_newest_owner(make_user):
    first, second = make_user("first"), make_user("second")
    _post(client_for(first), {"platform": "fcm", "token": FCM_TOKEN})
    again = _post(client_for(second), {"platform": "fcm", "token": FCM_TOKEN, "name": "Shared"})
    assert again.status_code == 201
    device = GCMDevice.objects.get()
    assert (device.user, device.name) == (second, "Shared")
    assert client_for(first).get("/api/v1/me/push-devices/").json() == []


@pytest.mark.parametrize(
    "body, field",
    [
        (_web(endpoint="https://169.254.169.254/latest/meta-data"), "endpoint"),
        (_web(endpoint="http://fcm.googleapis.com/fcm/send/abc"), "endpoint"),
        (
            {
                **_web(),
                "subscription": {
                    "endpoint": "https://fcm.googleapis.com/x",
                    "keys": {"p256dh": "AAAA", "auth": "AAAA"},
                },
            },
            "p256dh",
        ),
        ({"platform": "web"}, "subscription"),
        ({"platform": "fcm"}, "token"),
        ({"platform": "fcm", "token": "bad token with spaces and more than twenty"}, "token"),
        ({"platform": "apns", "token": "xyz"}, "token"),
        ({"platform": "apns", "token": APNS_TOKEN, "environment": "staging"}, "environment"),
        ({"platform": "wns", "token": FCM_TOKEN}, "platform"),
    ],
)
def test_bad_registrations_are_refused_with_the_field(user, body, field):
    response = _post(client_for(user), body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not (WebPushDevice.objects.exists() or GCMDevice.objects.exists())


def test_anonymous_callers_cannot_register(db):
    assert _post(APIClient(), {"platform": "fcm", "token": FCM_TOKEN}).status_code in (401, 403)


def test_devices_per_account_are_capped(user, settings):
    settings.PUSH_MAX_DEVICES_PER_USER = 2
    client = client_for(user)
    for number in range(2):
        assert (
            _post(client, {"platform": "fcm", "token": f"{FCM_TOKEN}{number}"}).status_code == 201
        )
    refused = _post(client, {"platform": "apns", "token": APNS_TOKEN})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_devices"
    # Registering a known token again is a refresh, not a new device.
    assert _post(client, {"platform": "fcm", "token": f"{FCM_TOKEN}0"}).status_code == 201


def test_browser_log_out_removes_what_the_session_registered(user):
    browser = client_for(user, session=True)
    other_browser = client_for(user, session=True)
    phone = client_for(user)
    assert (
        browser.post(
            "/api/v1/me/push-devices/", _web(), content_type="application/json"
        ).status_code
        == 201
    )
    other = _web(endpoint="https://updates.push.services.mozilla.com/wpush/v2/xyz")
    assert (
        other_browser.post(
            "/api/v1/me/push-devices/", other, content_type="application/json"
        ).status_code
        == 201
    )
    _post(phone, {"platform": "fcm", "token": FCM_TOKEN})

    browser.post("/accounts/logout/")

    remaining = set(WebPushDevice.objects.values_list("registration_id", flat=True))
    assert remaining == {other["subscription"]["endpoint"]}
    assert GCMDevice.objects.count() == 1


def test_api_log_out_with_push_token_and_log_out_everywhere(user, make_user):
    login = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": TEST_PASSWORD}, format="json"
    )
    assert login.status_code == 200, login.content
    tokens = login.json()
    phone = client_for(user)
    _post(phone, {"platform": "fcm", "token": FCM_TOKEN})
    _post(phone, {"platform": "apns", "token": APNS_TOKEN})
    # Someone else's registration of another token is untouched.
    _post(client_for(make_user("someone")), {"platform": "fcm", "token": FCM_TOKEN + "x"})

    out = APIClient().post(
        "/api/v1/auth/logout/",
        {"refresh": tokens["refresh"], "push_token": APNS_TOKEN.upper()},
        format="json",
    )
    assert out.status_code == 200
    assert not APNSDevice.objects.exists()
    assert GCMDevice.objects.filter(user=user).count() == 1

    assert phone.post("/api/v1/auth/logout-everywhere/").status_code == 204
    assert not GCMDevice.objects.filter(user=user).exists()
    assert GCMDevice.objects.count() == 1


def test_push_config_gives_the_vapid_key(vapid, db):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from py_vapid.utils import b64urlencode

    key = APIClient().get("/api/v1/push/config/").json()["vapid_public_key"]
    # Public: a stale token is not even read.
    stale = APIClient(HTTP_AUTHORIZATION="Bearer not-a-token").get("/api/v1/push/config/")
    assert stale.status_code == 200
    expected = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert key == b64urlencode(expected)


def test_the_data_export_lists_devices_without_their_tokens(user):
    from profiles.export import build_export

    _post(client_for(user), {"platform": "fcm", "token": FCM_TOKEN, "name": "Pixel"})
    [device] = build_export(user)["sections"]["push_devices"]
    assert (device["platform"], device["name"]) == ("fcm", "Pixel")
    assert FCM_TOKEN not in str(device)
