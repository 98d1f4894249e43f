"""Web Push end to end: a browser subscription registered over the API, a mention in a
room, and the push as the push service receives it, decrypted with the subscription's
private key (RFC 8291) and its VAPID authorization checked (RFC 8292)."""

import pytest
from push_notifications.models import WebPushDevice

from community.chat.services import send_message
from community.push.services import PushRetry, deliver_notification_push
from community.rooms.models import Membership
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


def _register(user, subscription, **extra):
    response = client_for(user).post(
        "/api/v1/me/push-devices/",
        {"platform": "web", "subscription": subscription.as_json(), **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_mention_reaches_the_browser_encrypted_and_signed(room_with_two, push_service, pushes):
    room, host, guest = room_with_two
    subscription = push_service.subscribe()
    _register(guest, subscription, browser="firefox", name="Firefox on Linux")
    host_member = Membership.objects.get(room=room, user=host)

    message = pushes(lambda: send_message(membership=host_member, body="hi @Guest, welcome"))

    [push] = push_service.messages_for(subscription)
    payload = push["payload"]
    assert payload["title"] == room.title
    # The author by room nickname, then what was said.
    assert payload["body"].startswith(f"{host_member.nickname} mentioned you in {room.title}")
    assert payload["body"].endswith("hi @Guest, welcome")
    assert payload["url"] == f"/rooms/{room.pk}/#message-{message.pk}"
    assert payload["data"]["message_id"] == message.pk
    assert payload["data"]["kind"] == "mention"
    # VAPID: the audience is the push service's origin, the subject ours.
    assert push["claims"]["aud"] == push_service.origin
    assert push["claims"]["sub"] == "mailto:push@moim.example"
    assert push["urgency"] == "high" and int(push["ttl"]) > 0
    # The mention is pushed once: not again as a plain room message.
    assert len(push_service.received) == 1


def test_the_handle_of_an_open_profile_never_appears(
    make_user, make_room, make_member, push_service, pushes
):
    owner = make_user("ownerhandle")
    room = make_room(owner=owner, nickname="Quiet Owl")
    reader = make_user("reader")
    make_member(room, reader, nickname="Reader")
    subscription = push_service.subscribe()
    _register(reader, subscription)
    owner_member = Membership.objects.get(room=room, user=owner)
    assert owner_member.is_open_profile

    pushes(lambda: send_message(membership=owner_member, body="@Reader look"))
    pushes(lambda: send_message(membership=owner_member, body="and this, no mention"))

    bodies = [m["payload"]["body"] + m["payload"]["title"] for m in push_service.received]
    assert len(bodies) == 2
    for text in bodies:
        assert "Quiet Owl" in text
        assert "ownerhandle" not in text and owner.profile.handle not in text


def test_previews_off_hide_the_text(room_with_two, push_service, pushes):
    room, host, guest = room_with_two
    subscription = push_service.subscribe()
    _register(guest, subscription)
    client_for(guest).patch(
        "/api/v1/me/notification-settings/", {"push_previews": False}, format="json"
    )
    host_member = Membership.objects.get(room=room, user=host)

    pushes(lambda: send_message(membership=host_member, body="@Guest secret plans"))
    pushes(lambda: send_message(membership=host_member, body="more secret plans"))

    assert len(push_service.received) == 2
    for push in push_service.received:
        assert "secret" not in push["payload"]["body"]
    assert push_service.received[1]["payload"]["body"].startswith(
        f"{host_member.nickname} sent a message"
    )


def test_a_gone_subscription_is_pruned_and_a_busy_service_is_retried(
    room_with_two, push_service, pushes
):
    room, host, guest = room_with_two
    gone, busy, fine = (push_service.subscribe() for _ in range(3))
    for subscription in (gone, busy, fine):
        _register(guest, subscription)
    push_service.answers[gone.token] = 410
    push_service.answers[busy.token] = 503
    host_member = Membership.objects.get(room=room, user=host)

    # The task retries on PushRetry; run the service as the worker's first attempt does.
    with pytest.raises(PushRetry):
        from community.notifications.models import Notification

        send_message(membership=host_member, body="@Guest are you there?")
        notification = Notification.objects.get(recipient=guest, kind="mention")
        deliver_notification_push(notification_id=notification.pk)
    assert len(push_service.messages_for(fine)) == 1
    endpoints = set(WebPushDevice.objects.values_list("registration_id", flat=True))
    assert endpoints == {busy.endpoint, fine.endpoint}  # 410: pruned at once

    # The retry reaches the device that was busy, and not the one that already had it.
    del push_service.answers[busy.token]
    assert deliver_notification_push(notification_id=notification.pk) == 1
    assert len(push_service.messages_for(busy)) == 1
    assert len(push_service.messages_for(fine)) == 1


def test_without_a_vapid_key_pushes_are_dropped_not_retried(room_with_two, push_service, settings):
    from community.notifications.models import Notification

    room, host, guest = room_with_two
    _register(guest, push_service.subscribe())
    settings.VAPID_PRIVATE_KEY = ""
    send_message(membership=Membership.objects.get(room=room, user=host), body="@Guest hi")
    notification = Notification.objects.get(recipient=guest, kind="mention")
    assert deliver_notification_push(notification_id=notification.pk) == 0
    assert push_service.received == []
    assert WebPushDevice.objects.count() == 1
    assert client_for(guest).get("/api/v1/push/config/").json() == {"vapid_public_key": ""}
