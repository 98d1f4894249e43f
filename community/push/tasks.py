"""Celery tasks of push: each takes ids, re-reads, and is safe to run again (a device
that took a push is not sent it twice). A provider that cannot take a push now (network,
429, 5xx) makes the task retry with exponential backoff."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from community.push import services

RETRY = {
    "autoretry_for": (services.PushRetry, OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(name="community.tasks.push_notification", **RETRY)
def push_notification(notification_id: int) -> int:
    return services.deliver_notification_push(notification_id=notification_id)


@shared_task(name="community.tasks.push_room_messages", **RETRY)
def push_room_messages(room_id: int) -> int:
    return services.deliver_room_pushes(room_id=room_id)
