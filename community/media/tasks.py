"""Celery tasks of media: process an upload, sweep stuck and unused ones. Tasks take ids,
re-fetch, and are idempotent. Their names are kept from before the package split
(``community.tasks.*``) so messages already queued, and the beat schedule, still find them."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from community.media import services as media_services
from config import metrics

logger = logging.getLogger(__name__)


def _fail_after_last_retry(self, exc, task_id, args, kwargs, einfo):
    """Retries used up (storage or database kept failing): end failed, not stuck."""
    asset_id = kwargs.get("asset_id", args[0] if args else None)
    if asset_id is not None:
        media_services.fail_media_asset(asset_id=asset_id, reason=_(media_services.GAVE_UP_REASON))


@shared_task(
    name="community.tasks.process_media_asset",
    bind=True,
    # Bad input never raises here (it ends ``failed``); what does raise is transient:
    # the storage (disk, S3) or the database (restarting, pool exhausted).
    autoretry_for=(OSError, ConnectionError, TimeoutError, OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    # Every delivery counts against MEDIA_MAX_ATTEMPTS at claim; retries stay within it.
    max_retries=settings.MEDIA_MAX_ATTEMPTS - 1,
    # Idempotent (claim, then finish only from "processing"), so a delivery is
    # acknowledged only once it is done, and one whose worker died (SIGKILL, OOM, a
    # decoder crash) is delivered again; MEDIA_MAX_ATTEMPTS, checked at claim, ends a
    # file that keeps killing workers. The time limits are the settings' defaults
    # (CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT).
    acks_late=True,
    reject_on_worker_lost=True,
    on_failure=_fail_after_last_retry,
)
def process_media_asset(self, asset_id: int) -> str | None:
    """Decode, render and store the derivatives of one uploaded asset."""
    metrics.media_task_waited(self.request)
    try:
        asset = media_services.process_media_asset(asset_id=asset_id)
    except SoftTimeLimitExceeded:
        # Too slow to finish in time: it would be just as slow again.
        asset = media_services.fail_media_asset(
            asset_id=asset_id, reason=_("Processing took too long; please try a smaller file.")
        )
    except Exception:  # retried (autoretry_for), or failed for good after the last retry
        metrics.media_task_finished(outcome="error")
        raise
    # ready, failed (bad input or too slow), or skipped (already done, or gone)
    metrics.media_task_finished(outcome=asset.state if asset is not None else "skipped")
    return asset.state if asset is not None else None


@shared_task(
    name="community.tasks.sweep_media_assets",
    autoretry_for=(OSError, ConnectionError, TimeoutError, OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=3,
)
def sweep_media_assets() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE, so beat must run): assets stuck past
    MEDIA_STALE_SECONDS re-queued or failed, unused uploads deleted."""
    return media_services.sweep_media_assets()
