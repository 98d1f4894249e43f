"""The rooms API contract: create, read, edit, join, leave, members, roles, requests, invites."""

import json

import pytest

from community.rooms.models import Interest, Membership, Room
from profiles.models import Profile
from tests.support.accounts import client_for


@pytest.fixture
def interest(db):
    return Interest.objects.create(slug="jazz", name_en="Jazz", name_ko="재즈", name_ja="ジャズ")


@pytest.fixture
def room(make_room, owner, interest):
    return make_room(owner=owner, title="Late-night jazz", interests=[interest])


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "fields"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code


# --- create / read / edit -----------------------------------------------------------------


def test_create_room_makes_the_creator_owner(auth_client, interest):
    response = auth_client.post(
        "/api/v1/rooms/",
        {
            "title": "Vinyl nights",
            "description": "Records only",
            "language": "ko",
            "nickname": "digger",
            "interests": ["jazz"],
            "hashtags": ["#Vinyl", "ＶＩＮＹＬ", "records"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Vinyl nights"
    assert body["member_count"] == 1
    assert body["capacity"] == 1500
    assert body["viewer_membership"]["role"] == "owner"
    assert isinstance(body["viewer_membership"]["id"], int)
    # Full-width and case variants collide into one hashtag.
    assert sorted(body["hashtags"]) == ["Vinyl", "records"]
    assert [i["slug"] for i in body["interests"]] == ["jazz"]
    interest.refresh_from_db()
    assert interest.room_count == 1


def test_create_room_validates_input(auth_client, settings):
    assert_error(auth_client.post("/api/v1/rooms/", {"title": "x"}), 400)  # no nickname
    assert_error(
        auth_client.post(
            "/api/v1/rooms/", {"title": "x", "nickname": "n", "join_policy": "password"}
        ),
        400,
    )
    assert_error(
        auth_client.post(
            "/api/v1/rooms/",
            {"title": "x", "nickname": "n", "capacity": settings.ROOM_MAX_CAPACITY + 1},
        ),
        400,
    )
    assert_error(auth_client.post("/api/v1/rooms/", {"title": "   ", "nickname": "n"}), 400)
    assert Room.objects.count() == 0


def test_anonymous_cannot_create(api_client):
    response = api_client.post("/api/v1/rooms/", {"title": "x", "nickname": "n"})
    assert response.status_code in (401, 403)


def test_room_detail_shows_viewer_membership(room, owner, make_user, make_member):
    stranger = make_user()
    body = client_for(stranger).get(f"/api/v1/rooms/{room.pk}/").json()
    assert body["viewer_membership"] is None
    membership = make_member(room, stranger)
    body = client_for(stranger).get(f"/api/v1/rooms/{room.pk}/").json()
    assert body["viewer_membership"] == {"id": membership.pk, "role": "member"}


def test_only_hosts_edit_the_room(room, owner, make_user, make_member):
    member = make_user()
    membership = make_member(room, member)
    response = client_for(member).patch(f"/api/v1/rooms/{room.pk}/", {"title": "Mine now"})
    assert_error(response, 403)
    # A co-host may edit.
    client_for(owner).patch(f"/api/v1/rooms/{room.pk}/members/{membership.pk}/", {"role": "cohost"})
    response = client_for(member).patch(
        f"/api/v1/rooms/{room.pk}/", {"title": "Cohosted", "hashtags": ["bebop"]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Cohosted"
    assert response.json()["hashtags"] == ["bebop"]


def test_capacity_cannot_drop_below_member_count(room, owner, make_user, make_member):
    for _ in range(3):
        make_member(room, make_user())
    response = client_for(owner).patch(f"/api/v1/rooms/{room.pk}/", {"capacity": 2})
    assert_error(response, 400)


# --- joining ---------------------------------------------------------------------------------


def test_join_open_room(room, make_user):
    joiner = make_user()
    response = client_for(joiner).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Sunny"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "joined"
    assert body["membership"]["nickname"] == "Sunny"
    assert body["membership"]["role"] == "member"
    room.refresh_from_db()
    assert room.member_count == 2


def test_join_needs_a_nickname(room, make_user):
    assert_error(client_for(make_user()).post(f"/api/v1/rooms/{room.pk}/join/", {}), 400)


def test_join_password_room(make_room, make_user):
    room = make_room(join_policy="password", password="open sesame")
    joiner = client_for(make_user())
    url = f"/api/v1/rooms/{room.pk}/join/"
    assert_error(joiner.post(url, {"nickname": "n", "password": "nope"}), 403, "wrong_password")
    assert joiner.post(url, {"nickname": "n", "password": "open sesame"}).status_code == 201


def test_approval_room_request_then_approve(make_room, owner, make_user):
    room = make_room(owner=owner, join_policy="approval")
    asker = make_user()
    response = client_for(asker).post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Asker", "message": "hi!"}
    )
    assert response.status_code == 202, response.content
    request_id = response.json()["join_request"]["id"]
    assert response.json()["status"] == "pending"
    # Asking twice answers the same pending request.
    again = client_for(asker).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Asker"})
    assert again.json()["join_request"]["id"] == request_id
    # Not a member yet: cannot list members of... a public room is readable, but not a member.
    assert client_for(asker).get(f"/api/v1/rooms/{room.pk}/").json()["viewer_membership"] is None
    # Only hosts see and decide requests.
    assert_error(client_for(asker).get(f"/api/v1/rooms/{room.pk}/requests/"), 403)
    assert_error(
        client_for(asker).post(f"/api/v1/rooms/{room.pk}/requests/{request_id}/approve/"), 403
    )
    listed = client_for(owner).get(f"/api/v1/rooms/{room.pk}/requests/").json()["results"]
    assert [r["nickname"] for r in listed] == ["Asker"]
    response = client_for(owner).post(f"/api/v1/rooms/{room.pk}/requests/{request_id}/approve/")
    assert response.status_code == 200, response.content
    assert response.json()["nickname"] == "Asker"
    room.refresh_from_db()
    assert room.member_count == 2
    # Deciding twice is a clear 404, not a second membership.
    assert_error(
        client_for(owner).post(f"/api/v1/rooms/{room.pk}/requests/{request_id}/approve/"), 404
    )


def test_approval_room_decline(make_room, owner, make_user):
    room = make_room(owner=owner, join_policy="approval")
    asker = make_user()
    request_id = (
        client_for(asker)
        .post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Asker"})
        .json()["join_request"]["id"]
    )
    response = client_for(owner).post(f"/api/v1/rooms/{room.pk}/requests/{request_id}/decline/")
    assert response.json()["state"] == "declined"
    assert not Membership.objects.filter(room=room, user=asker).exists()


def test_withdraw_a_join_request(make_room, owner, make_user):
    room = make_room(owner=owner, join_policy="approval")
    asker = client_for(make_user())
    asker.post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Asker"})
    assert asker.get(f"/api/v1/rooms/{room.pk}/").json()["viewer_has_pending_request"] is True
    assert asker.delete(f"/api/v1/rooms/{room.pk}/join/").status_code == 204
    assert asker.get(f"/api/v1/rooms/{room.pk}/").json()["viewer_has_pending_request"] is False
    assert client_for(owner).get(f"/api/v1/rooms/{room.pk}/requests/").json()["results"] == []


def test_full_room_refuses_joins(make_room, make_user, make_member):
    room = make_room(capacity=2)
    make_member(room, make_user())
    assert_error(
        client_for(make_user()).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "late"}),
        409,
        "room_full",
    )


def test_banned_user_cannot_rejoin(room, owner, make_user, make_member):
    troll = make_user()
    membership = make_member(room, troll)
    ban = client_for(owner).post(f"/api/v1/rooms/{room.pk}/members/{membership.pk}/ban/")
    assert ban.status_code == 204
    room.refresh_from_db()
    assert room.member_count == 1
    response = client_for(troll).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "again"})
    assert_error(response, 403, "banned")
    # Unbanned, they may come back.
    unban = client_for(owner).post(f"/api/v1/rooms/{room.pk}/members/{membership.pk}/unban/")
    assert unban.status_code == 204
    response = client_for(troll).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "again"})
    assert response.status_code == 201


def test_members_cannot_ban_or_mute(room, make_user, make_member):
    a, b = make_user(), make_user()
    make_member(room, a)
    target = make_member(room, b)
    assert_error(client_for(a).post(f"/api/v1/rooms/{room.pk}/members/{target.pk}/ban/"), 403)
    assert_error(
        client_for(a).post(f"/api/v1/rooms/{room.pk}/members/{target.pk}/mute/", {"minutes": 5}),
        403,
    )


def test_mute_sets_muted_until(room, owner, make_user, make_member):
    target = make_member(room, make_user())
    response = client_for(owner).post(
        f"/api/v1/rooms/{room.pk}/members/{target.pk}/mute/", {"minutes": 10}
    )
    assert response.status_code == 200
    assert response.json()["muted_until"]
    target.refresh_from_db()
    assert target.muted_until is not None


def test_archived_room_refuses_joins(room, owner, make_user):
    client_for(owner).post(f"/api/v1/rooms/{room.pk}/leave/", {"archive": True})
    response = client_for(make_user()).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "n"})
    assert_error(response, 403, "closed")


# --- roles -------------------------------------------------------------------------------------


def test_only_hosts_change_roles(room, owner, make_user, make_member):
    a, b = make_user(), make_user()
    ma, mb = make_member(room, a), make_member(room, b)
    url = f"/api/v1/rooms/{room.pk}/members/{mb.pk}/"
    assert_error(client_for(a).patch(url, {"role": "cohost"}), 403)
    assert client_for(owner).patch(url, {"role": "cohost"}).json()["role"] == "cohost"
    # A co-host cannot demote another co-host, nor touch the owner.
    client_for(owner).patch(f"/api/v1/rooms/{room.pk}/members/{ma.pk}/", {"role": "cohost"})
    assert_error(client_for(a).patch(url, {"role": "member"}), 403)
    owner_membership = Membership.objects.get(room=room, user=owner)
    assert_error(
        client_for(a).patch(
            f"/api/v1/rooms/{room.pk}/members/{owner_membership.pk}/", {"role": "member"}
        ),
        403,
    )
    # Nobody becomes owner by a role change.
    assert_error(client_for(owner).patch(url, {"role": "owner"}), 400)


# --- leave and ownership ---------------------------------------------------------------------


def test_member_leaves(room, make_user, make_member):
    leaver = make_user()
    make_member(room, leaver)
    response = client_for(leaver).post(f"/api/v1/rooms/{room.pk}/leave/")
    assert response.status_code == 204
    room.refresh_from_db()
    assert room.member_count == 1
    assert_error(client_for(leaver).post(f"/api/v1/rooms/{room.pk}/leave/"), 404)


def test_owner_must_hand_over_or_archive(room, owner, make_user, make_member):
    heir = make_member(room, make_user())
    assert_error(
        client_for(owner).post(f"/api/v1/rooms/{room.pk}/leave/"), 409, "owner_must_hand_over"
    )
    response = client_for(owner).post(f"/api/v1/rooms/{room.pk}/leave/", {"successor_id": heir.pk})
    assert response.status_code == 204
    room.refresh_from_db()
    heir.refresh_from_db()
    assert heir.role == "owner"
    assert room.owner_id == heir.user_id
    assert room.member_count == 1
    assert not room.is_archived


def test_owner_archives_on_leaving(room, owner):
    response = client_for(owner).post(f"/api/v1/rooms/{room.pk}/leave/", {"archive": True})
    assert response.status_code == 204
    room.refresh_from_db()
    assert room.is_archived


def test_transfer_ownership(room, owner, make_user, make_member):
    heir_user = make_user()
    heir = make_member(room, heir_user)
    assert_error(
        client_for(heir_user).post(
            f"/api/v1/rooms/{room.pk}/transfer/", {"membership_id": heir.pk}
        ),
        403,
    )
    response = client_for(owner).post(
        f"/api/v1/rooms/{room.pk}/transfer/", {"membership_id": heir.pk}
    )
    assert response.json()["role"] == "owner"
    me = client_for(owner).get(f"/api/v1/rooms/{room.pk}/").json()["viewer_membership"]
    assert me["role"] == "cohost"


# --- visibility and invites -------------------------------------------------------------------


def test_only_members_read_a_private_room(make_room, owner, make_user, make_member):
    room = make_room(owner=owner, visibility="private")
    outsider = client_for(make_user())
    assert_error(outsider.get(f"/api/v1/rooms/{room.pk}/"), 404)
    assert_error(outsider.get(f"/api/v1/rooms/{room.pk}/members/"), 404)
    assert_error(outsider.post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "n"}), 404)
    assert client_for(owner).get(f"/api/v1/rooms/{room.pk}/").status_code == 200


def test_invite_link_opens_a_private_room(make_room, owner, make_user):
    room = make_room(owner=owner, visibility="private", join_policy="password", password="pw")
    invite = client_for(owner).post(f"/api/v1/rooms/{room.pk}/invites/", {}).json()
    assert invite["url"].endswith(f"/invite/{invite['code']}/")
    guest_user = make_user()
    guest = client_for(guest_user)
    preview = guest.get(f"/api/v1/invites/{invite['code']}/")
    assert preview.status_code == 200
    assert preview.json()["title"] == room.title
    response = guest.post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "guest", "invite_code": invite["code"]}
    )
    assert response.status_code == 201, response.content
    assert guest.get(f"/api/v1/rooms/{room.pk}/").status_code == 200
    assert_error(guest.get("/api/v1/invites/not-a-code/"), 404)


def test_members_cannot_invite_to_private_rooms(make_room, owner, make_user, make_member):
    room = make_room(owner=owner, visibility="private")
    member = make_user()
    Membership.objects.create(room=room, user=member, nickname="m")
    assert_error(client_for(member).post(f"/api/v1/rooms/{room.pk}/invites/", {}), 403)


def test_used_up_invite_is_refused(make_room, owner, make_user):
    room = make_room(owner=owner, visibility="unlisted")
    code = (
        client_for(owner).post(f"/api/v1/rooms/{room.pk}/invites/", {"max_uses": 1}).json()["code"]
    )
    first = client_for(make_user()).post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "a", "invite_code": code}
    )
    assert first.status_code == 201
    second = client_for(make_user()).post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "b", "invite_code": code}
    )
    assert_error(second, 400, "invalid_invite")


def test_unlisted_room_is_not_listed_but_reachable(make_room, make_user):
    room = make_room(title="Secret garden", visibility="unlisted")
    viewer = client_for(make_user())
    listed = viewer.get("/api/v1/rooms/", {"q": "garden"}).json()["results"]
    assert listed == []
    assert viewer.get(f"/api/v1/rooms/{room.pk}/").status_code == 200


def test_web_public_room_readable_without_account(make_room, api_client):
    public = make_room(is_web_public=True)
    members_only = make_room()
    assert api_client.get(f"/api/v1/rooms/{public.pk}/").status_code == 200
    assert api_client.get(f"/api/v1/rooms/{members_only.pk}/").status_code == 404


# --- open profiles -----------------------------------------------------------------------------


def _identity_strings(user) -> list[str]:
    profile = Profile.objects.filter(user=user).first()
    values = [user.username]
    if profile:
        values += [profile.handle, profile.display_name]
    return [v for v in values if v]


def test_open_profile_never_leaks_the_main_profile(room, owner, make_user, make_member):
    secret = make_user("secret_agent_7", email="agent@example.com")
    membership = make_member(room, secret, nickname="Shadow")
    viewer = client_for(owner)
    payloads = [
        viewer.get(f"/api/v1/rooms/{room.pk}/members/").content,
        viewer.get(f"/api/v1/rooms/{room.pk}/").content,
        client_for(secret).get(f"/api/v1/rooms/{room.pk}/").content,
        viewer.post(
            f"/api/v1/rooms/{room.pk}/members/{membership.pk}/mute/", {"minutes": 1}
        ).content,
    ]
    members = json.loads(payloads[0])["results"]
    assert {"nickname": "Shadow", "profile_handle": None}.items() <= next(
        m for m in members if m["id"] == membership.pk
    ).items()
    for payload in payloads:
        text = payload.decode()
        for identity in _identity_strings(secret):
            assert identity not in text
        assert "agent@example.com" not in text
        assert f'"user": {secret.pk}' not in text and '"user_id"' not in text


def test_closed_profile_shows_main_handle(room, make_user, make_member):
    shown = make_user("showme")
    membership = make_member(room, shown, nickname="Shown")
    response = client_for(shown).patch(
        f"/api/v1/rooms/{room.pk}/membership/", {"is_open_profile": False}
    )
    assert response.status_code == 200
    handle = Profile.objects.get(user=shown).handle
    members = client_for(shown).get(f"/api/v1/rooms/{room.pk}/members/").json()["results"]
    entry = next(m for m in members if m["id"] == membership.pk)
    assert entry["profile_handle"] == handle
    assert "showme" not in json.dumps({k: v for k, v in entry.items() if k != "profile_handle"})


def test_interests_list(api_client, interest):
    body = api_client.get("/api/v1/interests/").json()
    assert body["results"][0]["slug"] == "jazz"
    assert body["results"][0]["name_ko"] == "재즈"


def test_socket_events_show_members_by_nickname_only(
    room, owner, make_user, django_capture_on_commit_callbacks, layer_listener
):
    listener = layer_listener(room.group_name)
    secret = make_user("secret_joiner")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(secret).post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Ghost"})
    membership_id = response.json()["membership"]["id"]
    event = listener.next_event()
    assert event["type"] == "member.joined"
    assert event["member"]["id"] == membership_id
    assert event["member"]["nickname"] == "Ghost"
    text = json.dumps(event)
    for identity in _identity_strings(secret):
        assert identity not in text
    assert '"user' not in text
    with django_capture_on_commit_callbacks(execute=True):
        client_for(secret).post(f"/api/v1/rooms/{room.pk}/leave/")
    event = listener.next_event()
    # Leaving takes the one removal path (the membership state machine): everyone in the
    # room gets member.removed.
    assert event == {
        "type": "member.removed",
        "room_id": room.pk,
        "membership_id": membership_id,
        "reason": "left",
    }


def test_unlisted_room_cannot_be_web_public(room, owner):
    client_for(owner).patch(f"/api/v1/rooms/{room.pk}/", {"is_web_public": True})
    room.refresh_from_db()
    assert room.is_web_public
    client_for(owner).patch(f"/api/v1/rooms/{room.pk}/", {"visibility": "unlisted"})
    room.refresh_from_db()
    assert not room.is_web_public
