"""Reports through the API: targets, folding into cases, limits."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from community.moderation.models import ModerationCase, Report
from community.rooms.models import Room
from tests.community.moderation_helpers import post_message
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/"


@pytest.fixture
def room_with_message(make_room, make_user, make_member):
    room = make_room()
    author = make_user("author")
    membership = make_member(room, author, nickname="loud-one")
    message = post_message(membership, "buy cheap followers now")
    return room, membership, message


def test_url_is_named():
    assert reverse("api:reports") == URL


def test_report_a_message_opens_a_case(room_with_message, make_user):
    room, membership, message = room_with_message
    response = client_for(make_user()).post(
        URL,
        {"target_type": "message", "target_id": message.pk, "reason": "spam", "text": "ads"},
    )
    assert response.status_code == 201, response.content
    assert response.json() == {"received": True, "target_type": "message", "target_id": message.pk}
    case = ModerationCase.objects.get()
    assert case.status == "open"
    assert (case.message_id, case.membership_id, case.room_id) == (
        message.pk,
        membership.pk,
        room.pk,
    )
    assert case.subject_id == membership.user_id
    assert case.reporter_count == 1
    assert case.reports.get().text == "ads"


def test_repeated_reports_fold_into_one_case_with_a_count(room_with_message, make_user):
    _, _, message = room_with_message
    reasons = ["spam", "harassment", "spam", "other"]
    for reason in reasons:
        response = client_for(make_user()).post(
            URL, {"target_type": "message", "target_id": message.pk, "reason": reason}
        )
        assert response.status_code == 201
    case = ModerationCase.objects.get()
    assert case.reporter_count == 4
    assert Report.objects.filter(case=case).count() == 4
    # The worst reason sets the severity and the headline reason.
    assert case.top_reason == "harassment"


def test_the_same_reporter_counts_once(room_with_message, make_user):
    _, _, message = room_with_message
    client = client_for(make_user())
    payload = {"target_type": "message", "target_id": message.pk, "reason": "spam"}
    assert client.post(URL, payload).status_code == 201
    second = client.post(URL, payload)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "already_reported"
    assert ModerationCase.objects.get().reporter_count == 1


def test_a_closed_case_does_not_absorb_new_reports(room_with_message, make_user):
    _, _, message = room_with_message
    payload = {"target_type": "message", "target_id": message.pk, "reason": "spam"}
    client_for(make_user()).post(URL, payload)
    ModerationCase.objects.update(status="dismissed")
    assert client_for(make_user()).post(URL, payload).status_code == 201
    assert ModerationCase.objects.filter(status="open").count() == 1
    assert ModerationCase.objects.count() == 2


def test_report_a_member_by_membership_id(room_with_message, make_user):
    room, membership, _ = room_with_message
    response = client_for(make_user()).post(
        URL, {"target_type": "member", "target_id": membership.pk, "reason": "harassment"}
    )
    assert response.status_code == 201
    case = ModerationCase.objects.get()
    assert (case.target_type, case.membership_id, case.room_id) == (
        "member",
        membership.pk,
        room.pk,
    )


def test_report_a_room(room_with_message, make_user):
    room, _, _ = room_with_message
    response = client_for(make_user()).post(
        URL, {"target_type": "room", "target_id": room.pk, "reason": "illegal"}
    )
    assert response.status_code == 201
    case = ModerationCase.objects.get()
    assert case.subject_id == room.owner_id
    assert case.severity > 40


def test_bad_input_is_a_clear_400(room_with_message, make_user):
    _, _, message = room_with_message
    client = client_for(make_user())
    bad_reason = client.post(
        URL, {"target_type": "message", "target_id": message.pk, "reason": "meh"}
    )
    assert bad_reason.status_code == 400
    assert "reason" in bad_reason.json()["error"]["fields"]
    bad_type = client.post(URL, {"target_type": "user", "target_id": 1, "reason": "spam"})
    assert bad_type.status_code == 400
    too_long = client.post(
        URL,
        {"target_type": "message", "target_id": message.pk, "reason": "spam", "text": "x" * 1001},
    )
    assert too_long.status_code == 400
    assert ModerationCase.objects.count() == 0


def test_missing_or_invisible_targets_are_404(make_room, make_user, make_member):
    private = make_room(visibility=Room.Visibility.PRIVATE)
    outsider = client_for(make_user())
    assert (
        outsider.post(
            URL, {"target_type": "room", "target_id": private.pk, "reason": "spam"}
        ).status_code
        == 404
    )
    assert (
        outsider.post(
            URL, {"target_type": "message", "target_id": 99999, "reason": "spam"}
        ).status_code
        == 404
    )


def test_cannot_report_yourself(room_with_message):
    _, membership, message = room_with_message
    response = client_for(membership.user).post(
        URL, {"target_type": "message", "target_id": message.pk, "reason": "spam"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "self_report"


def test_reports_are_rate_limited(settings, make_room, make_user, make_member):
    settings.MODERATION_REPORTS_PER_HOUR = 3
    reporter = client_for(make_user())
    rooms = [make_room(title=f"room {i}") for i in range(4)]
    statuses = [
        reporter.post(URL, {"target_type": "room", "target_id": r.pk, "reason": "spam"}).status_code
        for r in rooms
    ]
    assert statuses == [201, 201, 201, 429]
    assert ModerationCase.objects.count() == 3


def test_anonymous_cannot_report(room_with_message):
    _, _, message = room_with_message
    response = APIClient().post(
        URL, {"target_type": "message", "target_id": message.pk, "reason": "spam"}
    )
    assert response.status_code == 401
