"""Races on PostgreSQL: one handle, one follow, however many requests arrive at once."""

import pytest
from django.core.exceptions import ValidationError

from profiles.models import Follow, Profile
from profiles.services import follow_user, update_profile
from tests.concurrency import race

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

RACERS = 8


def test_one_handle_claimed_by_many_at_once_goes_to_exactly_one(make_user):
    users = [make_user() for _ in range(RACERS)]
    look_alikes = ["moon", "MOON", "Moon", "ｍｏｏｎ", "ＭＯＯＮ", "mOOn", "moON", "MoOn"]
    results, errors = race(
        [
            lambda u=u, h=h: update_profile(user=u, handle=h)
            for u, h in zip(users, look_alikes, strict=True)
        ]
    )
    assert len(results) == 1
    assert len(errors) == RACERS - 1
    assert all(isinstance(error, ValidationError) for error in errors), errors
    assert all("handle" in error.message_dict for error in errors)
    assert Profile.objects.filter(handle_key="moon").count() == 1


def test_a_double_tapped_follow_is_stored_once(make_user):
    alice, bob = make_user(), make_user()
    results, errors = race([lambda: follow_user(follower=alice, followee=bob)] * RACERS)
    assert errors == []
    assert len({follow.pk for follow in results}) == 1
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1
