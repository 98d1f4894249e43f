"""Celery tasks of polls: close the polls whose time came (the beat runs it every
minute; votes are refused from the closing time on, whatever the task's delay)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from community.polls import services


@shared_task(
    name="community.polls.close_due_polls",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=5,
)
def close_due_polls() -> int:
    """Idempotent: each poll is closed (and its final ``poll.updated`` sent) once."""
    return services.close_due_polls()
