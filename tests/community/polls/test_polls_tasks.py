"""The beat closes due polls through a registered Celery task."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from community.polls import tasks as poll_tasks
from community.polls.models import Poll
from community.polls.services import create_poll
from config.celery import app

pytestmark = pytest.mark.django_db


def test_the_beat_runs_a_registered_task():
    assert settings.CELERY_BEAT_SCHEDULE["community-close-due-polls"]["task"] in app.tasks


def test_the_closing_task_closes_due_polls_once(room_with_two, eager_tasks):
    room, host, _guest = room_with_two
    poll = create_poll(
        user=host,
        room_id=room.pk,
        question="Soon?",
        options=["Yes", "No"],
        closes_at=timezone.now() + timedelta(minutes=2),
    ).message.poll
    assert poll_tasks.close_due_polls.delay().get() == 0
    Poll.objects.filter(pk=poll.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    assert poll_tasks.close_due_polls.delay().get() == 1
    assert poll_tasks.close_due_polls.delay().get() == 0
