"""Host tools as people use them: one member menu on the member list and the room
tools, a confirmation naming the person before a kick, a ban or a hand-over, and an
"Undo" for a kick (web and API) that only the host who kicked can use, for a moment."""

import pytest
from django.test import Client

from community.moderation import selectors as moderation_selectors
from community.moderation.models import AuditLogEntry
from community.rooms.models import Membership, Room
from tests.community.moderation_helpers import make_moderator
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(make_room):
    return make_room(title="Board games", nickname="Host")


@pytest.fixture
def target(room, make_user, make_member):
    return make_member(room, make_user("target"), nickname="<i>Minji</i>")


@pytest.fixture
def cohost(room, make_user, make_member):
    member = make_member(room, make_user("cohost"), nickname="Co")
    Membership.objects.filter(pk=member.pk).update(role=Membership.Role.COHOST)
    return Membership.objects.get(pk=member.pk)


def web(user) -> Client:
    return client_for(user, session=True)


def confirm_url(room, member, action: str) -> str:
    return f"/rooms/{room.pk}/members/{member.pk}/confirm/{action}/"


def test_both_pages_show_the_same_menu_with_confirmations(room, target):
    client = web(room.owner)
    for url in (f"/rooms/{room.pk}/members/", f"/rooms/{room.pk}/moderation/"):
        page = client.get(url).content.decode()
        assert page.count('<details class="member-menu">') == 1, url  # not on the owner
        for action in ("kick", "ban", "transfer"):
            assert confirm_url(room, target, action) in page, (url, action)
        # Ban is destructive, not the primary button; kick no longer acts on one click.
        assert 'button-danger" href="' + confirm_url(room, target, "ban") in page
        assert 'name="op" value="kick"' not in page
        # Hand-over sits with the roles, apart from the sanctions.
        roles, sanctions = page.split("member-menu-danger")[0], page.split("member-menu-danger")[1]
        assert confirm_url(room, target, "transfer") in roles
        assert confirm_url(room, target, "transfer") not in sanctions


def test_confirmations_name_the_person_and_say_what_happens(room, target):
    client = web(room.owner)
    page = client.get(confirm_url(room, target, "kick")).content.decode()
    assert "Kick “&lt;i&gt;Minji&lt;/i&gt;” out of the room?" in page
    assert "You can undo it for 30 seconds." in page
    page = client.get(confirm_url(room, target, "ban")).content.decode()
    assert "Ban “&lt;i&gt;Minji&lt;/i&gt;” from the room?" in page and "appeal" in page
    page = client.get(confirm_url(room, target, "transfer")).content.decode()
    assert "Hand the room over to “&lt;i&gt;Minji&lt;/i&gt;”?" in page
    # Nothing happened by looking.
    assert Membership.objects.get(pk=target.pk).state == "active"
    assert not AuditLogEntry.objects.exists()


def test_confirmations_are_only_for_those_who_may_act(room, target, cohost, make_user):
    # Members and strangers: no such page. A co-host may not hand the room over, nor act
    # on the owner or themselves; nobody confirms an unknown action.
    owner_membership = Membership.objects.get(room=room, user=room.owner)
    assert web(target.user).get(confirm_url(room, cohost, "kick")).status_code == 404
    assert web(make_user()).get(confirm_url(room, target, "kick")).status_code == 404
    assert web(cohost.user).get(confirm_url(room, target, "kick")).status_code == 200
    assert web(cohost.user).get(confirm_url(room, target, "transfer")).status_code == 404
    assert web(cohost.user).get(confirm_url(room, owner_membership, "ban")).status_code == 404
    assert web(cohost.user).get(confirm_url(room, cohost, "kick")).status_code == 404
    assert web(room.owner).get(confirm_url(room, target, "delete")).status_code == 404
    # The member menu of a co-host has no hand-over.
    page = web(cohost.user).get(f"/rooms/{room.pk}/members/").content.decode()
    assert confirm_url(room, target, "transfer") not in page
    # A site moderator uses the room tools' menu, without the roles.
    moderator = make_moderator(make_user, "mod")
    page = web(moderator).get(f"/rooms/{room.pk}/moderation/").content.decode()
    assert confirm_url(room, target, "kick") in page and "Make co-host" not in page


def test_a_kick_shows_a_notice_whose_undo_brings_the_same_member_back(room, target):
    client = web(room.owner)
    back = f"/rooms/{room.pk}/members/"
    response = client.post(
        f"/rooms/{room.pk}/moderation/", {"op": "kick", "member_id": target.pk, "next": back}
    )
    assert response.status_code == 302
    notice = response["Location"]
    assert notice.startswith(f"/rooms/{room.pk}/members/{target.pk}/kicked/")
    page = client.get(notice).content.decode()
    assert "“&lt;i&gt;Minji&lt;/i&gt;” was removed from the room." in page
    assert 'value="undo_kick"' in page
    assert Membership.objects.get(pk=target.pk).state == "left"
    assert Room.objects.get(pk=room.pk).member_count == 1

    response = client.post(
        f"/rooms/{room.pk}/moderation/",
        {"op": "undo_kick", "member_id": target.pk, "next": back},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == back
    assert "is back in the room." in response.content.decode()
    member = Membership.objects.get(pk=target.pk)
    assert (member.state, member.nickname, member.left_at) == ("active", "<i>Minji</i>", None)
    assert Room.objects.get(pk=room.pk).member_count == 2
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "kick",
        "undo_kick",
    ]
    # Undone once: nothing more to undo.
    assert 'value="undo_kick"' not in client.get(notice).content.decode()


def test_only_the_host_who_kicked_can_undo_and_only_for_a_moment(room, target, cohost, monkeypatch):
    api = client_for(room.owner)
    kick = f"/api/v1/rooms/{room.pk}/members/{target.pk}/kick/"
    undo = f"/api/v1/rooms/{room.pk}/members/{target.pk}/kick/undo/"
    assert api.post(kick, {"reason": "cool down"}, format="json").status_code == 204
    response = client_for(cohost.user).post(undo)
    assert response.status_code == 409 and response.json()["error"]["code"] == "undo_expired"
    assert client_for(target.user).post(undo).status_code == 403
    # After the window, the kick stands.
    monkeypatch.setattr(moderation_selectors, "KICK_UNDO_SECONDS", 0)
    response = api.post(undo)
    assert response.status_code == 409 and response.json()["error"]["code"] == "undo_expired"
    monkeypatch.undo()
    assert api.post(undo).status_code == 204
    assert Membership.objects.get(pk=target.pk).state == "active"
    # A ban is not a kick: no undo.
    api.post(f"/api/v1/rooms/{room.pk}/members/{target.pk}/ban/", {"reason": "x"}, format="json")
    assert api.post(undo).json()["error"]["code"] == "undo_expired"


def test_undo_is_refused_when_they_came_back_or_the_nickname_was_taken(
    room, target, make_user, make_member
):
    api = client_for(room.owner)
    undo = f"/api/v1/rooms/{room.pk}/members/{target.pk}/kick/undo/"
    api.post(f"/api/v1/rooms/{room.pk}/members/{target.pk}/kick/", {}, format="json")
    make_member(room, make_user("other"), nickname="<I>minji</I>")
    response = api.post(undo)
    assert response.status_code == 409 and response.json()["error"]["code"] == "nickname_taken"
    assert Membership.objects.get(pk=target.pk).state == "left"
    Membership.objects.filter(nickname="<I>minji</I>").delete()
    make_member(room, target.user, nickname="Back again")
    response = api.post(undo)
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_member"


def test_members_with_their_main_profile_link_to_it_open_profiles_do_not(
    room, target, make_user, make_member
):
    shown = make_member(room, make_user("shown"), nickname="Shown", is_open_profile=False)
    page = web(target.user).get(f"/rooms/{room.pk}/members/").content.decode()
    assert f'href="/u/{shown.user.profile.handle}/"' in page
    assert f"/u/{target.user.profile.handle}/" not in page
    assert f"/u/{room.owner.profile.handle}/" not in page
