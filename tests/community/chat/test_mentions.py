"""@nickname mentions: resolved by room nickname only, stored, notified; replies notify."""

import pytest

from community.chat.services import send_message
from community.notifications.models import MessageMention, Notification
from community.notifications.services import set_room_notification_level
from community.rooms.models import Membership
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def jazz(make_user, make_room, make_member):
    """A room where Min-ji (main handle "minji", display name "Min-ji Kim") goes by
    the open-profile nickname "Blue Note"."""
    host = make_user("host")
    room = make_room(owner=host, nickname="Captain")
    minji = make_user("minji", display_name="Min-ji Kim")
    make_member(room, minji, nickname="Blue Note")
    poster = make_user("poster")
    make_member(room, poster, nickname="Bebop")
    members = {m.user.username: m for m in Membership.objects.filter(room=room)}
    return room, members


def post(room, user, body, **extra):
    return client_for(user).post(
        f"/api/v1/rooms/{room.pk}/messages/", {"body": body, **extra}, format="json"
    )


def test_mention_by_room_nickname_is_stored_shown_and_notified(jazz):
    room, members = jazz
    response = post(room, members["poster"].user, "hey @blue note, are you coming?")
    assert response.status_code == 201
    blue = members["minji"]
    assert response.json()["mentions"] == [{"membership_id": blue.pk, "nickname": "Blue Note"}]
    assert list(MessageMention.objects.values_list("membership_id", flat=True)) == [blue.pk]
    # History carries the same mentions.
    history = client_for(blue.user).get(f"/api/v1/rooms/{room.pk}/messages/").json()
    assert history["results"][-1]["mentions"][0]["nickname"] == "Blue Note"

    listing = client_for(blue.user).get("/api/v1/notifications/").json()["results"]
    assert [(n["kind"], n["actors"], n["room"]["id"]) for n in listing] == [
        ("mention", ["Bebop"], room.pk)
    ]
    assert "Bebop mentioned you" in listing[0]["text"]
    assert "poster" not in str(listing)  # the actor's main name never appears


@pytest.mark.parametrize("body", ["@minji hi", "@Min-ji Kim hi", "@Min-ji hi", "@host hi"])
def test_main_names_never_resolve(jazz, body):
    room, members = jazz
    assert post(room, members["poster"].user, body).json()["mentions"] == []
    assert not Notification.objects.exists()


def test_boundaries_longest_match_self_and_email(jazz, make_user, make_member):
    room, members = jazz
    blue_cat = make_user("cat")
    make_member(room, blue_cat, nickname="Blue")
    poster = members["poster"].user
    # Longest nickname at the "@" wins; punctuation ends a nickname.
    mentions = post(room, poster, "@Blue Note! and @blue.").json()["mentions"]
    assert sorted(m["nickname"] for m in mentions) == ["Blue", "Blue Note"]
    # Not inside a word (an email address), not the author, not an unknown name.
    assert post(room, poster, "mail x@blue.com or @Bebop or @nobody").json()["mentions"] == []
    # Repeating a mention stores it once.
    assert len(post(room, poster, "@Blue @blue @BLUE").json()["mentions"]) == 1


def test_members_who_left_are_not_mentioned(jazz):
    room, members = jazz
    Membership.objects.filter(pk=members["minji"].pk).update(state=Membership.State.LEFT)
    assert post(room, members["poster"].user, "@Blue Note?").json()["mentions"] == []


def test_reply_notifies_the_replied_author_once(jazz):
    room, members = jazz
    original = send_message(membership=members["minji"], body="anyone for coffee?")
    response = post(room, members["poster"].user, "me!", reply_to=original.pk)
    assert response.status_code == 201
    notes = Notification.objects.filter(recipient=members["minji"].user)
    assert [(n.kind, n.actor_labels) for n in notes.all()] == [("reply", ["Bebop"])]
    # A reply that also mentions them: one notification (the mention), not two.
    post(room, members["poster"].user, "@Blue Note me too", reply_to=original.pk)
    assert sorted(notes.values_list("kind", flat=True)) == ["mention", "reply"]
    # Replying to yourself notifies nobody.
    send_message(membership=members["minji"], body="ok", reply_to_id=original.pk)
    assert notes.count() == 2


def test_muted_room_stores_the_mention_without_notifying(jazz):
    room, members = jazz
    set_room_notification_level(user=members["minji"].user, room_id=room.pk, level="muted")
    assert len(post(room, members["poster"].user, "@Blue Note").json()["mentions"]) == 1
    assert not Notification.objects.exists()
    set_room_notification_level(user=members["minji"].user, room_id=room.pk, level="mentions")
    post(room, members["poster"].user, "@Blue Note again")
    assert Notification.objects.filter(kind="mention").count() == 1


def test_a_blocked_actor_does_not_notify(jazz):
    """An account block silences a member who shows their main profile; a member block
    silences that membership whatever it shows."""
    from community.rooms.services import block_member, update_my_membership
    from profiles.services import block_user

    room, members = jazz
    update_my_membership(room_id=room.pk, user=members["poster"].user, is_open_profile=False)
    block_user(blocker=members["minji"].user, blocked=members["poster"].user)
    post(room, members["poster"].user, "@Blue Note")
    assert not Notification.objects.exists()
    block_member(room_id=room.pk, actor=members["minji"].user, membership_id=members["host"].pk)
    post(room, members["host"].user, "@Blue Note")
    assert not Notification.objects.exists()


def test_an_account_block_does_not_silence_an_open_profile(jazz):
    """Blocking the account behind "Bebop" must not tell the blocker that Bebop is them:
    an open profile's mention still arrives."""
    from profiles.services import block_user

    room, members = jazz
    assert members["poster"].is_open_profile
    block_user(blocker=members["minji"].user, blocked=members["poster"].user)
    post(room, members["poster"].user, "@Blue Note")
    assert Notification.objects.filter(kind="mention").count() == 1


def test_a_look_alike_of_a_nickname_mentions_its_one_holder(jazz):
    room, members = jazz
    body = post(room, members["poster"].user, "@ＢＬＵＥ\u200b ＮＯＴＥ hi").json()
    assert [m["membership_id"] for m in body["mentions"]] == [members["minji"].pk]


def test_deleting_a_message_withdraws_its_notifications(jazz):
    room, members = jazz
    message_id = post(room, members["poster"].user, "@Blue Note secret").json()["id"]
    assert Notification.objects.count() == 1
    response = client_for(members["poster"].user).delete(f"/api/v1/messages/{message_id}/")
    assert response.status_code == 204
    assert not Notification.objects.exists()
    unread = client_for(members["minji"].user).get("/api/v1/me/unread/").json()
    assert (unread["mentions"], unread["notifications"]) == (0, 0)
