"""Periodic jobs for community (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from community.selectors.notifications import users_with_digest_due
from community.services.notifications import send_notification_digest

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def send_notification_digest_for_user(user_id: int) -> int:
    # Tolerates a deleted user (0) and a repeat run (already emailed rows are skipped).
    return send_notification_digest(user_id=user_id)


@shared_task
def send_notification_digests() -> int:
    """Queue one digest per user with unread mentions or replies older than the delay."""
    from django.conf import settings

    cutoff = timezone.now() - timedelta(minutes=settings.NOTIFY_DIGEST_DELAY_MINUTES)
    user_ids = users_with_digest_due(created_before=cutoff)
    for user_id in user_ids:
        send_notification_digest_for_user.delay(user_id)
    return len(user_ids)
