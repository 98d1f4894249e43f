"""FCM (HTTP v1, with the service account's OAuth grant) and APNs (HTTP/2, provider
token) against local servers that speak their APIs (tests/support/push_services.py)."""

import pytest
from push_notifications.models import APNSDevice, GCMDevice

from community.chat.services import send_message
from community.notifications.models import Notification
from community.push.services import PushRetry, deliver_notification_push
from community.rooms.models import Membership
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db

FCM_TOKEN = "fcm:" + "Zx9_" * 30
APNS_TOKEN = "0f" * 32


def _register(user, body):
    response = client_for(user).post("/api/v1/me/push-devices/", body, format="json")
    assert response.status_code == 201, response.content


def test_fcm_gets_the_mention_and_prunes_an_unregistered_token(room_with_two, fcm_server, pushes):
    room, host, guest = room_with_two
    _register(guest, {"platform": "fcm", "token": FCM_TOKEN})
    _register(guest, {"platform": "fcm", "token": FCM_TOKEN + "old"})
    fcm_server.unregistered.add(FCM_TOKEN + "old")
    host_member = Membership.objects.get(room=room, user=host)

    message = pushes(lambda: send_message(membership=host_member, body="@Guest look"))
    pushes(lambda: send_message(membership=host_member, body="@Guest and again"))

    assert [m["token"] for m in fcm_server.received] == [FCM_TOKEN, FCM_TOKEN]
    first = fcm_server.received[0]
    assert first["notification"]["title"] == room.title
    assert first["notification"]["body"].endswith("@Guest look")
    assert first["data"]["room_id"] == str(room.pk)
    assert first["data"]["message_id"] == str(message.pk)
    assert first["data"]["url"] == f"/rooms/{room.pk}/#message-{message.pk}"
    assert first["android"]["priority"] == "high"
    assert first["android"]["collapse_key"].startswith("notification-")
    # The OAuth token is fetched once and reused.
    assert fcm_server.token_requests == 1
    # UNREGISTERED: that token was removed at the first answer.
    assert list(GCMDevice.objects.values_list("registration_id", flat=True)) == [FCM_TOKEN]


def test_fcm_outage_is_retried(room_with_two, fcm_server):
    room, host, guest = room_with_two
    _register(guest, {"platform": "fcm", "token": FCM_TOKEN})
    send_message(membership=Membership.objects.get(room=room, user=host), body="@Guest hey")
    notification = Notification.objects.get(recipient=guest)
    fcm_server.unavailable = True
    with pytest.raises(PushRetry):
        deliver_notification_push(notification_id=notification.pk)
    assert GCMDevice.objects.count() == 1  # not pruned: the service was only busy
    fcm_server.unavailable = False
    assert deliver_notification_push(notification_id=notification.pk) == 1


def test_apns_over_http2_with_a_provider_token(room_with_two, apns_server, pushes):
    room, host, guest = room_with_two
    _register(guest, {"platform": "apns", "token": APNS_TOKEN, "environment": "sandbox"})
    _register(guest, {"platform": "apns", "token": "1e" * 32, "environment": "sandbox"})
    apns_server.unregistered.add("1e" * 32)
    host_member = Membership.objects.get(room=room, user=host)

    def plain():
        send_message(membership=host_member, body="first")
        send_message(membership=host_member, body="second")

    pushes(plain)

    [push] = apns_server.received
    assert push["token"] == APNS_TOKEN
    headers, payload = push["headers"], push["payload"]
    assert headers["apns-topic"] == "app.moim.ios"
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-collapse-id"] == f"room-{room.pk}"
    assert payload["aps"]["alert"] == {
        "title": room.title,
        "body": f"{host_member.nickname}: second (2 new messages)",
    }
    assert payload["aps"]["badge"] == 2
    assert payload["room_id"] == room.pk
    assert list(APNSDevice.objects.values_list("registration_id", flat=True)) == [APNS_TOKEN]


def test_a_production_device_goes_to_the_production_endpoint(room_with_two, apns_server):
    room, host, guest = room_with_two
    _register(guest, {"platform": "apns", "token": APNS_TOKEN, "environment": "production"})
    send_message(membership=Membership.objects.get(room=room, user=host), body="@Guest yo")
    notification = Notification.objects.get(recipient=guest)
    # The production endpoint of this test answers nothing: retried, never pruned, and the
    # sandbox server never saw a production token.
    with pytest.raises(PushRetry):
        deliver_notification_push(notification_id=notification.pk)
    assert apns_server.received == []
    assert APNSDevice.objects.count() == 1
