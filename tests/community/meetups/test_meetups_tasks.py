"""The beat reminds meetups through a registered Celery task."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from community.meetups import tasks
from community.meetups.models import Meetup
from community.meetups.services import create_meetup, rsvp
from config.celery import app

pytestmark = pytest.mark.django_db


def test_the_beat_runs_a_registered_task():
    assert settings.CELERY_BEAT_SCHEDULE["community-meetup-reminders"]["task"] in app.tasks


def test_the_reminding_task_reminds_once(room_with_two, eager_tasks):
    room, host, guest = room_with_two
    meetup = create_meetup(
        user=host, room_id=room.pk, title="Soon", starts_at=timezone.now() + timedelta(hours=5)
    ).message.meetup
    rsvp(user=guest, meetup_id=meetup.pk, status="going")
    assert tasks.send_meetup_reminders.delay().get() == 0
    Meetup.objects.filter(pk=meetup.pk).update(starts_at=timezone.now() + timedelta(minutes=10))
    assert tasks.send_meetup_reminders.delay().get() == 1
    assert tasks.send_meetup_reminders.delay().get() == 0
