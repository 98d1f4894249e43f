"""One upload processed by a real Celery worker through the Redis broker (PG+Redis runs)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery import app as celery_app
from tests.community import media_samples
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real broker)"),
]


@pytest.fixture
def celery_worker(transactional_db):
    assert not celery_app.conf.task_always_eager
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


def test_a_real_worker_processes_the_upload(celery_worker, media_dir, make_user):
    client = client_for(make_user())
    response = client.post(
        "/api/v1/uploads/",
        {"file": SimpleUploadedFile("p.jpg", media_samples.rotated_jpeg())},
        format="multipart",
    )
    assert response.status_code == 201
    detail_url = f"/api/v1/uploads/{response.json()['id']}/"

    deadline = time.monotonic() + 60
    body = client.get(detail_url).json()
    while body["state"] in ("pending", "processing") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = client.get(detail_url).json()

    assert body["state"] == "ready", body
    assert (body["width"], body["height"]) == (200, 400)
    assert len(list(media_dir.rglob("*.webp"))) == 3  # full + 200x400 + 160x320 shared
