"""Celery task of read counts: the trailing announcement of a throttle window."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from community.reads import services


@shared_task(
    name="community.reads.announce_read_counts",
    # The database restarting; a broadcast failure is logged by the channel-layer hand-off.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=3,
)
def announce_read_counts(room_id: int) -> bool:
    """Idempotent: it reads the counts when it runs and sends them."""
    return services.announce_read_counts(room_id=room_id, trailing=True)
