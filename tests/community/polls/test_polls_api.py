"""Polls over the API: creating a poll message, voting and changing a vote, closing,
who may see what (anonymous and named polls), and the history page's query count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.chat.models import Message
from community.polls.models import Poll, PollOption, PollVote
from community.polls.services import close_due_polls
from community.rooms.models import Membership, Room

pytestmark = pytest.mark.django_db


def _create(client, room, **fields):
    body = {"question": "Where do we meet?", "options": ["Hongdae", "Gangnam", "Itaewon"]}
    body.update(fields)
    return client.post(f"/api/v1/rooms/{room.pk}/polls/", body, format="json")


@pytest.fixture
def poll_room(room_with_two, make_user, make_member):
    room, host, guest = room_with_two
    third = make_user("third")
    make_member(room, third, nickname="Third")
    return room, host, guest, third


def test_a_member_posts_a_poll_message_with_its_options(poll_room, client_for):
    room, host, guest, _third = poll_room
    closes_at = (timezone.now() + timedelta(hours=2)).isoformat()
    response = _create(client_for(guest), room, closes_at=closes_at, client_id="p1")
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["kind"] == "poll" and message["body"] == "Where do we meet?"
    poll = message["poll"]
    assert [option["text"] for option in poll["options"]] == ["Hongdae", "Gangnam", "Itaewon"]
    assert poll["multiple"] is False and poll["anonymous"] is True and poll["closed"] is False
    assert poll["total_voters"] == 0 and poll["my_votes"] == []
    assert message["meetup"] is None
    # A retried send (same client_id) is stored once.
    again = _create(client_for(guest), room, closes_at=closes_at, client_id="p1")
    assert again.status_code == 200 and again.json()["id"] == message["id"]
    assert Poll.objects.count() == 1 and PollOption.objects.count() == 3
    # The room's history shows it the same way.
    history = client_for(host).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    assert history[-1]["poll"]["id"] == poll["id"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"options": ["Only one"]}, "options"),
        ({"options": [f"o{i}" for i in range(11)]}, "options"),
        ({"options": ["Same", "same"]}, "options"),
        ({"options": ["Fine", "   "]}, "options"),
        ({"question": "   "}, "question"),
        ({"closes_at": "2001-01-01T00:00:00Z"}, "closes_at"),
        ({"options": "Hongdae, Gangnam"}, "options"),
    ],
)
def test_bad_polls_are_refused_and_nothing_is_written(poll_room, client_for, fields, field):
    room, _host, guest, _third = poll_room
    response = _create(client_for(guest), room, **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Message.objects.filter(kind=Message.Kind.POLL).exists()
    assert not Poll.objects.exists()


def test_only_members_who_may_post_create_polls(poll_room, client_for, make_user):
    room, _host, guest, _third = poll_room
    assert _create(client_for(make_user("stranger")), room).status_code == 403
    Membership.objects.filter(room=room, user=guest).update(
        muted_until=timezone.now() + timedelta(minutes=5)
    )
    response = _create(client_for(guest), room)
    assert response.status_code == 403 and response.json()["error"]["code"] == "muted"
    assert not Poll.objects.exists()


def test_voting_changing_and_taking_back_a_vote(poll_room, client_for):
    room, host, guest, third = poll_room
    poll = _create(client_for(host), room).json()["poll"]
    first, second, _third_option = (option["id"] for option in poll["options"])
    url = f"/api/v1/polls/{poll['id']}/vote/"

    voted = client_for(guest).put(url, {"options": [first]}, format="json")
    assert voted.status_code == 200, voted.content
    assert voted.json()["my_votes"] == [first]
    client_for(third).put(url, {"options": [first]}, format="json")
    changed = client_for(guest).put(url, {"options": [second]}, format="json").json()
    assert changed["my_votes"] == [second]
    assert [option["votes"] for option in changed["options"]] == [1, 1, 0]
    assert changed["total_voters"] == 2
    # Two choices in a single-choice poll, or an option of another poll: refused.
    assert (
        client_for(guest).put(url, {"options": [first, second]}, format="json").status_code == 400
    )
    assert client_for(guest).put(url, {"options": [999999]}, format="json").status_code == 400
    assert client_for(guest).put(url, {"options": "x"}, format="json").status_code == 400
    taken_back = client_for(guest).put(url, {"options": []}, format="json").json()
    assert taken_back["my_votes"] == [] and taken_back["total_voters"] == 1
    assert [option["votes"] for option in taken_back["options"]] == [1, 0, 0]
    # Each reader sees their own votes.
    assert client_for(third).get(f"/api/v1/polls/{poll['id']}/").json()["my_votes"] == [first]


def test_a_multiple_choice_poll_counts_voters_once(poll_room, client_for):
    room, host, guest, _third = poll_room
    poll = _create(client_for(host), room, multiple=True).json()["poll"]
    ids = [option["id"] for option in poll["options"]]
    url = f"/api/v1/polls/{poll['id']}/vote/"
    answer = client_for(guest).put(url, {"options": ids[:2]}, format="json").json()
    assert [option["votes"] for option in answer["options"]] == [1, 1, 0]
    assert answer["total_voters"] == 1 and sorted(answer["my_votes"]) == sorted(ids[:2])


def test_closing_early_by_the_author_or_a_host_and_voting_after_close(poll_room, client_for):
    room, host, guest, third = poll_room
    poll = _create(client_for(guest), room).json()["poll"]
    option = poll["options"][0]["id"]
    close = f"/api/v1/polls/{poll['id']}/close/"
    refused = client_for(third).post(close)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_poll_author"
    closed = client_for(host).post(close)
    assert closed.status_code == 200 and closed.json()["closed"] is True
    late = client_for(third).put(
        f"/api/v1/polls/{poll['id']}/vote/", {"options": [option]}, format="json"
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "poll_closed"
    assert not PollVote.objects.exists()


def test_a_poll_closes_at_its_time(poll_room, client_for):
    room, host, guest, _third = poll_room
    closes_at = timezone.now() + timedelta(minutes=5)
    poll = _create(client_for(host), room, closes_at=closes_at.isoformat()).json()["poll"]
    assert close_due_polls() == 0
    Poll.objects.filter(pk=poll["id"]).update(closes_at=timezone.now() - timedelta(seconds=1))
    option = poll["options"][0]["id"]
    # Refused from the closing time on, before the closing task ran.
    url = f"/api/v1/polls/{poll['id']}/vote/"
    assert client_for(guest).put(url, {"options": [option]}, format="json").status_code == 409
    assert close_due_polls() == 1
    assert close_due_polls() == 0  # once
    assert Poll.objects.get(pk=poll["id"]).closed_at is not None


def test_an_anonymous_poll_never_shows_who_voted(poll_room, client_for):
    room, host, guest, _third = poll_room
    poll = _create(client_for(guest), room).json()["poll"]
    client_for(guest).put(
        f"/api/v1/polls/{poll['id']}/vote/", {"options": [poll["options"][0]["id"]]}, format="json"
    )
    # Not even to the poll's author or the room's host.
    for viewer in (guest, host):
        response = client_for(viewer).get(f"/api/v1/polls/{poll['id']}/voters/")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "poll_anonymous"
    seen = client_for(host).get(f"/api/v1/polls/{poll['id']}/").json()
    assert seen["my_votes"] == [] and seen["options"][0]["votes"] == 1
    assert "Guest" not in str(seen) and guest.username not in str(seen)


def test_a_named_poll_shows_voters_by_room_nickname_only(poll_room, client_for):
    room, host, guest, _third = poll_room
    poll = _create(client_for(host), room, anonymous=False).json()["poll"]
    first = poll["options"][0]["id"]
    client_for(guest).put(f"/api/v1/polls/{poll['id']}/vote/", {"options": [first]}, format="json")
    voters = client_for(host).get(f"/api/v1/polls/{poll['id']}/voters/").json()
    guest_membership = Membership.objects.get(room=room, user=guest)
    assert voters[0]["voters"] == [{"membership_id": guest_membership.pk, "nickname": "Guest"}]
    assert voters[1]["voters"] == []
    assert all(set(voter) == {"membership_id", "nickname"} for voter in voters[0]["voters"])


def test_a_poll_in_a_hidden_room_is_as_missing_as_a_poll_that_does_not_exist(
    make_user, make_room, make_member, client_for
):
    host, outsider = make_user("host"), make_user("outsider")
    room = make_room(owner=host, visibility=Room.Visibility.PRIVATE)
    poll = _create(client_for(host), room, anonymous=False).json()["poll"]
    option = poll["options"][0]["id"]
    as_outsider = client_for(outsider)
    missing = as_outsider.get("/api/v1/polls/999999/")
    for response in (
        as_outsider.get(f"/api/v1/polls/{poll['id']}/"),
        as_outsider.get(f"/api/v1/polls/{poll['id']}/voters/"),
        as_outsider.put(f"/api/v1/polls/{poll['id']}/vote/", {"options": [option]}, format="json"),
        as_outsider.post(f"/api/v1/polls/{poll['id']}/close/"),
    ):
        assert response.status_code == 404
        assert response.json() == missing.json()
    assert not PollVote.objects.exists()


def test_a_deleted_poll_message_takes_its_poll_with_it(poll_room, client_for):
    room, host, guest, _third = poll_room
    message = _create(client_for(guest), room).json()
    assert client_for(guest).delete(f"/api/v1/messages/{message['id']}/").status_code == 204
    poll_id = message["poll"]["id"]
    assert client_for(host).get(f"/api/v1/polls/{poll_id}/").status_code == 404
    option = message["poll"]["options"][0]["id"]
    vote = client_for(host).put(
        f"/api/v1/polls/{poll_id}/vote/", {"options": [option]}, format="json"
    )
    assert vote.status_code == 404
    history = client_for(host).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    assert history[-1]["deleted"] is True and history[-1]["poll"] is None


def test_polls_can_be_replied_to_and_reacted_to_not_edited(poll_room, client_for):
    room, host, guest, _third = poll_room
    message = _create(client_for(guest), room).json()
    reply = client_for(host).post(
        f"/api/v1/rooms/{room.pk}/messages/",
        {"body": "Gangnam!", "reply_to": message["id"]},
        format="json",
    )
    assert reply.status_code == 201 and reply.json()["reply_to"]["id"] == message["id"]
    reacted = client_for(host).post(
        f"/api/v1/messages/{message['id']}/reactions/", {"emoji": "👍"}, format="json"
    )
    assert reacted.status_code in (200, 201)
    edited = client_for(guest).patch(
        f"/api/v1/messages/{message['id']}/", {"body": "Where do we meet on Friday?"}, format="json"
    )
    # Votes were cast on this question: changing it under them would misstate them
    # (a tip's line and a meetup likewise are their feature's record).
    assert edited.status_code == 400
    assert edited.json()["error"]["code"] == "not_editable"
    assert Message.objects.get(pk=message["id"]).body == "Where do we meet?"
    # A poll can answer a message too.
    answer = _create(client_for(host), room, reply_to=reply.json()["id"])
    assert answer.status_code == 201 and answer.json()["reply_to"]["id"] == reply.json()["id"]


def test_history_with_polls_costs_two_queries_more_whatever_the_number_of_polls(
    poll_room, client_for, django_assert_num_queries, django_assert_max_num_queries
):
    room, host, guest, _third = poll_room
    as_host = client_for(host)
    url = f"/api/v1/rooms/{room.pk}/messages/"

    client_for(guest).post(url, {"body": "hello"}, format="json")
    with django_assert_max_num_queries(50) as captured:
        assert as_host.get(url).status_code == 200
    text_only = len(captured)  # now: the log is reset by the next request
    for _ in range(5):
        poll = _create(client_for(guest), room).json()["poll"]
        client_for(guest).put(
            f"/api/v1/polls/{poll['id']}/vote/",
            {"options": [poll["options"][1]["id"]]},
            format="json",
        )
    # The poll part: the page's options with their polls, and the viewer's own votes.
    with django_assert_num_queries(text_only + 2):
        page = as_host.get(url).json()["results"]
    assert [message["poll"]["options"][1]["votes"] for message in page[-5:]] == [1] * 5


def test_a_member_finds_their_votes_in_their_data_export(poll_room, client_for):
    room, host, guest, _third = poll_room
    poll = _create(client_for(host), room).json()["poll"]
    option = poll["options"][1]
    client_for(guest).put(
        f"/api/v1/polls/{poll['id']}/vote/", {"options": [option["id"]]}, format="json"
    )
    (vote,) = client_for(guest).get("/api/v1/me/export/").json()["sections"]["poll_votes"]
    assert vote["poll_id"] == poll["id"] and vote["option"] == option["text"]
    assert vote["as_nickname"] == "Guest"
