"""The Celery app. Run a worker with ``celery -A config worker -l info``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("moim")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app's ``tasks`` module, and the community packages' own (a package per concern).
app.autodiscover_tasks()
app.autodiscover_tasks(
    [
        "community.media",
        "community.notifications",
        "community.polls",
        "community.meetups",
        "community.reads",
        "community.push",
    ]
)
