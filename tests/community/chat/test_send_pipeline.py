"""Text, image and video messages go through one send pipeline: the automatic rules
screen a media message's caption like a text message, and what screening stores (a held
message, a flood mute) survives the refused send."""

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from community.chat.models import Message
from community.media.models import MediaAsset
from community.moderation.models import AuditLogEntry, BlockedPattern, HeldMessage
from community.rooms.models import Membership
from tests.community import media_samples
from tests.community.chat_support import (
    next_event,
    no_event,
    ready_socket,
)
from tests.support.accounts import client_for

UPLOADS_URL = "/api/v1/uploads/"


def messages_url(room) -> str:
    return f"/api/v1/rooms/{room.pk}/messages/"


def hold_rule(room, word="spoiler"):
    return BlockedPattern.objects.create(
        room=room, kind=BlockedPattern.Kind.WORD, text=word, action=BlockedPattern.Action.HOLD
    )


def post_image(client, room, *, body="", client_id=""):
    return client.post(
        messages_url(room),
        {
            "file": SimpleUploadedFile("p.jpg", media_samples.jpeg((320, 240))),
            "body": body,
            "client_id": client_id,
        },
        format="multipart",
    )


@pytest.fixture
def cast(make_user, make_room, make_member):
    host = make_user("pipehost")
    room = make_room(owner=host)
    guest = make_user("pipeguest")
    membership = make_member(room, guest, nickname="Guest")
    return room, host, guest, membership


@pytest.mark.usefixtures("media_dir", "eager_tasks")
@pytest.mark.django_db
class TestHeldMediaMessages:
    def test_an_image_whose_caption_is_held_is_stored_held_with_its_image(
        self, cast, django_capture_on_commit_callbacks
    ):
        room, host, guest, membership = cast
        hold_rule(room)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_image(client_for(guest), room, body="big spoiler inside")
        assert response.status_code == 422, response.json()
        assert response.json()["error"]["code"] == "message_held"
        assert not Message.objects.filter(room=room, author=membership).exists()
        held = HeldMessage.objects.get(room=room)
        assert (held.membership_id, held.body, held.status) == (
            membership.pk,
            "big spoiler inside",
            HeldMessage.Status.PENDING,
        )
        assert held.media is not None and held.media.room_id == room.pk
        # The hosts see it in their queue, with its image, and approving sends it as an
        # image message.
        queue = client_for(host).get(f"/api/v1/rooms/{room.pk}/held-messages/").json()["results"]
        assert [(item["id"], item["media"]["id"]) for item in queue] == [(held.pk, held.media_id)]
        with django_capture_on_commit_callbacks(execute=True):
            approved = client_for(host).post(
                f"/api/v1/rooms/{room.pk}/held-messages/{held.pk}/approve/"
            )
        assert approved.status_code == 200, approved.json()
        message = Message.objects.get(room=room, author=membership)
        assert (message.kind, message.media_id, message.body) == (
            Message.Kind.IMAGE,
            held.media_id,
            "big spoiler inside",
        )

    def test_the_host_tools_page_lists_a_held_image(self, cast, client):
        room, host, guest, _membership = cast
        hold_rule(room)
        assert post_image(client_for(guest), room, body="spoiler").status_code == 422
        client.force_login(host)
        page = client.get(f"/rooms/{room.pk}/moderation/")
        assert page.status_code == 200
        assert "Image message" in page.content.decode()

    def test_a_held_caption_on_an_uploaded_image_keeps_the_upload_held(
        self, cast, django_capture_on_commit_callbacks
    ):
        room, _host, guest, membership = cast
        hold_rule(room)
        with django_capture_on_commit_callbacks(execute=True):
            upload = client_for(guest).post(
                UPLOADS_URL,
                {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((320, 240)))},
                format="multipart",
            )
        assert upload.status_code == 201
        asset_id = upload.json()["id"]
        response = client_for(guest).post(
            messages_url(room), {"media_id": asset_id, "body": "spoiler!"}, format="json"
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "message_held"
        held = HeldMessage.objects.get(room=room)
        assert (held.membership_id, held.media_id) == (membership.pk, asset_id)
        assert MediaAsset.objects.get(pk=asset_id).room_id == room.pk
        assert not Message.objects.filter(room=room, author=membership).exists()

    def test_a_rejected_held_image_is_deleted_with_its_files(
        self, cast, media_dir, django_capture_on_commit_callbacks
    ):
        room, host, guest, _membership = cast
        hold_rule(room)
        with django_capture_on_commit_callbacks(execute=True):
            assert post_image(client_for(guest), room, body="spoiler").status_code == 422
        held = HeldMessage.objects.get(room=room)
        assert [path for path in media_dir.rglob("*") if path.is_file()]
        with django_capture_on_commit_callbacks(execute=True):
            rejected = client_for(host).post(
                f"/api/v1/rooms/{room.pk}/held-messages/{held.pk}/reject/"
            )
        assert rejected.status_code == 200
        assert not MediaAsset.objects.exists()
        assert not [path for path in media_dir.rglob("*") if path.is_file()]
        held.refresh_from_db()
        assert (held.status, held.media_id) == (HeldMessage.Status.REJECTED, None)

    def test_a_blocked_caption_stores_nothing(self, cast, media_dir):
        room, _host, guest, _membership = cast
        BlockedPattern.objects.create(room=room, kind="word", text="scam", action="block")
        response = post_image(client_for(guest), room, body="a scam")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "message_blocked"
        assert not HeldMessage.objects.exists()
        assert not MediaAsset.objects.exists()
        assert not [path for path in media_dir.rglob("*") if path.is_file()]

    def test_image_messages_count_towards_flood_and_the_mute_is_kept(self, cast, settings):
        room, _host, guest, membership = cast
        settings.MODERATION_FLOOD_MESSAGES = 2
        settings.CHAT_SEND_RATE = (100, 10)
        client = client_for(guest)
        statuses = [post_image(client, room).status_code for _ in range(3)]
        assert statuses == [201, 201, 422]
        membership.refresh_from_db()
        assert membership.muted_until is not None
        assert AuditLogEntry.objects.filter(
            action=AuditLogEntry.Action.AUTO_MUTE, target_id=membership.pk
        ).exists()
        # Muted now: the next image is refused as muted, not stored.
        muted = post_image(client, room)
        assert (muted.status_code, muted.json()["error"]["code"]) == (403, "muted")
        assert Message.objects.filter(room=room, author=membership).count() == 2


@pytest.mark.usefixtures("media_dir", "eager_tasks", "fresh_channel_layer")
@pytest.mark.django_db(transaction=True)
async def test_a_held_image_reaches_no_socket_and_a_text_hold_is_the_same(cast):
    room, host, guest, membership = cast
    await database_sync_to_async(hold_rule)(room)
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)

    response = await database_sync_to_async(post_image)(client_for(guest), room, body="spoiler pic")
    assert response.status_code == 422
    # Over the socket, a text message with the held word is held the same way.
    await guest_socket.send_json_to({"type": "message.send", "body": "spoiler text", "ref": 1})
    error = await next_event(guest_socket, "error")
    assert (error["code"], error["ref"]) == ("message_held", 1)
    await no_event(host_socket, "message.created")

    bodies = await database_sync_to_async(
        lambda: sorted(
            HeldMessage.objects.filter(room=room, membership=membership).values_list(
                "body", "media__kind"
            )
        )
    )()
    assert bodies == [("spoiler pic", "image"), ("spoiler text", None)]
    assert not await database_sync_to_async(
        Message.objects.filter(room=room, author=membership).exists
    )()
    await host_socket.disconnect()
    await guest_socket.disconnect()
    assert (
        await database_sync_to_async(Membership.objects.get)(pk=membership.pk)
    ).state == Membership.State.ACTIVE
