"""A task that only logs (tests/config/test_logs.py), importable by a worker process."""

import logging

from celery import shared_task

QUEUE = "moim-test-logs"


@shared_task(name="tests.config.log_tasks.log_in_a_task")
def log_in_a_task(note: str) -> None:
    logging.getLogger("tests.task").info("inside the task: %s", note)
