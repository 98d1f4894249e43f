"""Appeals: a banned or suspended user files ONE appeal; it lands in the queue."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from community.moderation.models import Appeal, AuditLogEntry, ModerationCase
from community.moderation.services import check_ban_member, check_file_report
from community.notifications.models import Notification
from community.rooms.models import Membership
from profiles.models import User
from tests.community.moderation_helpers import make_moderator, owner_membership
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/appeals/"


@pytest.fixture
def banned(make_room, make_user, make_member):
    room = make_room()
    target = make_member(room, make_user("banned"), nickname="gone")
    check_ban_member(actor=room.owner, room_id=room.pk, member_id=target.pk, reason="spam")
    return target


def test_a_banned_member_appeals_once_and_it_lands_in_the_queue(banned):
    client = client_for(banned.user)
    response = client.post(URL, {"kind": "ban", "member_id": banned.pk, "text": "It was a joke"})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "open"
    appeal = Appeal.objects.get()
    assert appeal.sanction.action == "ban"
    case = appeal.case
    assert (case.target_type, case.status, case.subject_id) == ("appeal", "open", banned.user_id)
    again = client.post(URL, {"kind": "ban", "member_id": banned.pk, "text": "please"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_appealed"
    assert Appeal.objects.count() == 1
    assert [a["id"] for a in client.get(URL).json()["results"]] == [appeal.pk]


def test_only_the_sanctioned_person_can_appeal(banned, make_user, make_room):
    assert (
        client_for(make_user())
        .post(URL, {"kind": "ban", "member_id": banned.pk, "text": "x"})
        .status_code
        == 404
    )
    room = make_room()
    not_banned = owner_membership(room)
    assert (
        client_for(not_banned.user)
        .post(URL, {"kind": "ban", "member_id": not_banned.pk, "text": "x"})
        .status_code
        == 404
    )
    assert client_for(make_user()).post(URL, {"kind": "suspension", "text": "x"}).status_code == 404
    assert (
        client_for(banned.user).post(URL, {"kind": "ban", "member_id": banned.pk}).status_code
        == 400
    )


def test_a_moderator_grants_an_appeal_and_the_ban_is_lifted(banned, make_user):
    client_for(banned.user).post(URL, {"kind": "ban", "member_id": banned.pk, "text": "sorry"})
    case = Appeal.objects.get().case
    moderator = make_moderator(make_user, "mod")
    browser = client_for(moderator, session=True)
    page = browser.get(reverse("admin:community_moderationcase_change", args=[case.pk]))
    assert "sorry" in page.content.decode()
    # A sanction action does not fit an appeal.
    browser.post(page.request["PATH_INFO"], {"action": "warn", "note": "x"})
    assert not AuditLogEntry.objects.filter(action="warn").exists()
    browser.post(page.request["PATH_INFO"], {"action": "grant_appeal", "note": "fair"})
    assert Membership.objects.get(pk=banned.pk).state == Membership.State.LEFT
    assert Appeal.objects.get().status == "granted"
    assert ModerationCase.objects.get(pk=case.pk).status == "resolved"
    assert AuditLogEntry.objects.filter(action="grant_appeal", actor=moderator).exists()


def test_a_suspended_user_appeals_and_a_denial_keeps_the_suspension(make_room, make_user):
    moderator = make_moderator(make_user, "mod")
    room = make_room()
    case = check_file_report(
        reporter=make_user(), target_type="room", target_id=room.pk, reason="hate"
    )
    browser = client_for(moderator, session=True)
    url = reverse("admin:community_moderationcase_change", args=[case.pk])
    browser.post(url, {"action": "suspend_user", "minutes": "600", "note": "hate"})
    owner = User.objects.get(pk=room.owner_id)
    assert owner.suspended_until > timezone.now()
    response = client_for(owner).post(URL, {"kind": "suspension", "text": "not me"})
    assert response.status_code == 201
    assert client_for(owner).post(URL, {"kind": "suspension", "text": "x"}).status_code == 409
    appeal_case = Appeal.objects.get().case
    browser.post(
        reverse("admin:community_moderationcase_change", args=[appeal_case.pk]),
        {"action": "deny_appeal", "note": "upheld"},
    )
    assert Appeal.objects.get().status == "denied"
    assert User.objects.get(pk=owner.pk).suspended_until > timezone.now()
    # The appellant is told the decision.
    outcome = Notification.objects.get(recipient=owner, kind="moderation")
    assert outcome.data == {
        "outcome": "denied",
        "outcome_label": "Denied",
        "appeal_id": Appeal.objects.get().pk,
    }


def test_members_see_their_own_moderation_notices_without_who(banned, make_user):
    response = client_for(banned.user).get("/api/v1/moderation/notices/")
    assert response.status_code == 200
    (notice,) = response.json()["results"]
    assert (notice["action"], notice["reason"], notice["room_id"]) == (
        "ban",
        "spam",
        banned.room_id,
    )
    assert "actor" not in notice
    assert client_for(make_user()).get("/api/v1/moderation/notices/").json()["results"] == []
    assert APIClient().get("/api/v1/moderation/notices/").status_code == 401


def test_lists_are_cursor_paginated(banned, make_room, make_user, django_assert_max_num_queries):
    owner = banned.room.owner
    client = client_for(owner)
    url = f"/api/v1/rooms/{banned.room_id}/word-filters/"
    for index in range(3):
        client.post(url, {"text": f"w{index}", "action": "block"})
    with django_assert_max_num_queries(8) as small:
        first = client.get(url + "?limit=2").json()
    # Read now: every request resets the connection's query log.
    bound = len(small.captured_queries)
    assert len(first["results"]) == 2 and first["next"]
    for index in range(30):
        client.post(url, {"text": f"more{index}", "action": "block"})
    with django_assert_max_num_queries(bound):
        assert len(client.get(url).json()["results"]) == 30
