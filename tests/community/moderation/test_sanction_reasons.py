"""The API's ban and mute take a reason like the web tools: it is audited and the
banned or muted person is told, in their notices, a notification and on ``/ws/me/``."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from community.moderation.models import AuditLogEntry
from community.rooms.models import Membership
from config.asgi import application
from config.realtime import issue_socket_ticket
from tests.support.accounts import client_for

REASON = "Posting other people's phone numbers"


@pytest.fixture
def cast(make_user, make_room, make_member):
    host = make_user("reasonhost")
    room = make_room(owner=host, title="Night owls")
    guest = make_user("reasonguest", locale="en")
    membership = make_member(room, guest, nickname="Guest")
    return room, host, guest, membership


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "payload", "told"),
    [
        ("ban", {}, "You were banned from Night owls."),
        ("mute", {"minutes": 30}, "You were muted in Night owls for 30 minutes."),
    ],
)
def test_the_reason_reaches_the_sanctioned_persons_notice(cast, action, payload, told):
    room, host, guest, membership = cast
    url = f"/api/v1/rooms/{room.pk}/members/{membership.pk}/{action}/"
    response = client_for(host).post(url, {**payload, "reason": REASON}, format="json")
    assert response.status_code in (200, 204), response.content

    entry = AuditLogEntry.objects.get(action=action, target_id=membership.pk)
    assert entry.reason == REASON
    notices = client_for(guest).get("/api/v1/moderation/notices/").json()["results"]
    assert [(n["action"], n["reason"]) for n in notices] == [(action, REASON)]
    (notification,) = client_for(guest).get("/api/v1/notifications/").json()["results"]
    assert notification["kind"] == "moderation"
    assert notification["text"] == f"{told} Reason: {REASON}"
    assert notification["data"]["reason"] == REASON
    # Who took the action is not named.
    assert "reasonhost" not in json.dumps(notification)


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["ban", "mute"])
def test_an_over_long_reason_is_a_400_and_changes_nothing(cast, action):
    room, host, _guest, membership = cast
    url = f"/api/v1/rooms/{room.pk}/members/{membership.pk}/{action}/"
    response = client_for(host).post(url, {"minutes": 5, "reason": "x" * 2001}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    membership.refresh_from_db()
    assert (membership.state, membership.muted_until) == (Membership.State.ACTIVE, None)
    assert not AuditLogEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_banned_persons_socket_is_told_the_reason(cast):
    room, host, guest, membership = cast
    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=guest.pk)
    socket = WebsocketCommunicator(application, f"/ws/me/?ticket={ticket}", [(b"host", b"x")])
    assert (await socket.connect(timeout=5))[0]
    assert json.loads((await socket.receive_output(timeout=5))["text"])["type"] == "ready"

    url = f"/api/v1/rooms/{room.pk}/members/{membership.pk}/ban/"
    response = await database_sync_to_async(client_for(host).post)(
        url, {"reason": REASON}, format="json"
    )
    assert response.status_code == 204

    while True:
        event = json.loads((await socket.receive_output(timeout=5))["text"])
        if event["type"] == "notification.created":
            break
    assert event["notification"]["data"] == {"sanction": "ban", "reason": REASON}
    assert REASON in event["notification"]["text"]
    await socket.disconnect()


@pytest.mark.django_db
def test_the_web_tools_ban_delivers_the_same_notice(cast, client):
    room, host, guest, membership = cast
    client.force_login(host)
    response = client.post(
        f"/rooms/{room.pk}/moderation/",
        {"op": "ban", "member_id": membership.pk, "reason": REASON},
    )
    assert response.status_code in (200, 302)
    (notification,) = client_for(guest).get("/api/v1/notifications/").json()["results"]
    assert notification["text"] == f"You were banned from Night owls. Reason: {REASON}"
