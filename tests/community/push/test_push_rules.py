"""What is pushed and when: room levels, quiet hours, a room's messages collapsed into
one notification, nothing while the room is open, blocks, the per-user cap, and the
other kinds (join requests and decisions, tips, moderation notices). Checked at the
local push service, with the payloads decrypted."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from commerce.services import send_tip
from commerce.services.topups import create_topup
from community.chat.presence import socket_offline, socket_online
from community.chat.services import send_message
from community.moderation.services import check_kick_member
from community.notifications.services import (
    set_room_notification_level,
    update_notification_settings,
)
from community.rooms.models import JoinRequest, MemberBlock, Membership, Room
from community.rooms.services import approve_join_request, decline_join_request, join_room
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(push_service):
    """Subscribe ``user`` in the push service and register it; returns the subscription."""

    def subscribe(user):
        subscription = push_service.subscribe()
        response = client_for(user).post(
            "/api/v1/me/push-devices/",
            {"platform": "web", "subscription": subscription.as_json()},
            format="json",
        )
        assert response.status_code == 201
        return subscription

    return subscribe


@pytest.fixture
def room_setup(room_with_two, subscribed):
    room, host, guest = room_with_two
    return room, Membership.objects.get(room=room, user=host), guest, subscribed(guest)


def _payloads(push_service, subscription):
    return [push["payload"] for push in push_service.messages_for(subscription)]


def test_room_messages_collapse_into_one_notification_per_room(room_setup, push_service, pushes):
    room, host_member, guest, subscription = room_setup

    def three():
        for text in ("one", "two", "three"):
            send_message(membership=host_member, body=text)

    pushes(three)
    [first] = _payloads(push_service, subscription)
    assert first["tag"] == f"room-{room.pk}"
    assert first["body"] == f"{host_member.nickname}: three (3 new messages)"
    assert first["badge"] == 3
    assert push_service.messages_for(subscription)[0]["topic"] == f"room-{room.pk}"

    pushes(lambda: send_message(membership=host_member, body="four"))
    second = _payloads(push_service, subscription)[1]
    # The same tag: the shown notification is replaced, with the new count.
    assert (second["tag"], second["badge"]) == (first["tag"], 4)

    # Reading the room resets the count.
    guest_member = Membership.objects.get(room=room, user=guest)
    Membership.objects.filter(pk=guest_member.pk).update(
        last_read_seq=Room.objects.get(pk=room.pk).last_message_seq
    )
    pushes(lambda: send_message(membership=host_member, body="five"))
    assert _payloads(push_service, subscription)[2]["body"] == f"{host_member.nickname}: five"


def test_room_levels_decide(room_setup, push_service, pushes):
    room, host_member, guest, subscription = room_setup
    set_room_notification_level(user=guest, room_id=room.pk, level="mentions")
    pushes(lambda: send_message(membership=host_member, body="plain news"))
    assert _payloads(push_service, subscription) == []
    pushes(lambda: send_message(membership=host_member, body="@Guest for you"))
    assert [p["data"]["kind"] for p in _payloads(push_service, subscription)] == ["mention"]

    set_room_notification_level(user=guest, room_id=room.pk, level="muted")
    pushes(lambda: send_message(membership=host_member, body="@Guest again"))
    pushes(lambda: send_message(membership=host_member, body="and plain"))
    assert len(_payloads(push_service, subscription)) == 1


def test_nothing_is_pushed_while_the_room_is_open_on_any_device(room_setup, push_service, pushes):
    room, host_member, guest, subscription = room_setup
    guest_member = Membership.objects.get(room=room, user=guest)
    channel = {"room_id": room.pk, "group": room.group_name, "membership_id": guest_member.pk}
    socket_online(**channel, channel_name="tab-1")
    pushes(lambda: send_message(membership=host_member, body="@Guest you are here"))
    pushes(lambda: send_message(membership=host_member, body="plain"))
    assert _payloads(push_service, subscription) == []

    socket_offline(**channel, channel_name="tab-1")
    pushes(lambda: send_message(membership=host_member, body="@Guest gone now?"))
    assert [p["data"]["kind"] for p in _payloads(push_service, subscription)] == ["mention"]


def test_quiet_hours_in_the_users_time_zone(room_setup, push_service, pushes):
    _room, host_member, guest, subscription = room_setup
    guest.timezone = "Asia/Seoul"
    guest.save(update_fields=["timezone"])
    local_now = timezone.now().astimezone(zoneinfo.ZoneInfo("Asia/Seoul"))
    start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    update_notification_settings(user=guest, quiet_hours_start=start, quiet_hours_end=end)
    pushes(lambda: send_message(membership=host_member, body="@Guest at night"))
    pushes(lambda: send_message(membership=host_member, body="plain at night"))
    assert _payloads(push_service, subscription) == []
    # The notification itself is kept for the centre.
    assert guest.notifications.filter(kind="mention").exists()

    later = (datetime.combine(local_now.date(), end) + timedelta(hours=1)).time()
    update_notification_settings(user=guest, quiet_hours_start=end, quiet_hours_end=later)
    pushes(lambda: send_message(membership=host_member, body="@Guest morning"))
    assert len(_payloads(push_service, subscription)) == 1


def test_blocked_members_do_not_reach_you(room_setup, make_user, make_member, push_service, pushes):
    room, host_member, guest, subscription = room_setup
    pest = make_member(room, make_user("pest"), nickname="Pest")
    MemberBlock.objects.create(blocker=guest, membership=pest, room=room)
    pushes(lambda: send_message(membership=pest, body="@Guest hello?"))
    pushes(lambda: send_message(membership=pest, body="hello??"))
    assert _payloads(push_service, subscription) == []
    pushes(lambda: send_message(membership=host_member, body="welcome all"))
    [payload] = _payloads(push_service, subscription)
    # The room push shows the newest message the guest may see, not the pest's.
    assert payload["body"].startswith(f"{host_member.nickname}: welcome all")


def test_a_busy_room_cannot_flood_a_phone(room_setup, push_service, pushes, settings):
    _room, host_member, guest, subscription = room_setup
    settings.PUSH_MAX_PER_USER = 2
    for number in range(4):
        pushes(lambda n=number: send_message(membership=host_member, body=f"@Guest ping {n}"))
    assert len(_payloads(push_service, subscription)) == 2
    assert guest.notifications.filter(kind="mention").count() == 4


def test_join_requests_decisions_tips_and_sanctions_are_pushed(
    make_user, make_room, subscribed, push_service, pushes
):
    host, asker = make_user("host"), make_user("asker")
    room = make_room(owner=host, join_policy="approval", title="Quiet club")
    host_sub, asker_sub = subscribed(host), subscribed(asker)

    request = pushes(lambda: join_room(room_id=room.pk, user=asker, nickname="Newbie"))
    assert isinstance(request, JoinRequest)
    [to_host] = _payloads(push_service, host_sub)
    assert to_host["body"] == "Newbie asked to join Quiet club"
    assert to_host["data"]["kind"] == "join_request"

    pushes(lambda: approve_join_request(room_id=room.pk, request_id=request.pk, actor=host))
    [decision] = _payloads(push_service, asker_sub)
    assert decision["body"] == "Your request to join Quiet club was accepted"

    member = Membership.objects.get(room=room, user=asker)
    message = send_message(membership=Membership.objects.get(room=room, user=host), body="hi")
    Membership.objects.filter(pk=member.pk).update(last_read_seq=message.seq)
    create_topup(user=asker, amount=10_000, currency="KRW")
    pushes(lambda: send_tip(sender=asker, amount=1000, currency="KRW", message_id=message.pk))
    tip = _payloads(push_service, host_sub)[-1]
    assert tip["data"]["kind"] == "tip" and "Newbie" in tip["body"]
    assert "asker" not in tip["body"]

    pushes(lambda: check_kick_member(actor=host, room_id=room.pk, member_id=member.pk))
    kicked = _payloads(push_service, asker_sub)[-1]
    assert kicked["data"]["kind"] == "moderation"
    assert kicked["body"].startswith("You were removed from Quiet club")


def test_a_declined_request_is_pushed_too(make_user, make_room, subscribed, push_service, pushes):
    host, asker = make_user("host"), make_user("asker")
    room = make_room(owner=host, join_policy="approval", title="Quiet club")
    asker_sub = subscribed(asker)
    request = join_room(room_id=room.pk, user=asker, nickname="Newbie")
    pushes(lambda: decline_join_request(room_id=room.pk, request_id=request.pk, actor=host))
    [decision] = _payloads(push_service, asker_sub)
    assert decision["body"] == "Your request to join Quiet club was declined"


def test_a_room_round_costs_the_same_queries_for_more_members(
    make_user, make_room, make_member, subscribed, push_service
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from community.push.services import deliver_room_pushes

    host = make_user("host")
    room = make_room(owner=host)
    host_member = Membership.objects.get(room=room, user=host)

    def round_with(new_members: int) -> int:
        for _ in range(new_members):
            guest = make_user()
            make_member(room, guest)
            subscribed(guest)
        send_message(membership=host_member, body="news for everyone")
        before = len(push_service.received)
        with CaptureQueriesContext(connection) as queries:
            deliver_room_pushes(room_id=room.pk)
        assert len(push_service.received) > before
        return len(queries)

    assert round_with(2) == round_with(3)
