"""The notification centre: API, page, grouping of reactions, hooks for other features."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from community.chat.services import send_message
from community.notifications.models import Notification
from community.notifications.services import (
    notify_moderation_outcome,
    notify_new_follower,
    notify_reaction,
    update_notification_settings,
)
from community.rooms.models import Membership
from community.rooms.services import join_room
from profiles.models import StatusPost
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def room_of_three(make_user, make_room, make_member):
    author = make_user("author")
    room = make_room(owner=author, nickname="Writer")
    fans = [make_user(f"fan{n}") for n in range(3)]
    for number, fan in enumerate(fans):
        make_member(room, fan, nickname=f"Fan {number}")
    author_membership = Membership.objects.get(room=room, user=author)
    return room, author, author_membership, fans


def test_reactions_are_grouped_per_target(room_of_three, make_room, make_member):
    room, author, author_membership, fans = room_of_three
    message = send_message(membership=author_membership, body="new song is out")
    other = send_message(membership=author_membership, body="and a video")
    for fan in fans:
        notify_reaction(target=message, actor_membership_or_user=fan)  # a user...
    fan0 = Membership.objects.get(room=room, user=fans[0])
    notify_reaction(target=message, actor_membership_or_user=fan0)  # ...or a membership
    notify_reaction(target=other, actor_membership_or_user=fans[1])
    notify_reaction(target=message, actor_membership_or_user=author)  # own: nothing
    stranger_membership = make_member(make_room(title="Elsewhere"), fans[0], nickname="Alias")
    assert notify_reaction(target=message, actor_membership_or_user=stranger_membership) is None

    rows = client_for(author).get("/api/v1/notifications/").json()["results"]
    assert len(rows) == 2
    grouped = next(row for row in rows if row["message_id"] == message.pk)
    assert grouped["kind"] == "reaction"
    assert grouped["count"] == 4
    # Newest first, each actor once, by room nickname: never a username.
    assert grouped["actors"] == ["Fan 0", "Fan 2", "Fan 1"]
    assert grouped["text"].startswith("Fan 0 and 3 others reacted")

    # Read, then a new reaction makes the same row unread again.
    client_for(author).post(f"/api/v1/notifications/{grouped['id']}/read/")
    notify_reaction(target=message, actor_membership_or_user=fans[2])
    row = Notification.objects.get(pk=grouped["id"])
    assert (row.count, row.read_at, row.actor_labels[0]) == (5, None, "Fan 2")


def test_reaction_to_a_status_post_shows_the_handle(make_user):
    from types import SimpleNamespace

    poster, fan = make_user("poster"), make_user("fan")
    post = StatusPost.objects.create(author=poster, body="sunny day")
    notify_reaction(target=post, actor_membership_or_user=fan)
    # The reactions feature's resolved target works too.
    resolved = SimpleNamespace(column={"status_post_id": post.pk})
    notify_reaction(target=resolved, actor_membership_or_user=fan)
    assert (
        notify_reaction(
            target=SimpleNamespace(column={"message_id": 0}), actor_membership_or_user=fan
        )
        is None
    )
    row = Notification.objects.get(recipient=poster)
    assert (row.kind, row.count, row.actor_labels) == ("reaction", 2, [f"@{fan.profile.handle}"])
    assert row.data["target"] == "status"


def test_list_read_and_read_all(room_of_three, make_user):
    _room, author, _author_membership, fans = room_of_three
    for fan in fans:
        notify_new_follower(follower=fan, followed=author)
    notify_moderation_outcome(user=author, outcome="upheld", outcome_label="Upheld", report_id=9)
    client = client_for(author)
    listing = client.get("/api/v1/notifications/").json()["results"]
    assert [row["kind"] for row in listing] == ["moderation", "follower", "follower", "follower"]
    assert listing[0]["text"] == "Your report was reviewed: Upheld"
    assert listing[1]["actors"] == [f"@{fans[2].profile.handle}"]

    response = client.post(f"/api/v1/notifications/{listing[1]['id']}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    unread = client.get("/api/v1/notifications/?unread=1").json()["results"]
    assert len(unread) == 3
    # Someone else's notification does not exist for me.
    stranger = client_for(make_user("stranger"))
    assert stranger.post(f"/api/v1/notifications/{listing[0]['id']}/read/").status_code == 404
    assert stranger.get("/api/v1/notifications/").json()["results"] == []

    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 3}
    assert client.get("/api/v1/me/unread/").json()["notifications"] == 0
    assert APIClient().get("/api/v1/notifications/").status_code == 401


def test_notification_list_query_count_is_fixed(make_user, django_assert_max_num_queries):
    me = make_user("myself")
    client = client_for(me)

    def add(count):
        for _ in range(count):
            notify_new_follower(follower=make_user(), followed=me)

    add(3)
    with django_assert_max_num_queries(2):
        assert len(client.get("/api/v1/notifications/").json()["results"]) == 3
    add(27)
    with django_assert_max_num_queries(2):
        assert len(client.get("/api/v1/notifications/").json()["results"]) == 30
    browser = client_for(me, session=True)
    with django_assert_max_num_queries(8):
        page = browser.get("/notifications/").content.decode()
    assert page.count('class="notification-row') == 30
    assert "<title>(30) Notifications · Moim</title>" in page


def test_join_request_notifies_the_hosts_by_requested_nickname(make_user, make_room):
    owner = make_user("owner")
    room = make_room(owner=owner, join_policy="approval")
    requester = make_user("requester", display_name="Real Name")
    join_room(room_id=room.pk, user=requester, nickname="Shy Fox", message="hi!")
    row = Notification.objects.get(recipient=owner)
    assert (row.kind, row.actor_labels, row.room_id) == ("join_request", ["Shy Fox"], room.pk)
    assert "Real Name" not in str(row.data) and "requester" not in str(row.data)


def test_muted_kinds_are_not_created(make_user):
    me, fan = make_user("myself"), make_user("fan")
    update_notification_settings(user=me, muted_kinds=["follower"])
    assert notify_new_follower(follower=fan, followed=me) is None
    assert not Notification.objects.exists()
    notify_moderation_outcome(user=me, outcome="dismissed", appeal_id=3)
    assert Notification.objects.get().kind == "moderation"


def test_notifications_page_marks_read_and_all_read(room_of_three):
    room, author, _author_membership, fans = room_of_three
    send_message(membership=Membership.objects.get(room=room, user=fans[0]), body="@Writer look")
    notify_new_follower(follower=fans[1], followed=author)
    browser = client_for(author, session=True)
    page = browser.get("/notifications/").content.decode()
    assert "Fan 0 mentioned you in Jazz corner" in page
    mention = Notification.objects.get(kind="mention")
    response = browser.post(f"/notifications/{mention.pk}/read/")
    assert response.status_code == 302 and response["Location"] == f"/rooms/{room.pk}/"
    assert browser.post("/notifications/read-all/").status_code == 302
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert browser.get("/notifications/999999/read/").status_code == 405
    assert browser.post("/notifications/999999/read/").status_code == 404
    assert Client().get("/notifications/").status_code == 302  # login first


def test_admin_changelist_query_count_is_fixed(
    admin_client, make_user, django_assert_max_num_queries
):
    me = make_user("myself")

    def add(count):
        for _ in range(count):
            notify_new_follower(follower=make_user(), followed=me)

    add(3)
    with django_assert_max_num_queries(8):
        assert admin_client.get("/admin/community/notification/").status_code == 200
    add(27)
    with django_assert_max_num_queries(8):
        page = admin_client.get("/admin/community/notification/")
    assert page.content.decode().count('name="_selected_action"') == 30


def test_taps_through_the_reactions_api_make_one_notification(room_of_three):
    _room, author, author_membership, fans = room_of_three
    message = send_message(membership=author_membership, body="tap me")
    for fan, emoji in [(fans[0], "👍"), (fans[1], "👍"), (fans[0], "🎉"), (fans[0], "👍")]:
        response = client_for(fan).post(
            f"/api/v1/messages/{message.pk}/reactions/", {"emoji": emoji}, format="json"
        )
        assert response.status_code in (200, 201), response.content
    rows = client_for(author).get("/api/v1/notifications/").json()["results"]
    assert [(row["kind"], row["count"], row["actors"]) for row in rows] == [
        ("reaction", 3, ["Fan 0", "Fan 1"])  # the repeated 👍 changed nothing
    ]
    # The author's own tap notifies nobody.
    client_for(author).post(
        f"/api/v1/messages/{message.pk}/reactions/", {"emoji": "👍"}, format="json"
    )
    assert Notification.objects.get().count == 3
