"""Answers at the same instant: exact counts, never one over capacity (PostgreSQL row
locks on the meetup)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.meetups.models import Meetup, MeetupRsvp
from community.meetups.services import create_meetup, rsvp
from tests.concurrency import race

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

RACERS = 12


def test_many_going_at_once_fill_the_seats_and_queue_the_rest(make_room, make_user, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    racers = [make_user() for _ in range(RACERS)]
    for user in racers:
        make_member(room, user)
    meetup = create_meetup(
        user=host,
        room_id=room.pk,
        title="Tiny",
        starts_at=timezone.now() + timedelta(days=1),
        capacity=5,
    ).message.meetup
    results, errors = race(
        [lambda user=user: rsvp(user=user, meetup_id=meetup.pk, status="going") for user in racers]
    )
    assert not errors and len(results) == RACERS
    meetup = Meetup.objects.get(pk=meetup.pk)
    assert (meetup.going_count, meetup.waitlist_count) == (5, RACERS - 5)
    assert MeetupRsvp.objects.filter(meetup=meetup, status="going").count() == 5
