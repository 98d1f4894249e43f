"""A message a host or moderator hides is withdrawn everywhere its text was shown: the
mention/reply/reaction notifications (list, API, ``/ws/me/``), a digest not yet
emailed, the room's preview for readers and reply previews."""

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.utils import timezone

from community.chat.models import Message
from community.chat.services import send_message
from community.moderation.services import check_file_report
from community.notifications.models import Notification
from community.notifications.tasks import send_notification_digests
from community.rooms.models import Membership
from config.asgi import application
from config.realtime import issue_socket_ticket
from tests.community.moderation_helpers import make_moderator
from tests.support.accounts import client_for

SECRET = "meet me at the back door 42"


@pytest.fixture
def mention(make_user, make_room, make_member, settings):
    """``Talker`` mentions ``Reader`` in a message a host will hide."""
    settings.NOTIFY_DIGEST_DELAY_MINUTES = 30
    host = make_user("hidehost")
    room = make_room(owner=host, title="Night owls")
    reader = make_user("hidereader", email="reader@example.com", locale="en")
    talker = make_user("hidetalker")
    reader_membership = make_member(room, reader, nickname="Reader")
    talker_membership = make_member(room, talker, nickname="Talker")
    message = send_message(membership=talker_membership, body=f"@Reader {SECRET}")
    return room, host, reader, reader_membership, message


def hide_with_host_tools(host, room, message):
    client = client_for(host, session=True)
    response = client.post(
        f"/rooms/{room.pk}/moderation/", {"op": "delete_message", "message_id": message.pk}
    )
    assert response.status_code in (200, 302), response.status_code
    assert Message.objects.get(pk=message.pk).deleted_at is not None


@pytest.mark.django_db
def test_hiding_withdraws_the_mention_from_the_api_and_the_notification_page(mention):
    room, host, reader, _membership, message = mention
    listing = client_for(reader).get("/api/v1/notifications/").json()["results"]
    assert [item["data"].get("excerpt") for item in listing] == [f"@Reader {SECRET}"]

    hide_with_host_tools(host, room, message)

    listing = client_for(reader).get("/api/v1/notifications/").json()["results"]
    assert SECRET not in json.dumps(listing)
    assert client_for(reader).get("/api/v1/me/unread/").json()["notifications"] == 0
    web = client_for(reader, session=True)
    assert SECRET not in web.get("/notifications/").content.decode()


@pytest.mark.django_db
def test_a_moderator_hiding_from_a_case_withdraws_reaction_and_reply_notifications(
    mention, make_user
):
    _room, host, reader, reader_membership, message = mention
    # The talker replies to the reader (the reader's reply notification quotes it), and
    # the reader reacts to that reply (the talker's reaction notification quotes it).
    talker_membership = Membership.objects.get(pk=message.author_id)
    original = send_message(membership=reader_membership, body="who is up?")
    reply = send_message(
        membership=talker_membership, body=f"{SECRET} (reply)", reply_to_id=original.pk
    )
    reacted = client_for(reader).post(f"/api/v1/messages/{reply.pk}/reactions/", {"emoji": "👍"})
    assert reacted.status_code in (200, 201), reacted.json()
    assert set(Notification.objects.filter(message=reply).values_list("kind", flat=True)) == {
        "reply",
        "reaction",
    }
    moderator = make_moderator(make_user, "hidemod")
    case = check_file_report(
        reporter=host, target_type="message", target_id=reply.pk, reason="spam", text=""
    )
    admin = client_for(moderator, session=True)
    response = admin.post(
        f"/admin/community/moderationcase/{case.pk}/change/",
        {"action": "hide_message", "note": "spam"},
    )
    assert response.status_code in (200, 302)
    assert Message.objects.get(pk=reply.pk).deleted_at is not None
    assert not Notification.objects.filter(message=reply).exists()
    listing = client_for(reader).get("/api/v1/notifications/").json()["results"]
    assert f"{SECRET} (reply)" not in json.dumps(listing)


@pytest.mark.django_db
def test_a_hidden_mention_is_not_in_a_digest_not_yet_emailed(mention):
    room, host, _reader, _membership, message = mention
    hide_with_host_tools(host, room, message)
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=31))
    send_notification_digests()
    assert all("mentioned you" not in email.body for email in mail.outbox)


@pytest.mark.django_db
def test_a_hidden_message_leaves_the_readers_preview_and_reply_previews(mention, make_user):
    room, host, reader, reader_membership, message = mention
    reply = send_message(membership=reader_membership, body="ok", reply_to_id=message.pk)
    hide_with_host_tools(host, room, message)
    outsider = client_for(make_user("hideoutsider"), session=True)
    assert SECRET not in outsider.get(f"/rooms/{room.pk}/").content.decode()
    history = client_for(reader).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    assert SECRET not in json.dumps(history)
    (reply_payload,) = [item for item in history if item["id"] == reply.pk]
    assert reply_payload["reply_to"]["deleted"] is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_me_socket_is_told_to_drop_the_withdrawn_notification(mention):
    room, host, reader, _membership, message = mention
    notification_id = await database_sync_to_async(
        lambda: Notification.objects.get(recipient=reader).pk
    )()
    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=reader.pk)
    socket = WebsocketCommunicator(application, f"/ws/me/?ticket={ticket}", [(b"host", b"x")])
    assert (await socket.connect(timeout=5))[0]
    ready = json.loads((await socket.receive_output(timeout=5))["text"])
    assert ready["unread"]["notifications"] == 1

    await database_sync_to_async(hide_with_host_tools)(host, room, message)

    while True:
        event = json.loads((await socket.receive_output(timeout=5))["text"])
        if event["type"] == "notification.deleted":
            break
    assert event["ids"] == [notification_id]
    unread = json.loads((await socket.receive_output(timeout=5))["text"])
    assert (unread["type"], unread["notifications"]) == ("unread.updated", 0)
    await socket.disconnect()
