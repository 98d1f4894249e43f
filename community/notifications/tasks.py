"""Celery tasks of notifications. The name is kept from before the package split
(``community.tasks.*``) so the beat schedule and queued messages still find it."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from community.notifications.selectors import users_with_digest_due
from community.notifications.services import send_notification_digest

logger = logging.getLogger(__name__)


@shared_task(name="community.tasks.send_notification_digests")
def send_notification_digests() -> int:
    """Email every user with unread mentions or replies older than the delay.

    Each user's digest is its own transaction: a failing mail server for one user is
    logged and that user is retried on the next run (nothing was stamped as emailed);
    a repeat run emails nothing twice. Returns how many emails were sent.
    """
    cutoff = timezone.now() - timedelta(minutes=settings.NOTIFY_DIGEST_DELAY_MINUTES)
    sent = 0
    for user_id in users_with_digest_due(created_before=cutoff):
        try:
            sent += 1 if send_notification_digest(user_id=user_id) else 0
        except Exception:
            logger.exception("notification digest for user %s failed; retried next run", user_id)
    return sent
