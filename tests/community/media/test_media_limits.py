"""The numbers that bound media processing stay in the order the design needs."""

from django.conf import settings

from community.media.tasks import process_media_asset


def test_time_limits_visibility_timeout_and_sweep_threshold_are_ordered():
    soft, hard = settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    # A running task is killed before the broker would hand its message to another
    # worker, and the sweep only re-queues what the broker itself would not redeliver.
    assert soft < hard < visibility < settings.MEDIA_STALE_SECONDS
    # Retry countdowns wait unacknowledged in the worker: longer than the visibility
    # timeout and the broker would deliver them twice.
    assert process_media_asset.retry_backoff_max < visibility
    # The task's own retries fit in the attempt cap enforced at claim.
    assert process_media_asset.max_retries + 1 == settings.MEDIA_MAX_ATTEMPTS
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    # Minutes, not an hour.
    assert settings.MEDIA_STALE_SECONDS <= 15 * 60
