"""Media processing when workers die: every asset ends ready or failed within minutes.

Real Celery workers (prefork, one child) run as subprocesses against a private Redis
the test starts and the test database. The video path is driven through the
``MEDIA_FFMPEG`` setting: a wrapper around the real ffmpeg that is slow the first
time (so the worker can be killed mid-task) or that kills the worker process calling
it (a file that crashes the decoder). Nothing else is faked.
"""

import os
import shutil
import stat
import time

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from community.media.models import MediaAsset
from config.celery import app as celery_app
from tests.community import media_samples
from tests.faults.processes import (
    app_env,
    kill_process_group,
    redis_server,
    running_test_database_url,
    start_celery_worker,
    stop_process,
    wait_until,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.postgres_only,  # workers need a shared database
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
    pytest.mark.skipif(not shutil.which("ffmpeg"), reason="needs ffmpeg"),
    pytest.mark.django_db(transaction=True),
]

# Short limits so the test runs in seconds; the relations are the production ones.
LIMITS = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "20",
    "CELERY_TASK_TIME_LIMIT": "25",
    "CELERY_BROKER_VISIBILITY_TIMEOUT": "8",
}


def _script(path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _video_asset(owner, tmp_path) -> MediaAsset:
    """An uploaded video waiting for processing, as create_media_asset leaves it."""
    name = storages["media"].save(
        "assets/faults/upload.mp4", ContentFile(media_samples.video(tmp_path, seconds=1))
    )
    return MediaAsset.objects.create(
        owner=owner, kind="video", content_type="video/mp4", original_name=name
    )


def _queue(broker_url: str, asset_id: int, env: dict[str, str]) -> None:
    """Publish as the web process does. The sender stamps its time limits into the
    message (in production every process reads the same settings), so the limits the
    worker got are sent along."""
    from community.media.tasks import process_media_asset

    with celery_app.connection_for_write(broker_url) as connection:
        process_media_asset.apply_async(
            (asset_id,),
            connection=connection,
            soft_time_limit=int(env["CELERY_TASK_SOFT_TIME_LIMIT"]),
            time_limit=int(env["CELERY_TASK_TIME_LIMIT"]),
        )


def _worker_env(broker_url: str, media_dir, ffmpeg: str) -> dict[str, str]:
    return app_env(
        DATABASE_URL=running_test_database_url(),
        REDIS_URL=broker_url,
        CELERY_TASK_ALWAYS_EAGER="0",
        MEDIA_PRIVATE_ROOT=str(media_dir),
        MEDIA_FFMPEG=ffmpeg,
        **LIMITS,
    )


def _runs(log) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _final_state(asset_id: int, timeout: float) -> MediaAsset:
    def done():
        asset = MediaAsset.objects.get(pk=asset_id)
        return asset if asset.state in ("ready", "failed") else None

    return wait_until(done, timeout=timeout, interval=0.5, message="the asset never finished")


def test_a_worker_killed_mid_task_does_not_leave_the_asset_processing(
    make_user, media_dir, tmp_path
):
    log, mark = tmp_path / "ffmpeg-runs.log", tmp_path / "slowed-once"
    ffmpeg = _script(
        tmp_path / "ffmpeg",
        f'echo run >> "{log}"\n'
        f'if [ ! -e "{mark}" ]; then touch "{mark}"; sleep 60; fi\n'
        f'exec "{shutil.which("ffmpeg")}" "$@"\n',
    )
    asset = _video_asset(make_user(), tmp_path)
    with redis_server() as broker_url:
        env = _worker_env(broker_url, media_dir, ffmpeg)
        first = start_celery_worker(env, str(tmp_path / "worker.log"))
        try:
            _queue(broker_url, asset.pk, env)
            wait_until(mark.exists, timeout=60, message="the worker never started the task")
            assert MediaAsset.objects.get(pk=asset.pk).state == "processing"
            kill_process_group(first)  # the whole worker, mid-task: nothing acknowledges
            killed_at = time.monotonic()
            second = start_celery_worker(env, str(tmp_path / "worker.log"))
            try:
                asset = _final_state(asset.pk, timeout=90)
            finally:
                stop_process(second)
        finally:
            kill_process_group(first)

    # Delivered again after the visibility timeout (8 s here; an hour before).
    assert asset.state == "ready", asset.failure_reason
    assert asset.attempts == 2
    assert asset.poster_name
    assert time.monotonic() - killed_at < 60


def test_a_file_that_kills_the_worker_ends_failed_after_the_attempt_cap(
    make_user, media_dir, tmp_path
):
    log = tmp_path / "ffmpeg-runs.log"
    # The decoder crashes the process that runs it, every time.
    ffmpeg = _script(tmp_path / "ffmpeg", f'echo run >> "{log}"\nkill -9 "$PPID"\nsleep 10\n')
    asset = _video_asset(make_user(), tmp_path)
    with redis_server() as broker_url:
        env = _worker_env(broker_url, media_dir, ffmpeg)
        worker = start_celery_worker(env, str(tmp_path / "worker.log"))
        try:
            _queue(broker_url, asset.pk, env)
            asset = _final_state(asset.pk, timeout=120)
            time.sleep(3)  # no further delivery runs it again
            runs = _runs(log)
        finally:
            stop_process(worker)

    assert asset.state == "failed"
    assert asset.failure_reason == "Processing failed; please upload the file again."
    assert asset.attempts == settings.MEDIA_MAX_ATTEMPTS == runs
    assert not asset.original_name  # the raw upload is gone with it
    assert not os.path.exists(os.path.join(media_dir, "assets/faults/upload.mp4"))


def test_processing_past_the_soft_time_limit_ends_failed(make_user, media_dir, tmp_path):
    ffmpeg = _script(tmp_path / "ffmpeg", f'sleep 60\nexec "{shutil.which("ffmpeg")}" "$@"\n')
    asset = _video_asset(make_user(), tmp_path)
    with redis_server() as broker_url:
        env = _worker_env(broker_url, media_dir, ffmpeg)
        env.update(CELERY_TASK_SOFT_TIME_LIMIT="3", CELERY_TASK_TIME_LIMIT="10")
        worker = start_celery_worker(env, str(tmp_path / "worker.log"))
        try:
            _queue(broker_url, asset.pk, env)
            asset = _final_state(asset.pk, timeout=60)
        finally:
            stop_process(worker)

    assert asset.state == "failed"
    assert asset.failure_reason == "Processing took too long; please try a smaller file."
    assert asset.attempts == 1
