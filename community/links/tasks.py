"""Celery task of link previews: ids only, re-fetched, idempotent."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from community.links import services as links_services


@shared_task(
    name="community.links.preview_message_link",
    # A page that cannot be fetched is a result (a failed preview, cached), never an
    # exception; what raises is transient: the media storage or the database.
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=3,
)
def preview_message_link(message_id: int) -> str:
    """Link one message to its URL's preview, fetching the page when needed."""
    return links_services.preview_message_link(message_id=message_id)


@shared_task(
    name="community.links.fetch_link_preview",
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=3,
)
def fetch_link_preview(preview_id: int) -> str:
    """Fetch the page of a preview a composer asked for (GET /api/v1/link-preview/)."""
    return links_services.fetch_link_preview(preview_id=preview_id)


@shared_task(
    name="community.links.sweep_link_previews",
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=3,
)
def sweep_link_previews() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): previews nothing shows any more are deleted."""
    return links_services.sweep_link_previews()
