"""The room's notice everywhere: ``GET /rooms/<id>/announcement/``, the room payload, the
socket's ``ready`` and ``room.announcement``, with who set it (room nickname) and when;
hosts pin a message as the notice; deleting or hiding that message takes it down."""

import pytest
from channels.db import database_sync_to_async

from community.chat.services import check_send_message, delete_message
from community.moderation.models import AuditLogEntry, RoomAnnouncement
from community.moderation.services import check_hide_message
from community.rooms.models import Membership, Room
from tests.community.chat_support import next_event, ready_socket
from tests.community.moderation_helpers import make_moderator, owner_membership
from tests.support.accounts import TEST_PASSWORD, client_for

pytestmark = pytest.mark.django_db
# The room card's queries, its offer (commerce: price and the viewer's access) and the notice.
ROOM_DETAIL_QUERIES = 6


def notice_url(room) -> str:
    return f"/api/v1/rooms/{room.pk}/announcement/"


@pytest.fixture
def hosted(make_room, make_user, make_member):
    """A public room: its owner ("host-owner"), a co-host on an open profile, a member."""
    owner = make_user("owner")
    room = make_room(owner=owner, nickname="boss")
    cohost = make_member(room, make_user("cohost"), nickname="co-host nick")
    Membership.objects.filter(pk=cohost.pk).update(role=Membership.Role.COHOST)
    member = make_member(room, make_user("member"), nickname="plain")
    return {"room": room, "owner": owner_membership(room), "cohost": cohost, "member": member}


def _say(membership, body: str):
    return check_send_message(membership=membership, body=body).message


def test_no_notice_reads_null_everywhere(hosted):
    room, member = hosted["room"], hosted["member"]
    client = client_for(member.user)
    assert client.get(notice_url(room)).json() == {"announcement": None}
    assert client.get(f"/api/v1/rooms/{room.pk}/").json()["announcement"] is None


def test_a_written_notice_is_read_with_who_set_it_and_when(hosted):
    room, cohost = hosted["room"], hosted["cohost"]
    put = client_for(cohost.user).put(notice_url(room), {"body": "Be kind <3"}, format="json")
    assert put.status_code == 200
    notice = put.json()["announcement"]
    assert notice["body"] == "Be kind <3"
    # The setter by room nickname only: no account, username or handle.
    assert notice["pinned_by"] == {"membership_id": cohost.pk, "nickname": "co-host nick"}
    assert notice["message"] is None
    assert notice["pinned_at"]
    assert cohost.user.username not in str(notice)

    for client in (client_for(hosted["member"].user), client_for(hosted["owner"].user)):
        assert client.get(notice_url(room)).json() == {"announcement": notice}
        assert client.get(f"/api/v1/rooms/{room.pk}/").json()["announcement"] == notice


def test_a_site_moderator_sets_the_notice_without_a_nickname(hosted, make_user):
    room = hosted["room"]
    moderator = make_moderator(make_user, "mod")
    client_for(moderator).put(notice_url(room), {"body": "Read the rules"}, format="json")
    notice = client_for(hosted["member"].user).get(notice_url(room)).json()["announcement"]
    assert notice["body"] == "Read the rules"
    assert notice["pinned_by"] is None


def test_a_host_pins_a_message_as_the_notice(hosted, django_capture_on_commit_callbacks):
    room, owner, member = hosted["room"], hosted["owner"], hosted["member"]
    message = _say(member, "  Meet at Hongdae station, exit 9  ")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(owner.user).post(
            notice_url(room), {"message_id": message.pk}, format="json"
        )
    assert response.status_code == 200
    notice = response.json()["announcement"]
    assert notice["body"] == "Meet at Hongdae station, exit 9"
    assert notice["message"] == {"id": message.pk, "seq": message.seq}
    assert notice["pinned_by"] == {"membership_id": owner.pk, "nickname": "boss"}
    assert callbacks  # room.announcement goes out on commit
    entry = AuditLogEntry.objects.get(action="pin")
    assert entry.details == {"body": notice["body"], "message_id": message.pk}

    # The author's later edit does not change what the host pinned.
    client_for(member.user).patch(
        f"/api/v1/messages/{message.pk}/", {"body": "something else"}, format="json"
    )
    assert client_for(member.user).get(notice_url(room)).json()["announcement"] == notice

    # Writing a notice afterwards replaces the pinned message.
    client_for(owner.user).put(notice_url(room), {"body": "New rules"}, format="json")
    assert RoomAnnouncement.objects.get(room=room).message is None


def test_only_hosts_pin_and_only_messages_of_the_room(hosted, make_room, make_user):
    room, member = hosted["room"], hosted["member"]
    message = _say(member, "pin me")
    refused = client_for(member.user).post(
        notice_url(room), {"message_id": message.pk}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_host"

    # A message of another room (even one the host can read) is missing here.
    elsewhere = make_room(owner=hosted["owner"].user, title="Other room")
    other = _say(owner_membership(elsewhere), "other room")
    owner = client_for(hosted["owner"].user)
    assert owner.post(notice_url(room), {"message_id": other.pk}, format="json").status_code == 404
    assert owner.post(notice_url(room), {"message_id": 10**9}, format="json").status_code == 404
    assert owner.post(notice_url(room), {"message_id": "x"}, format="json").status_code == 400
    assert owner.post(notice_url(room), {}, format="json").status_code == 400

    # Deleted messages and messages without text cannot be pinned.
    gone = _say(member, "gone")
    delete_message(user_id=member.user_id, message_id=gone.pk)
    assert owner.post(notice_url(room), {"message_id": gone.pk}, format="json").status_code == 404
    assert not RoomAnnouncement.objects.exists()


def test_a_long_message_is_cut_to_the_notice_length(hosted):
    room, owner = hosted["room"], hosted["owner"]
    message = _say(owner, "가" * 3000)
    notice = (
        client_for(owner.user)
        .post(notice_url(room), {"message_id": message.pk}, format="json")
        .json()["announcement"]
    )
    assert len(notice["body"]) == 1000
    assert notice["body"].endswith("…")


@pytest.mark.parametrize("remove", ["author_deletes", "host_deletes", "moderator_hides"])
def test_removing_the_pinned_message_takes_the_notice_down(
    remove, hosted, make_user, django_capture_on_commit_callbacks
):
    room, owner, member = hosted["room"], hosted["owner"], hosted["member"]
    message = _say(member, "the plan")
    client_for(owner.user).post(notice_url(room), {"message_id": message.pk}, format="json")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        if remove == "author_deletes":
            delete_message(user_id=member.user_id, message_id=message.pk)
        elif remove == "host_deletes":
            delete_message(user_id=owner.user_id, message_id=message.pk)
        else:
            check_hide_message(
                actor=make_moderator(make_user, "mod"), message_id=message.pk, reason="spam"
            )
    assert callbacks
    assert not RoomAnnouncement.objects.exists()
    assert client_for(member.user).get(notice_url(room)).json() == {"announcement": None}


def test_deleting_an_account_and_its_messages_takes_their_pinned_text_down(hosted):
    room, owner, member = hosted["room"], hosted["owner"], hosted["member"]
    message = _say(member, "my words")
    client_for(owner.user).post(notice_url(room), {"message_id": message.pk}, format="json")
    gone = client_for(member.user).delete(
        "/api/v1/me/", {"password": TEST_PASSWORD, "messages": "delete"}, format="json"
    )
    assert gone.status_code == 204
    assert not RoomAnnouncement.objects.exists()
    assert client_for(owner.user).get(notice_url(room)).json() == {"announcement": None}


def test_who_may_read_the_notice(hosted, make_room, make_user, make_member, client):
    room = hosted["room"]
    client_for(hosted["owner"].user).put(notice_url(room), {"body": "Hello"}, format="json")
    outsider = client_for(make_user("outsider"))
    # A public room's notice shows on its page to anyone signed in.
    assert outsider.get(notice_url(room)).status_code == 200
    # Not readable without an account: hidden exactly like a missing room.
    assert client.get(notice_url(room)).status_code == 404

    private = make_room(owner=make_user("p_owner"), visibility=Room.Visibility.PRIVATE)
    missing = outsider.get(f"/api/v1/rooms/{private.pk + 1000}/announcement/")
    hidden = outsider.get(notice_url(private))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_the_room_detail_reads_the_notice_in_constant_queries(hosted, django_assert_num_queries):
    room, owner = hosted["room"], hosted["owner"]
    client = client_for(hosted["member"].user)
    client.get(f"/api/v1/rooms/{room.pk}/")  # warm the caches
    # The room card's queries, plus one for the notice, whether there is one or not.
    with django_assert_num_queries(ROOM_DETAIL_QUERIES):
        assert client.get(f"/api/v1/rooms/{room.pk}/").json()["announcement"] is None
    message = _say(owner, "pinned")
    client_for(owner.user).post(notice_url(room), {"message_id": message.pk}, format="json")
    with django_assert_num_queries(ROOM_DETAIL_QUERIES):
        assert client.get(f"/api/v1/rooms/{room.pk}/").json()["announcement"]["body"] == "pinned"


def test_the_room_page_shows_who_set_the_notice(hosted):
    room, cohost = hosted["room"], hosted["cohost"]
    client_for(cohost.user).put(notice_url(room), {"body": "No <spoilers>"}, format="json")
    page = client_for(hosted["member"].user, session=True).get(f"/rooms/{room.pk}/")
    html = page.content.decode()
    assert "No &lt;spoilers&gt;" in html
    assert "Set by co-host nick" in html
    assert cohost.user.username not in html.split("chat-notice-meta", 1)[1].split("</p>")[0]


# --- over the socket ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_socket_carries_the_notice_on_ready_and_live(hosted):
    room, owner, member = hosted["room"], hosted["owner"], hosted["member"]
    owner_user = await database_sync_to_async(lambda: owner.user)()
    member_user = await database_sync_to_async(lambda: member.user)()
    socket, ready = await ready_socket(member_user, room.pk)
    assert ready["announcement"] is None

    message = await database_sync_to_async(_say)(member, "Friday 8pm at the usual place")
    await next_event(socket, "message.created")
    response = await database_sync_to_async(client_for(owner_user).post)(
        notice_url(room), {"message_id": message.pk}, format="json"
    )
    assert response.status_code == 200
    event = await next_event(socket, "room.announcement")
    assert event["announcement"] == response.json()["announcement"]
    assert event["announcement"]["pinned_by"]["nickname"] == "boss"
    assert event["announcement"]["message"] == {"id": message.pk, "seq": message.seq}

    # A reconnecting client gets the notice in ready.
    second, ready_again = await ready_socket(member_user, room.pk)
    assert ready_again["announcement"] == event["announcement"]
    await second.disconnect()

    # Deleting the pinned message: message.deleted, then the notice goes.
    await socket.send_json_to({"type": "message.delete", "id": message.pk})
    await next_event(socket, "message.deleted")
    gone = await next_event(socket, "room.announcement")
    assert gone == {"type": "room.announcement", "room_id": room.pk, "announcement": None}
    await socket.disconnect()
