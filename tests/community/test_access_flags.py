"""The viewer's ``can_*`` flags (community/access.py) reach every client the same way:
the socket's ``ready`` frame, the room page's chat config, and the page's own controls."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from community.moderation.services import check_mute_member
from community.rooms.services import change_member_role
from tests.community.chat_support import (
    ready_socket,
)
from tests.community.moderation_helpers import moderators_group

MEMBER_FLAGS = {
    "can_read": True,
    "can_post": True,
    "can_moderate": False,
    "can_manage_members": False,
    "can_edit_room": False,
    "can_delete_any_message": False,
}
HOST_FLAGS = dict.fromkeys(MEMBER_FLAGS, True)


@pytest.fixture
def cast(make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    guest_ship = make_member(room, guest, nickname="Guest")
    return room, host, guest, guest_ship


def _page(user, room_id: int) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/rooms/{room_id}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_ready_frame_carries_the_members_flags(cast):
    room, host, guest, guest_ship = cast
    socket, ready = await ready_socket(host, room.pk)
    assert ready["permissions"] == HOST_FLAGS
    await socket.disconnect()
    socket, ready = await ready_socket(guest, room.pk)
    assert ready["permissions"] == MEMBER_FLAGS
    await socket.disconnect()
    # Muted, and then made a co-host: the next ready frame says so (no role arithmetic).
    await sync_to_async(check_mute_member)(
        actor=host, room_id=room.pk, member_id=guest_ship.pk, minutes=10
    )
    socket, ready = await ready_socket(guest, room.pk)
    assert ready["permissions"] == {**MEMBER_FLAGS, "can_post": False}
    await socket.disconnect()
    await sync_to_async(change_member_role)(
        room_id=room.pk, actor=host, membership_id=guest_ship.pk, role="cohost"
    )
    await sync_to_async(check_mute_member)(
        actor=host, room_id=room.pk, member_id=guest_ship.pk, minutes=0
    )
    socket, ready = await ready_socket(guest, room.pk)
    assert ready["permissions"] == HOST_FLAGS
    await socket.disconnect()


@pytest.mark.django_db
def test_the_room_page_gives_chat_js_the_flags_and_shows_controls_by_them(cast, make_user):
    room, host, guest, _guest_ship = cast
    host_page = _page(host, room.pk)
    assert 'data-can-delete-any-message="1"' in host_page
    assert 'data-can-moderate="1"' in host_page
    assert f'href="/rooms/{room.pk}/moderation/"' in host_page
    assert f'href="/rooms/{room.pk}/edit/"' in host_page
    guest_page = _page(guest, room.pk)
    assert 'data-can-delete-any-message="0"' in guest_page
    assert 'data-can-post="1"' in guest_page
    assert f'href="/rooms/{room.pk}/moderation/"' not in guest_page
    assert f'href="/rooms/{room.pk}/edit/"' not in guest_page
    assert "data-is-host" not in guest_page


@pytest.mark.django_db
def test_a_site_moderator_in_the_room_gets_the_room_tools_but_not_the_hosts_settings(
    cast, make_user, make_member
):
    room, _host, _guest, _guest_ship = cast
    moderator = make_user("mod")
    moderator.is_staff = True
    moderator.save(update_fields=["is_staff"])
    moderator.groups.add(moderators_group())
    make_member(room, moderator, nickname="Mod")
    page = _page(moderator, room.pk)
    assert f'href="/rooms/{room.pk}/moderation/"' in page
    assert f'href="/rooms/{room.pk}/edit/"' not in page
    assert 'data-can-moderate="1"' in page and 'data-can-delete-any-message="0"' in page


@pytest.mark.django_db
def test_the_member_list_offers_management_only_where_the_rank_allows(cast, make_user, make_member):
    room, host, guest, guest_ship = cast
    other = make_member(room, make_user(), nickname="Other")
    change_member_role(room_id=room.pk, actor=host, membership_id=guest_ship.pk, role="cohost")
    client = Client()
    client.force_login(guest)  # a co-host: manages plain members, not the owner or itself
    page = client.get(f"/rooms/{room.pk}/members/").content.decode()
    assert f'value="{other.pk}"' in page
    assert "Hand over ownership" not in page
    owner_ship = room.memberships.get(user=host)
    assert f'name="member_id" value="{owner_ship.pk}"' not in page
    assert f'name="member_id" value="{guest_ship.pk}"' not in page
