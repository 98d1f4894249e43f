"""Room pages: create, edit, room page, join flows, members, leave, invites, Open Graph."""

import pytest

from community.rooms.models import Interest, JoinRequest, Membership, Room
from profiles.models import Profile
from tests.support.accounts import client_for


@pytest.fixture
def room(make_room, owner):
    return make_room(owner=owner, title="Late-night jazz", description="Share a track")


def test_create_room_page(make_user, db):
    Interest.objects.create(slug="jazz", name_en="Jazz")
    creator = make_user()
    client = client_for(creator, session=True)
    assert client.get("/rooms/new/").status_code == 200
    response = client.post(
        "/rooms/new/",
        {
            "title": "Bebop",
            "nickname": "Bird",
            "description": "fast tunes",
            "language": "en",
            "interests": [Interest.objects.get().pk],
            "hashtags": "#bebop, #Parker",
            "visibility": "public",
            "join_policy": "open",
            "capacity": 100,
            "slow_mode_seconds": 0,
        },
    )
    room = Room.objects.get(title="Bebop")
    assert response.status_code == 302
    assert response["Location"] == f"/rooms/{room.pk}/"
    assert sorted(room.hashtags.values_list("label", flat=True)) == ["Parker", "bebop"]
    # The owner lands in the room's chat; its page (info) is in the chat's menu.
    page = client.get(f"/rooms/{room.pk}/").content.decode()
    assert "community/includes/chat.html" not in page
    assert 'class="chat' in page and f'href="/rooms/{room.pk}/info/"' in page
    page = client.get(f"/rooms/{room.pk}/info/").content.decode()
    assert "Bird" in page  # "You are “Bird” here"


def test_create_room_shows_service_errors_in_place(make_user):
    client = client_for(make_user(), session=True)
    response = client.post(
        "/rooms/new/",
        {
            "title": "Locked",
            "nickname": "me",
            "language": "en",
            "visibility": "public",
            "join_policy": "password",
            "capacity": 10,
            "slow_mode_seconds": 0,
        },
    )
    assert response.status_code == 200
    assert "A password room needs a password." in response.content.decode()
    assert not Room.objects.exists()


def test_anonymous_must_log_in_to_create(client, db):
    response = client.get("/rooms/new/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_edit_room_page_for_hosts_only(room, owner, make_user, make_member):
    member = make_user()
    make_member(room, member)
    assert client_for(member, session=True).get(f"/rooms/{room.pk}/edit/").status_code == 404
    client = client_for(owner, session=True)
    assert client.get(f"/rooms/{room.pk}/edit/").status_code == 200
    response = client.post(
        f"/rooms/{room.pk}/edit/",
        {
            "title": "Early-morning jazz",
            "language": "ja",
            "visibility": "public",
            "join_policy": "open",
            "capacity": 50,
            "slow_mode_seconds": 5,
        },
    )
    assert response.status_code == 302
    room.refresh_from_db()
    assert (room.title, room.language, room.capacity, room.slow_mode_seconds) == (
        "Early-morning jazz",
        "ja",
        50,
        5,
    )


def test_join_open_room_page(room, make_user):
    joiner = make_user()
    client = client_for(joiner, session=True)
    page = client.get(f"/rooms/{room.pk}/")
    assert "Join room" in page.content.decode()
    response = client.post(
        f"/rooms/{room.pk}/join/", {"nickname": "Sunny", "is_open_profile": "on"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(room=room, user=joiner).nickname == "Sunny"


def test_join_password_room_page(make_room, make_user):
    room = make_room(join_policy="password", password="secret")
    client = client_for(make_user(), session=True)
    response = client.post(f"/rooms/{room.pk}/join/", {"nickname": "n", "password": "bad"})
    assert response.status_code == 200
    assert "Wrong room password." in response.content.decode()
    response = client.post(f"/rooms/{room.pk}/join/", {"nickname": "n", "password": "secret"})
    assert response.status_code == 302


def test_request_flow_pages(make_room, owner, make_user):
    room = make_room(owner=owner, join_policy="approval")
    asker = make_user()
    client = client_for(asker, session=True)
    client.post(f"/rooms/{room.pk}/join/", {"nickname": "Asker", "message": "let me in"})
    join_request = JoinRequest.objects.get(room=room, user=asker)
    assert (
        "Your request is waiting for a host." in client.get(f"/rooms/{room.pk}/").content.decode()
    )
    assert client.get(f"/rooms/{room.pk}/requests/").status_code == 404
    host = client_for(owner, session=True)
    page = host.get(f"/rooms/{room.pk}/requests/").content.decode()
    assert "Asker" in page and "let me in" in page
    host.post(f"/rooms/{room.pk}/requests/", {"request_id": join_request.pk, "decision": "approve"})
    assert Membership.objects.get(room=room, user=asker).state == "active"


def test_private_room_page_is_hidden_and_invite_opens_it(make_room, owner, make_user):
    room = make_room(owner=owner, visibility="private", title="Hidden den")
    outsider = client_for(make_user(), session=True)
    assert outsider.get(f"/rooms/{room.pk}/").status_code == 404
    assert outsider.get(f"/rooms/{room.pk}/join/").status_code == 404
    host = client_for(owner, session=True)
    page = host.post(f"/rooms/{room.pk}/invite/").content.decode()
    code = room.invites.get().code
    assert f"/invite/{code}/" in page
    invite_page = outsider.get(f"/invite/{code}/")
    assert "Hidden den" in invite_page.content.decode()
    response = outsider.post(f"/rooms/{room.pk}/join/", {"nickname": "guest", "invite_code": code})
    assert response.status_code == 302
    assert outsider.get(f"/rooms/{room.pk}/").status_code == 200
    assert outsider.get("/invite/bogus/").status_code == 404


def test_member_list_shows_nicknames_only(room, owner, make_user, make_member):
    hidden = make_user("hidden_person")
    make_member(room, hidden, nickname="Moonlight")
    shown = make_user("shown_person")
    shown_membership = make_member(room, shown, nickname="Daylight")
    Membership.objects.filter(pk=shown_membership.pk).update(is_open_profile=False)
    page = client_for(owner, session=True).get(f"/rooms/{room.pk}/members/").content.decode()
    assert "Moonlight" in page and "Daylight" in page
    hidden_profile = Profile.objects.get(user=hidden)
    assert "hidden_person" not in page
    assert hidden_profile.handle not in page
    assert f"@{Profile.objects.get(user=shown).handle}" in page


def test_host_actions_from_member_list(room, owner, make_user, make_member):
    target = make_member(room, make_user())
    client = client_for(owner, session=True)
    client.post(f"/rooms/{room.pk}/members/{target.pk}/role/", {"role": "cohost"})
    target.refresh_from_db()
    assert target.role == "cohost"
    # Banning from the member list posts to the room tools (one URL per action) and
    # comes back to the list.
    members_url = f"/rooms/{room.pk}/members/"
    page = client.get(members_url).content.decode()
    assert f'action="/rooms/{room.pk}/moderation/"' in page
    response = client.post(
        f"/rooms/{room.pk}/moderation/",
        {"op": "ban", "member_id": target.pk, "next": members_url},
    )
    assert response.status_code == 302 and response["Location"] == members_url
    target.refresh_from_db()
    assert target.state == "banned"
    # The old per-action web URL is gone.
    again = make_member(room, make_user())
    assert client.post(f"/rooms/{room.pk}/members/{again.pk}/ban/").status_code == 404
    # A plain member has no such powers, and an outside "next" is never followed.
    other = make_user()
    victim = make_member(room, make_user())
    make_member(room, other)
    refused = client_for(other, session=True).post(
        f"/rooms/{room.pk}/moderation/", {"op": "ban", "member_id": victim.pk}
    )
    assert refused.status_code == 404
    outside = client.post(
        f"/rooms/{room.pk}/moderation/",
        {"op": "mute", "member_id": victim.pk, "minutes": 10, "next": "https://evil.example/"},
    )
    assert outside["Location"] == f"/rooms/{room.pk}/moderation/"


def test_owner_leave_page_requires_hand_over_or_archive(room, owner, make_user, make_member):
    heir = make_member(room, make_user(), nickname="Heir")
    client = client_for(owner, session=True)
    page = client.get(f"/rooms/{room.pk}/leave/").content.decode()
    assert "Heir" in page
    response = client.post(f"/rooms/{room.pk}/leave/", {})
    assert "Hand the room over" in response.content.decode()
    response = client.post(f"/rooms/{room.pk}/leave/", {"successor": heir.pk})
    assert response.status_code == 302
    heir.refresh_from_db()
    assert heir.role == "owner"


def test_web_public_room_has_open_graph_and_reads_without_account(make_room, client):
    room = make_room(title="Jazz for everyone", description="Come listen", is_web_public=True)
    response = client.get(f"/rooms/{room.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta property="og:title" content="Jazz for everyone">' in page
    assert '<meta property="og:description" content="Come listen">' in page
    assert f"/rooms/{room.pk}/" in page
    assert "noindex" not in page


def test_rooms_are_not_web_public_by_default(make_room, client):
    room = make_room()
    response = client.get(f"/rooms/{room.pk}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_members_page_of_non_web_public_room_needs_account(make_room, client):
    room = make_room()
    assert client.get(f"/rooms/{room.pk}/members/").status_code == 404


def test_my_membership_page_changes_nickname(room, make_user, make_member):
    me = make_user()
    membership = make_member(room, me, nickname="Old")
    response = client_for(me, session=True).post(f"/rooms/{room.pk}/me/", {"nickname": "New"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.nickname == "New"
    assert membership.is_open_profile is False  # unchecked box turns the open profile off


@pytest.mark.parametrize("count", [3, 30])
def test_member_list_query_counts_are_fixed(
    count, room, owner, make_user, make_member, django_assert_max_num_queries
):
    for number in range(count):
        membership = make_member(room, make_user())
        if number % 2:
            Membership.objects.filter(pk=membership.pk).update(is_open_profile=False)
    client = client_for(owner, session=True)
    # One more on the page than the API: the members the viewer blocked in the room.
    with django_assert_max_num_queries(8):
        assert client.get(f"/rooms/{room.pk}/members/").status_code == 200
    with django_assert_max_num_queries(7):
        response = client.get(f"/api/v1/rooms/{room.pk}/members/")
    assert len(response.json()["results"]) == min(count + 1, 30)
