"""One way a message goes (chat's ``remove_message``): the author's delete, a host's
delete over the API, the room tools' delete and a site moderator's hide all leave the
same tombstone, and every removal of someone else's message the same audit row."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from community.access import active_membership
from community.chat.services import send_message
from community.moderation.models import AuditLogEntry
from tests.community.moderation_helpers import moderators_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    moderator = make_user("mod")
    moderator.is_staff = True
    moderator.save(update_fields=["is_staff"])
    moderator.groups.add(moderators_group())
    return room, host, guest, moderator


def _say(room, user, body: str):
    return send_message(membership=active_membership(room_id=room.pk, user=user), body=body)


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _row(message_id: int) -> dict:
    entry = AuditLogEntry.objects.get(target_type="message", target_id=message_id)
    return {
        "action": entry.action,
        "subject_id": entry.subject_id,
        "room_id": entry.room_id,
        "by": entry.details.get("by"),
        "reason": entry.reason,
    }


def _tombstone(client, room_id: int, message_id: int) -> dict:
    history = client.get(f"/api/v1/rooms/{room_id}/messages/").json()["results"]
    message = next(item for item in history if item["id"] == message_id)
    return {"deleted": message["deleted"], "body": message["body"]}


def test_every_removal_leaves_the_same_tombstone_and_audit_row(cast):
    room, host, guest, moderator = cast
    by_api = _say(room, guest, "one")
    by_tools = _say(room, guest, "two")
    by_moderator = _say(room, guest, "three")

    assert _api(host).delete(f"/api/v1/messages/{by_api.pk}/").status_code == 204
    tools = f"/rooms/{room.pk}/moderation/"
    _web(host).post(tools, {"op": "delete_message", "message_id": by_tools.pk, "reason": "r"})
    _web(moderator).post(
        tools, {"op": "delete_message", "message_id": by_moderator.pk, "reason": "r"}
    )

    reader = _api(guest)
    for message in (by_api, by_tools, by_moderator):
        assert _tombstone(reader, room.pk, message.pk) == {"deleted": True, "body": ""}
    same = {"action": "hide_message", "subject_id": guest.pk, "room_id": room.pk}
    assert _row(by_api.pk) == {**same, "by": "host", "reason": ""}
    assert _row(by_tools.pk) == {**same, "by": "host", "reason": "r"}
    assert _row(by_moderator.pk) == {**same, "by": "moderator", "reason": "r"}


def test_the_author_deleting_their_own_message_is_not_audited(cast):
    room, _host, guest, _moderator = cast
    message = _say(room, guest, "oops")
    assert _api(guest).delete(f"/api/v1/messages/{message.pk}/").status_code == 204
    assert _tombstone(_api(guest), room.pk, message.pk)["deleted"] is True
    assert not AuditLogEntry.objects.filter(target_type="message", target_id=message.pk).exists()


def test_a_member_cannot_remove_someone_elses_message_either_way(cast, make_user, make_member):
    room, host, guest, _moderator = cast
    message = _say(room, host, "mine")
    assert _api(guest).delete(f"/api/v1/messages/{message.pk}/").status_code == 403
    page = _web(guest).post(
        f"/rooms/{room.pk}/moderation/", {"op": "delete_message", "message_id": message.pk}
    )
    assert page.status_code == 404
    assert _tombstone(_api(guest), room.pk, message.pk)["deleted"] is False
