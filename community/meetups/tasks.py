"""Celery tasks of meetups: remind the members going before a meetup starts (the beat
runs it every minute)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from community.meetups import services


@shared_task(
    name="community.meetups.send_meetup_reminders",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=5,
)
def send_meetup_reminders() -> int:
    """Idempotent: each meetup reminds once (``Meetup.reminded_at``, set under its lock)."""
    return services.send_meetup_reminders()
