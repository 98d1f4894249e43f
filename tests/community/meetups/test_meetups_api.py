"""Meetups over the API: creating an event message, RSVPs with a capacity and its
waitlist, the room's upcoming events, reminders, the iCalendar file, and who may see
what."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from community.chat.models import Message
from community.meetups.models import Meetup, MeetupRsvp
from community.meetups.services import send_meetup_reminders
from community.notifications.models import Notification
from community.rooms.models import Membership, Room

pytestmark = pytest.mark.django_db


def _in(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def _create(client, room, **fields):
    body = {"title": "Board games night", "starts_at": _in(48), "place": "Hongdae, exit 9"}
    body.update(fields)
    return client.post(f"/api/v1/rooms/{room.pk}/meetups/", body, format="json")


def _rsvp(client, meetup_id, status):
    return client.put(f"/api/v1/meetups/{meetup_id}/rsvp/", {"status": status}, format="json")


@pytest.fixture
def meetup_room(room_with_two, make_user, make_member):
    room, host, guest = room_with_two
    third = make_user("third")
    make_member(room, third, nickname="Third")
    return room, host, guest, third


def test_a_member_posts_a_meetup_in_their_time_zone(meetup_room, client_for):
    room, host, guest, _third = meetup_room
    guest.timezone = "Asia/Seoul"
    guest.save(update_fields=["timezone"])
    starts = datetime(2027, 3, 1, 19, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    if starts <= timezone.now():  # pragma: no cover - the clock moved past the fixture
        starts = timezone.now() + timedelta(days=30)
    response = _create(client_for(guest), room, starts_at=starts.isoformat(), capacity=10)
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["kind"] == "meetup" and message["body"] == "Board games night"
    meetup = message["meetup"]
    assert meetup["time_zone"] == "Asia/Seoul"  # the creator's zone by default
    assert datetime.fromisoformat(meetup["starts_at"]) == starts
    assert meetup["starts_at"].endswith("+00:00")  # stored and sent in UTC
    assert meetup["capacity"] == 10 and meetup["full"] is False and meetup["my_rsvp"] == "none"
    assert meetup["counts"] == {"going": 0, "maybe": 0, "not_going": 0, "waitlisted": 0}
    assert message["poll"] is None
    # A wall-clock time without an offset is read in the meetup's zone.
    local = (timezone.now() + timedelta(days=3)).astimezone(ZoneInfo("Asia/Tokyo"))
    wall_clock = local.replace(tzinfo=None, microsecond=0).isoformat()
    given = _create(client_for(host), room, time_zone="Asia/Tokyo", starts_at=wall_clock)
    assert given.json()["meetup"]["time_zone"] == "Asia/Tokyo"
    starts_at = datetime.fromisoformat(given.json()["meetup"]["starts_at"])
    assert starts_at == local.replace(microsecond=0)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"title": "  "}, "title"),
        ({"starts_at": "2001-01-01T10:00:00Z"}, "starts_at"),
        ({"ends_at": "2001-01-01T10:00:00Z"}, "ends_at"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"capacity": 0}, "capacity"),
    ],
)
def test_bad_meetups_are_refused_and_nothing_is_written(meetup_room, client_for, fields, field):
    room, _host, guest, _third = meetup_room
    response = _create(client_for(guest), room, **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Message.objects.filter(kind=Message.Kind.MEETUP).exists()
    assert not Meetup.objects.exists()


def test_only_members_who_may_post_create_meetups(meetup_room, client_for, make_user):
    room, _host, guest, _third = meetup_room
    assert _create(client_for(make_user("stranger")), room).status_code == 403
    Membership.objects.filter(room=room, user=guest).update(
        muted_until=timezone.now() + timedelta(minutes=5)
    )
    assert _create(client_for(guest), room).json()["error"]["code"] == "muted"
    assert not Meetup.objects.exists()


def test_rsvps_fill_the_capacity_then_the_waitlist_moves_up(
    meetup_room, client_for, make_user, make_member
):
    room, host, guest, third = meetup_room
    fourth = make_user("fourth")
    make_member(room, fourth, nickname="Fourth")
    meetup = _create(client_for(host), room, capacity=2).json()["meetup"]
    meetup_id = meetup["id"]

    assert _rsvp(client_for(host), meetup_id, "going").json()["my_rsvp"] == "going"
    assert _rsvp(client_for(guest), meetup_id, "going").json()["full"] is True
    waiting = _rsvp(client_for(third), meetup_id, "going").json()
    assert waiting["my_rsvp"] == "waitlisted"
    assert waiting["counts"] == {"going": 2, "maybe": 0, "not_going": 0, "waitlisted": 1}
    assert _rsvp(client_for(fourth), meetup_id, "going").json()["my_rsvp"] == "waitlisted"
    # Asking again keeps one's place.
    assert _rsvp(client_for(third), meetup_id, "going").json()["my_rsvp"] == "waitlisted"

    # A seat frees: the first on the waitlist gets it.
    freed = _rsvp(client_for(guest), meetup_id, "not_going").json()
    assert freed["counts"] == {"going": 2, "maybe": 0, "not_going": 1, "waitlisted": 1}
    assert client_for(third).get(f"/api/v1/meetups/{meetup_id}/").json()["my_rsvp"] == "going"
    assert client_for(fourth).get(f"/api/v1/meetups/{meetup_id}/").json()["my_rsvp"] == "waitlisted"

    answers = client_for(guest).get(f"/api/v1/meetups/{meetup_id}/rsvp/").json()
    assert [(a["nickname"], a["status"]) for a in answers] == [
        (Membership.objects.get(room=room, user=host).nickname, "going"),
        ("Third", "going"),
        ("Fourth", "waitlisted"),
        ("Guest", "not_going"),
    ]
    # Room nicknames only: no account, handle or user id.
    assert all(set(answer) == {"membership_id", "nickname", "status"} for answer in answers)
    assert _rsvp(client_for(guest), meetup_id, "perhaps").status_code == 400


def test_maybe_and_unlimited_meetups(meetup_room, client_for):
    room, host, guest, _third = meetup_room
    meetup_id = _create(client_for(host), room).json()["meetup"]["id"]
    answer = _rsvp(client_for(guest), meetup_id, "maybe").json()
    assert answer["my_rsvp"] == "maybe" and answer["full"] is False
    answer = _rsvp(client_for(guest), meetup_id, "going").json()
    assert answer["counts"] == {"going": 1, "maybe": 0, "not_going": 0, "waitlisted": 0}


def test_no_answers_once_it_started_nor_from_outsiders(meetup_room, client_for, make_user):
    room, host, guest, _third = meetup_room
    meetup_id = _create(client_for(host), room).json()["meetup"]["id"]
    stranger = _rsvp(client_for(make_user("stranger")), meetup_id, "going")
    assert stranger.status_code == 403
    Meetup.objects.filter(pk=meetup_id).update(starts_at=timezone.now() - timedelta(minutes=1))
    late = _rsvp(client_for(guest), meetup_id, "going")
    assert late.status_code == 409 and late.json()["error"]["code"] == "meetup_started"
    assert not MeetupRsvp.objects.exists()


def test_the_room_lists_its_upcoming_meetups_soonest_first(
    meetup_room, client_for, django_assert_num_queries
):
    room, host, guest, _third = meetup_room
    later = _create(client_for(host), room, title="Later", starts_at=_in(72)).json()
    sooner = _create(client_for(guest), room, title="Sooner", starts_at=_in(2)).json()
    past = _create(client_for(guest), room, title="Past", starts_at=_in(1)).json()
    Meetup.objects.filter(pk=past["meetup"]["id"]).update(
        starts_at=timezone.now() - timedelta(days=2)
    )
    gone = _create(client_for(guest), room, title="Deleted", starts_at=_in(5)).json()
    client_for(guest).delete(f"/api/v1/messages/{gone['id']}/")
    _rsvp(client_for(guest), sooner["meetup"]["id"], "going")

    url = f"/api/v1/rooms/{room.pk}/meetups/?upcoming=1"
    as_guest = client_for(guest)
    # The room with the reader's standing, its meetups, the reader's answers.
    with django_assert_num_queries(3):
        listed = as_guest.get(url).json()
    assert [meetup["title"] for meetup in listed] == ["Sooner", "Later"]
    assert [meetup["my_rsvp"] for meetup in listed] == ["going", "none"]
    assert listed[1]["message_id"] == later["id"]
    for title in ("More", "And more"):
        _create(client_for(host), room, title=title, starts_at=_in(100))
    with django_assert_num_queries(3):
        assert len(as_guest.get(url).json()) == 4
    everything = as_guest.get(f"/api/v1/rooms/{room.pk}/meetups/?upcoming=0").json()
    assert "Past" in [meetup["title"] for meetup in everything]


def test_members_going_are_reminded_once_before_it_starts(meetup_room, client_for, settings):
    settings.MEETUP_REMINDER_MINUTES = 60
    room, host, guest, third = meetup_room
    soon = _create(client_for(host), room, starts_at=_in(3)).json()
    meetup_id = soon["meetup"]["id"]
    _rsvp(client_for(guest), meetup_id, "going")
    _rsvp(client_for(third), meetup_id, "not_going")
    assert send_meetup_reminders() == 0  # not due yet
    Meetup.objects.filter(pk=meetup_id).update(starts_at=timezone.now() + timedelta(minutes=30))
    assert send_meetup_reminders() == 1
    assert send_meetup_reminders() == 0  # once
    (reminder,) = Notification.objects.filter(kind=Notification.Kind.MEETUP_REMINDER)
    assert reminder.recipient_id == guest.pk and reminder.message_id == soon["id"]
    listed = client_for(guest).get("/api/v1/notifications/").json()
    text = listed["results"][0]["text"]
    assert "Board games night" in text and room.title in text


def test_the_ics_file_is_an_icalendar_event(meetup_room, client_for):
    room, host, guest, _third = meetup_room
    starts = datetime(2027, 5, 4, 10, 30, tzinfo=UTC)
    if starts <= timezone.now():  # pragma: no cover
        starts = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    meetup_id = _create(
        client_for(host),
        room,
        title="Picnic; bring food, drinks\\snacks",
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=2)).isoformat(),
        place="Han river park " + "가" * 40,
    ).json()["meetup"]["id"]
    # Calendar apps ask for the calendar type only.
    response = client_for(guest).get(
        f"/api/v1/meetups/{meetup_id}.ics", HTTP_ACCEPT="text/calendar"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="meetup-{meetup_id}.ics"' in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    physical = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in physical)
    text = raw.decode("utf-8").replace("\r\n ", "")  # unfolded
    lines = text.split("\r\n")
    assert f"DTSTART:{starts:%Y%m%dT%H%M%S}Z" in lines
    assert f"DTEND:{starts + timedelta(hours=2):%Y%m%dT%H%M%S}Z" in lines
    assert "SUMMARY:Picnic\\; bring food\\, drinks\\\\snacks" in lines
    assert "LOCATION:Han river park " + "가" * 40 in lines
    assert any(line.startswith(f"UID:meetup-{meetup_id}@") for line in lines)
    assert "VERSION:2.0" in lines and "BEGIN:VEVENT" in lines and "END:VEVENT" in lines


def test_a_meetup_in_a_hidden_room_is_as_missing_as_one_that_does_not_exist(
    make_user, make_room, client_for
):
    host, outsider = make_user("host"), make_user("outsider")
    room = make_room(owner=host, visibility=Room.Visibility.PRIVATE)
    meetup_id = _create(client_for(host), room).json()["meetup"]["id"]
    as_outsider = client_for(outsider)
    missing = as_outsider.get("/api/v1/meetups/999999/").json()
    for response in (
        as_outsider.get(f"/api/v1/meetups/{meetup_id}/"),
        as_outsider.get(f"/api/v1/meetups/{meetup_id}/rsvp/"),
        as_outsider.get(f"/api/v1/meetups/{meetup_id}.ics"),
        _rsvp(as_outsider, meetup_id, "going"),
    ):
        assert response.status_code == 404 and response.json() == missing
    assert as_outsider.get(f"/api/v1/rooms/{room.pk}/meetups/").status_code == 404
    assert not MeetupRsvp.objects.exists()


def test_meetups_can_be_replied_to_and_reacted_to(meetup_room, client_for):
    room, host, guest, _third = meetup_room
    message = _create(client_for(guest), room).json()
    reply = client_for(host).post(
        f"/api/v1/rooms/{room.pk}/messages/",
        {"body": "I'm in", "reply_to": message["id"]},
        format="json",
    )
    assert reply.status_code == 201 and reply.json()["reply_to"]["id"] == message["id"]
    reacted = client_for(host).post(
        f"/api/v1/messages/{message['id']}/reactions/", {"emoji": "🎉"}, format="json"
    )
    assert reacted.status_code in (200, 201)
    history = client_for(guest).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    shown = next(m for m in history if m["id"] == message["id"])
    assert shown["meetup"]["id"] == message["meetup"]["id"] and shown["reactions"]


def test_history_with_meetups_costs_two_queries_more_whatever_their_number(
    meetup_room, client_for, django_assert_num_queries, django_assert_max_num_queries
):
    room, host, guest, _third = meetup_room
    url = f"/api/v1/rooms/{room.pk}/messages/"
    as_host = client_for(host)
    client_for(guest).post(url, {"body": "hello"}, format="json")
    with django_assert_max_num_queries(50) as captured:
        as_host.get(url)
    text_only = len(captured)  # now: the log is reset by the next request
    for hours in (10, 20, 30, 40):
        meetup_id = _create(client_for(guest), room, starts_at=_in(hours)).json()["meetup"]["id"]
        _rsvp(as_host, meetup_id, "going")
    # The meetup part: the page's meetups, and the viewer's own answers.
    with django_assert_num_queries(text_only + 2):
        page = as_host.get(url).json()["results"]
    assert [message["meetup"]["my_rsvp"] for message in page[-4:]] == ["going"] * 4


def test_a_member_finds_their_answers_in_their_data_export(meetup_room, client_for):
    room, host, guest, _third = meetup_room
    meetup_id = _create(client_for(host), room).json()["meetup"]["id"]
    _rsvp(client_for(guest), meetup_id, "maybe")
    sections = client_for(guest).get("/api/v1/me/export/").json()["sections"]
    (answer,) = sections["meetup_rsvps"]
    assert answer["meetup_id"] == meetup_id and answer["status"] == "maybe"
    assert answer["as_nickname"] == "Guest"


def test_a_member_who_leaves_gives_up_their_seat_to_the_waitlist(meetup_room, client_for):
    room, host, guest, third = meetup_room
    meetup_id = _create(client_for(host), room, capacity=1).json()["meetup"]["id"]
    _rsvp(client_for(guest), meetup_id, "going")
    assert _rsvp(client_for(third), meetup_id, "going").json()["my_rsvp"] == "waitlisted"
    assert client_for(guest).post(f"/api/v1/rooms/{room.pk}/leave/").status_code == 204
    seen = client_for(third).get(f"/api/v1/meetups/{meetup_id}/").json()
    assert seen["my_rsvp"] == "going"
    assert seen["counts"] == {"going": 1, "maybe": 0, "not_going": 0, "waitlisted": 0}
    answers = client_for(host).get(f"/api/v1/meetups/{meetup_id}/rsvp/").json()
    assert [answer["nickname"] for answer in answers] == ["Third"]
