"""Votes at the same instant: exact tallies (PostgreSQL row locks on the poll)."""

import pytest

from community.polls.models import Poll, PollOption, PollVote
from community.polls.services import create_poll, vote
from tests.concurrency import race

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

RACERS = 12


def test_many_votes_at_once_keep_the_tallies_exact(make_room, make_user, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    racers = [make_user() for _ in range(RACERS)]
    for user in racers:
        make_member(room, user)
    poll = create_poll(
        user=host, room_id=room.pk, question="A or B?", options=["A", "B"], allows_multiple=True
    ).message.poll
    both = list(PollOption.objects.filter(poll=poll).values_list("pk", flat=True))
    results, errors = race(
        [lambda user=user: vote(user=user, poll_id=poll.pk, option_ids=both) for user in racers]
    )
    assert not errors and len(results) == RACERS
    poll = Poll.objects.get(pk=poll.pk)
    assert poll.voter_count == RACERS
    assert list(
        PollOption.objects.filter(poll=poll)
        .order_by("position")
        .values_list("vote_count", flat=True)
    ) == [RACERS, RACERS]
    assert PollVote.objects.filter(poll=poll).count() == 2 * RACERS
