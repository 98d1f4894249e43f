"""Open profiles must not leak (issue #19).

- Blocking an account never singles out an open profile: nothing the blocker can observe
  (history flags, the socket's ``blocks.changed``, the room preview, notifications,
  reaction counts) differs for an anonymous membership of the account they blocked.
  Inside a room one blocks a *member*, by membership.
- Leaving and joining again is a new identity (a new membership id).
- Nicknames are unique in a room after folding; hosts and co-hosts carry a badge.

Each test is written the way the attack was made against the old code.
"""

import pytest
from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.test import Client

from community.chat.services import send_message
from community.rooms.models import Membership
from community.rooms.services import (
    block_member,
    join_room,
    leave_room,
    update_my_membership,
)
from config.errors import ConflictError
from profiles.services import block_user
from tests.community.chat_support import (
    next_event,
    no_event,
    ready_socket,
)
from tests.support.accounts import client_for


@pytest.fixture
def cast(make_user, make_room, make_member):
    """Mallory wants to know whether the nickname "Quiet Fox" is her colleague Victor
    (handle "victor"). Both are in a web-public room run by Hana ("Captain")."""
    hana, victor, mallory = make_user("hana"), make_user("victor"), make_user("mallory")
    room = make_room(owner=hana, title="Night owls", nickname="Captain", is_web_public=True)
    fox = make_member(room, victor, nickname="Quiet Fox")
    mallory_member = make_member(room, mallory, nickname="Curious")
    assert fox.is_open_profile
    return {
        "room": room,
        "hana": hana,
        "victor": victor,
        "mallory": mallory,
        "fox": fox,
        "mallory_member": mallory_member,
        "host": Membership.objects.get(room=room, user=hana),
    }


def _history(user, room_id: int) -> list[dict]:
    response = client_for(user).get(f"/api/v1/rooms/{room_id}/messages/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _page(user, path: str):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(path)


# --- blocking by handle does not unmask a nickname ------------------------------------------


@pytest.mark.django_db
def test_blocking_a_handle_changes_nothing_the_blocker_sees_of_an_open_profile(cast, make_user):
    room, fox, host = cast["room"], cast["fox"], cast["host"]
    said = send_message(membership=fox, body="fox speaks")
    send_message(membership=host, body="@Curious look", reply_to_id=said.pk)
    from community.reactions.services import check_add_reaction

    check_add_reaction(user=cast["victor"], target_type="message", target_id=said.pk, emoji="👍")
    reader = make_user("reader")  # not a member: reads the web-public preview
    before = _history(cast["mallory"], room.pk)
    preview_before = _page(reader, f"/rooms/{room.pk}/").content.decode()

    for blocker in (cast["mallory"], reader):
        response = client_for(blocker).post("/api/v1/users/victor/block/")
        assert response.status_code in (200, 201), response.content

    after = _history(cast["mallory"], room.pk)
    assert after == before
    assert [m["collapsed"] for m in after] == [False, False]
    assert after[1]["reply_to"]["collapsed"] is False
    assert after[0]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    preview = _page(reader, f"/rooms/{room.pk}/").content.decode()
    assert "fox speaks" in preview
    assert "Message from someone you blocked" not in preview
    assert preview.count("fox speaks") == preview_before.count("fox speaks")
    # Victor's open profile still mentions and notifies Mallory.
    send_message(membership=fox, body="@Curious hello")
    from community.notifications.models import Notification

    assert Notification.objects.filter(recipient=cast["mallory"], kind="mention").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_socket_never_names_an_open_profile_of_a_blocked_account(cast):
    room, fox = cast["room"], cast["fox"]
    socket, _ = await ready_socket(cast["mallory"], room.pk)
    await database_sync_to_async(block_user)(blocker=cast["mallory"], blocked=cast["victor"])
    changed = await next_event(socket, "blocks.changed")
    assert changed["collapsed_membership_ids"] == []
    await database_sync_to_async(send_message)(membership=fox, body="still unfolded")
    created = await next_event(socket, "message.created")
    assert created["message"]["collapsed"] is False
    # Turning the main profile on makes the account block apply: Victor chose to show it.
    await database_sync_to_async(update_my_membership)(
        room_id=room.pk, user=cast["victor"], is_open_profile=False
    )
    await next_event(socket, "member.updated")
    await database_sync_to_async(send_message)(membership=fox, body="now by main profile")
    assert (await next_event(socket, "message.created"))["message"]["collapsed"] is True
    await socket.disconnect()


# --- blocking a member, per room ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_blocking_a_member_folds_them_for_me_only(cast):
    room, fox = cast["room"], cast["fox"]
    mine, _ = await ready_socket(cast["mallory"], room.pk)
    theirs, _ = await ready_socket(cast["hana"], room.pk)
    url = f"/api/v1/rooms/{room.pk}/members/{fox.pk}/block/"

    response = await database_sync_to_async(client_for(cast["mallory"]).post)(url)
    assert response.status_code == 204
    changed = await next_event(mine, "blocks.changed")
    assert changed["collapsed_membership_ids"] == [fox.pk]
    await no_event(theirs, "blocks.changed")
    await database_sync_to_async(send_message)(membership=fox, body="folded for mallory")
    assert (await next_event(mine, "message.created"))["message"]["collapsed"] is True
    assert (await next_event(theirs, "message.created"))["message"]["collapsed"] is False

    listed = await database_sync_to_async(client_for(cast["mallory"]).get)(
        f"/api/v1/rooms/{room.pk}/blocks/"
    )
    assert [row["membership_id"] for row in listed.json()["results"]] == [fox.pk]
    assert listed.json()["results"][0]["nickname"] == "Quiet Fox"

    response = await database_sync_to_async(client_for(cast["mallory"]).delete)(url)
    assert response.status_code == 204
    assert (await next_event(mine, "blocks.changed"))["collapsed_membership_ids"] == []
    await mine.disconnect()
    await theirs.disconnect()


@pytest.mark.django_db
def test_a_member_block_silences_mentions_and_reactions_of_that_member(cast):
    from community.notifications.models import Notification
    from community.reactions.services import check_add_reaction

    room, fox = cast["room"], cast["fox"]
    block_member(room_id=room.pk, actor=cast["mallory"], membership_id=fox.pk)
    send_message(membership=fox, body="@Curious psst")
    assert not Notification.objects.filter(recipient=cast["mallory"]).exists()
    mine = send_message(membership=cast["mallory_member"], body="my message")
    check_add_reaction(user=cast["victor"], target_type="message", target_id=mine.pk, emoji="🔥")
    assert not Notification.objects.filter(recipient=cast["mallory"]).exists()
    history = _history(cast["mallory"], room.pk)
    assert [m["collapsed"] for m in history] == [True, False]
    assert history[1]["reactions"] == []


@pytest.mark.django_db
def test_member_block_refusals(cast, make_room, make_user):
    room, fox = cast["room"], cast["fox"]
    mallory = client_for(cast["mallory"])
    own = f"/api/v1/rooms/{room.pk}/members/{cast['mallory_member'].pk}/block/"
    assert mallory.post(own).status_code == 400
    other_room = make_room(owner=make_user(), title="Elsewhere")
    stranger = Membership.objects.get(room=other_room)
    wrong = f"/api/v1/rooms/{room.pk}/members/{stranger.pk}/block/"
    assert mallory.post(wrong).status_code == 404
    outsider = client_for(make_user("outsider"))
    assert outsider.post(f"/api/v1/rooms/{room.pk}/members/{fox.pk}/block/").status_code == 403


@pytest.mark.django_db
def test_the_members_page_blocks_and_unblocks_a_member(cast):
    room, fox = cast["room"], cast["fox"]
    client = client_for(cast["mallory"], session=True)
    page = client.get(f"/rooms/{room.pk}/members/").content.decode()
    assert f"/rooms/{room.pk}/members/{fox.pk}/block/" in page
    response = client.post(f"/rooms/{room.pk}/members/{fox.pk}/block/")
    assert response.status_code == 302
    page = client.get(f"/rooms/{room.pk}/members/").content.decode()
    assert f"/rooms/{room.pk}/members/{fox.pk}/unblock/" in page
    client.post(f"/rooms/{room.pk}/members/{fox.pk}/unblock/")
    from community.rooms.models import MemberBlock

    assert not MemberBlock.objects.exists()


# --- a rejoin is a new identity ---------------------------------------------------------------


@pytest.mark.django_db
def test_leaving_and_joining_again_is_a_new_membership(cast):
    room, victor = cast["room"], cast["victor"]
    update_my_membership(room_id=room.pk, user=victor, is_open_profile=False)
    send_message(membership=cast["fox"], body="said with my main profile")
    leave_room(room_id=room.pk, user=victor)
    response = client_for(victor).post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "Masked"}, format="json"
    )
    assert response.status_code == 201, response.content
    new_id = response.json()["membership"]["id"]
    assert new_id != cast["fox"].pk
    send_message(membership=Membership.objects.get(pk=new_id), body="said with an open profile")
    history = _history(cast["mallory"], room.pk)
    authors = [(m["body"], m["author"]["membership_id"], m["author"]["nickname"]) for m in history]
    assert authors == [
        ("said with my main profile", cast["fox"].pk, "Quiet Fox"),
        ("said with an open profile", new_id, "Masked"),
    ]
    members = client_for(cast["mallory"]).get(f"/api/v1/rooms/{room.pk}/members/").json()
    row = next(m for m in members["results"] if m["id"] == new_id)
    assert row["profile_handle"] is None
    assert Membership.objects.filter(room=room, user=victor).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_after_a_rejoin_the_socket_speaks_as_the_new_membership(cast):
    room, victor = cast["room"], cast["victor"]
    await database_sync_to_async(leave_room)(room_id=room.pk, user=victor)
    rejoined = await database_sync_to_async(join_room)(
        room_id=room.pk, user=victor, nickname="Again"
    )
    socket, ready = await ready_socket(victor, room.pk)
    assert ready["membership_id"] == rejoined.pk != cast["fox"].pk
    await socket.disconnect()


@pytest.mark.django_db
def test_a_banned_member_cannot_rejoin_until_unbanned_then_gets_a_new_id(cast):
    from community.moderation.services import check_ban_member, check_unban_member
    from config.errors import PermissionDeniedError

    room, fox = cast["room"], cast["fox"]
    check_ban_member(room_id=room.pk, actor=cast["hana"], member_id=fox.pk)
    with pytest.raises(PermissionDeniedError):
        join_room(room_id=room.pk, user=cast["victor"], nickname="Sneaky")
    check_unban_member(room_id=room.pk, actor=cast["hana"], member_id=fox.pk)
    back = join_room(room_id=room.pk, user=cast["victor"], nickname="Quiet Fox")
    assert back.pk != fox.pk


# --- nicknames: unique after folding, hosts badged --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "look_alike",
    ["Captain", "captain", "ＣＡＰＴＡＩＮ", "Cap\u200btain", "\u202eCaptain", "Cаptain"],
)
def test_nobody_takes_the_hosts_nickname(cast, make_user, look_alike):
    room = cast["room"]
    response = client_for(make_user()).post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": look_alike}, format="json"
    )
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "nickname_taken"
    assert response.json()["error"]["message"] == "That nickname is taken in this room."
    # Nor by renaming oneself.
    response = client_for(cast["mallory"]).patch(
        f"/api/v1/rooms/{room.pk}/membership/", {"nickname": look_alike}, format="json"
    )
    assert response.status_code == 409
    assert Membership.objects.get(pk=cast["mallory_member"].pk).nickname == "Curious"


@pytest.mark.django_db
def test_the_join_form_says_the_nickname_is_taken(cast, make_user):
    client = client_for(make_user(), session=True)
    response = client.post(
        f"/rooms/{cast['room'].pk}/join/", {"nickname": "quiet fox", "is_open_profile": "on"}
    )
    assert response.status_code == 200
    assert "That nickname is taken in this room." in response.content.decode()


@pytest.mark.django_db
def test_a_departed_members_nickname_is_free_and_ones_own_is_kept(cast):
    room = cast["room"]
    update_my_membership(room_id=room.pk, user=cast["mallory"], nickname="CURIOUS")  # mine
    leave_room(room_id=room.pk, user=cast["victor"])
    assert join_room(room_id=room.pk, user=cast["mallory"], nickname="x").pk  # already in
    other = update_my_membership(room_id=room.pk, user=cast["mallory"], nickname="Quiet Fox")
    assert other.nickname == "Quiet Fox"


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_two_active_members_with_one_folded_nickname(cast):
    room = cast["room"]
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(room=room, user=cast["mallory"]).update(nickname_key="captain")


@pytest.mark.django_db
def test_hosts_and_cohosts_carry_a_badge_in_payloads_member_lists_and_the_chat(cast):
    from community.rooms.services import change_member_role

    room = cast["room"]
    change_member_role(
        room_id=room.pk, actor=cast["hana"], membership_id=cast["fox"].pk, role="cohost"
    )
    send_message(membership=cast["host"], body="from the host")
    send_message(membership=cast["fox"], body="from the co-host")
    send_message(membership=cast["mallory_member"], body="from a member")
    history = _history(cast["mallory"], room.pk)
    assert [m["author"]["role"] for m in history] == ["owner", "cohost", "member"]
    members = client_for(cast["mallory"]).get(f"/api/v1/rooms/{room.pk}/members/").json()
    assert {m["nickname"]: m["role"] for m in members["results"]} == {
        "Captain": "owner",
        "Quiet Fox": "cohost",
        "Curious": "member",
    }
    page = _page(cast["mallory"], f"/rooms/{room.pk}/").content.decode()
    assert 'class="badge chat-badge"' in page


@pytest.mark.django_db
def test_the_badges_and_block_action_are_translated_for_the_chat(client):
    """chat.js draws the badges and the block action from the script catalog."""
    import json

    for language, owner, cohost in (("ko", "방장", "부방장"), ("ja", "オーナー", "共同ホスト")):
        source = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        start = source.index("const newcatalog = ") + len("const newcatalog = ")
        catalog = json.JSONDecoder().raw_decode(source[start:])[0]
        assert (catalog["Owner"], catalog["Co-host"]) == (owner, cohost)
        block = (
            "Block this member? Their messages in this room are folded for you; they are not told."
        )
        assert catalog[block] != block


@pytest.mark.django_db
def test_a_race_past_the_check_is_a_409_not_a_500(cast, make_user, monkeypatch):
    """Two joins racing past the check (simulated by skipping it): the partial unique
    index refuses the second, and the service answers 409, not a 500."""
    from community.rooms import services as rooms

    monkeypatch.setattr(rooms, "_check_nickname_free", lambda *args, **kwargs: None)
    with pytest.raises(ConflictError) as caught:
        join_room(room_id=cast["room"].pk, user=make_user("racer"), nickname="ｃａｐｔａｉｎ")
    assert caught.value.code == "nickname_taken"


@pytest.mark.django_db
def test_the_key_follows_the_nickname_however_it_is_saved(cast):
    """Admin edits and seed data save the model directly: the key comes along."""
    member = Membership.objects.get(pk=cast["mallory_member"].pk)
    member.nickname = "Ｎｏｓｙ\u200d Parker"
    member.save(update_fields=["nickname"])
    member.refresh_from_db()
    assert member.nickname_key == "nosy parker"
