"""The web side: the hosts' room tools page, the report form, the appeal form."""

import pytest
from django.test import Client
from django.urls import reverse

from community.chat.screening import hold_message
from community.moderation.models import (
    Appeal,
    AuditLogEntry,
    BlockedPattern,
    ModerationCase,
    RoomAnnouncement,
)
from community.moderation.services import check_ban_member
from community.rooms.models import Membership, Room
from tests.community.moderation_helpers import make_moderator, owner_membership
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = client_for(user, session=True)
    return client


@pytest.fixture
def room(make_room):
    return make_room(title="Board <games>")


@pytest.fixture
def target(room, make_user, make_member):
    return make_member(room, make_user("target"), nickname="<b>troll</b>")


def tools_url(room) -> str:
    return reverse("room-moderation", args=[room.pk])


def test_only_hosts_and_moderators_see_the_tools(room, target, make_user, make_member):
    cohost = make_member(room, make_user(), nickname="co")
    Membership.objects.filter(pk=cohost.pk).update(role=Membership.Role.COHOST)
    url = tools_url(room)
    assert Client().get(url).status_code == 302
    assert logged_in(target.user).get(url).status_code == 404
    assert logged_in(make_user()).get(url).status_code == 404
    for user in (room.owner, cohost.user, make_moderator(make_user, "mod")):
        response = logged_in(user).get(url)
        assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;b&gt;troll&lt;/b&gt;" in html and "<b>troll</b>" not in html
    assert "Board &lt;games&gt;" in html


def test_a_member_cannot_post_to_the_tools(room, target, make_user, make_member):
    other = make_member(room, make_user(), nickname="other")
    response = logged_in(other.user).post(tools_url(room), {"op": "kick", "member_id": target.pk})
    assert response.status_code == 404
    assert Membership.objects.get(pk=target.pk).state == "active"


def test_host_kicks_mutes_bans_and_unbans_from_the_page(room, target):
    client = logged_in(room.owner)
    url = tools_url(room)
    page = client.post(url, {"op": "mute", "member_id": target.pk, "minutes": "10"}, follow=True)
    assert "Mute updated." in page.content.decode()
    client.post(url, {"op": "ban", "member_id": target.pk, "reason": "spam"})
    assert Membership.objects.get(pk=target.pk).state == "banned"
    client.post(url, {"op": "unban", "member_id": target.pk})
    assert Membership.objects.get(pk=target.pk).state == "left"
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "mute",
        "ban",
        "unban",
    ]


def test_errors_are_shown_in_place(room, target):
    client = logged_in(room.owner)
    page = client.post(
        tools_url(room), {"op": "kick", "member_id": owner_membership(room).pk}, follow=True
    )
    assert page.status_code == 200
    assert "You cannot do that to yourself." in page.content.decode()
    bad = client.post(tools_url(room), {"op": "kick", "member_id": "abc"}, follow=True)
    assert "Invalid request." in bad.content.decode()
    pattern = client.post(
        tools_url(room),
        {"op": "add_filter", "kind": "pattern", "text": "(", "action": "block"},
        follow=True,
    )
    assert "That filter cannot be used." in pattern.content.decode()


def test_settings_filters_and_held_messages_from_the_page(room, target):
    client = logged_in(room.owner)
    url = tools_url(room)
    client.post(url, {"op": "slow_mode", "seconds": "20"})
    assert Room.objects.get(pk=room.pk).slow_mode_seconds == 20
    client.post(url, {"op": "announcement", "body": "Welcome!"})
    assert RoomAnnouncement.objects.get(room=room).body == "Welcome!"
    client.post(url, {"op": "add_filter", "kind": "word", "text": "spoiler", "action": "hold"})
    rule = BlockedPattern.objects.get(room=room)
    held = hold_message(membership=target, body="spoiler alert", rule_kind="room_word")
    page = client.get(url).content.decode()
    assert "spoiler alert" in page and "Welcome!" in page
    client.post(url, {"op": "reject", "held_id": held.pk})
    client.post(url, {"op": "remove_filter", "filter_id": rule.pk})
    assert not BlockedPattern.objects.exists()


def test_tools_page_runs_a_fixed_number_of_queries(
    room, make_user, make_member, django_assert_max_num_queries
):
    client = logged_in(room.owner)

    def populate(count):
        for _ in range(count):
            member = make_member(room, make_user())
            hold_message(membership=member, body="held", rule_kind="room_word")
            BlockedPattern.objects.create(room=room, kind="word", text=f"w{member.pk}")
            check_ban_member(actor=room.owner, room_id=room.pk, member_id=member.pk)

    populate(3)
    with django_assert_max_num_queries(30) as small:
        assert client.get(tools_url(room)).status_code == 200
    populate(27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(tools_url(room)).status_code == 200


def test_report_form(room, target, make_user):
    client = logged_in(make_user())
    url = reverse("report", args=["member", target.pk])
    assert client.get(url).status_code == 200
    done = client.post(url, {"reason": "harassment", "text": "keeps insulting"})
    assert "Your report was received" in done.content.decode()
    assert ModerationCase.objects.get().membership_id == target.pk
    again = client.post(url, {"reason": "harassment"})
    assert "already reported" in again.content.decode()
    assert client.get(reverse("report", args=["user", 1])).status_code == 404
    assert Client().get(url).status_code == 302


def test_appeal_form_once(room, target):
    check_ban_member(actor=room.owner, room_id=room.pk, member_id=target.pk, reason="x")
    client = logged_in(target.user)
    url = reverse("appeal") + f"?member={target.pk}"
    # The notices page offers the appeal, once.
    assert url in client.get(reverse("appeal-list")).content.decode()
    assert client.get(url).status_code == 200
    response = client.post(reverse("appeal"), {"member": target.pk, "text": "I was hacked"})
    assert response.status_code == 302
    assert Appeal.objects.get().text == "I was hacked"
    again = client.post(reverse("appeal"), {"member": target.pk, "text": "again"})
    assert "already appealed" in again.content.decode()
    listing = client.get(reverse("appeal-list")).content.decode()
    assert "I was hacked" in listing
    assert url not in listing
    # Not suspended: nothing to appeal.
    not_suspended = client.post(reverse("appeal"), {"text": "x"})
    assert "not suspended" in not_suspended.content.decode()


def test_room_page_links_the_tools_shows_the_announcement_and_offers_reporting(
    room, target, make_user
):
    from community.moderation.services import check_pin_announcement

    check_pin_announcement(actor=room.owner, room_id=room.pk, body="No <spoilers>")
    host_page = logged_in(room.owner).get(reverse("room-detail", args=[room.pk])).content.decode()
    assert tools_url(room) in host_page
    assert "No &lt;spoilers&gt;" in host_page
    member_page = logged_in(target.user).get(reverse("room-detail", args=[room.pk]))
    html = member_page.content.decode()
    assert tools_url(room) not in html
    assert reverse("report", args=["room", room.pk]) in html
    tools = logged_in(room.owner).get(tools_url(room)).content.decode()
    assert reverse("room-members", args=[room.pk]) in tools


def test_members_page_offers_reporting_a_member_by_membership(room, target, make_user):
    html = logged_in(room.owner).get(reverse("room-members", args=[room.pk])).content.decode()
    assert reverse("report", args=["member", target.pk]) in html
    # Nobody is offered to report themselves.
    assert reverse("report", args=["member", owner_membership(room).pk]) not in html


def test_chat_gets_report_links_for_members_only(room, target, make_user):
    script = "js/moderation.js"
    member_page = logged_in(target.user).get(reverse("room-detail", args=[room.pk]))
    html = member_page.content.decode()
    assert script in html
    assert f'data-report-url="{reverse("report", args=["message", 0])}"' in html
    outsider_page = logged_in(make_user()).get(reverse("room-detail", args=[room.pk]))
    assert script not in outsider_page.content.decode()
