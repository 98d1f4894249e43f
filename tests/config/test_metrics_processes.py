"""Metrics across processes: multiprocess mode (several uvicorn or prefork workers on one
host) and a Celery worker's own exporter."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import metrics
from tests.support.parallel import free_port

ROOT = Path(__file__).resolve().parents[2]

# One process's life: a message sent and a socket opened; it keeps running until its
# standard input closes, then exits normally.
WORKER = """
import os, sys, django
django.setup()
from config import metrics
metrics.MESSAGES_SENT.labels(kind="text").inc()
metrics.OPEN_SOCKETS.labels(consumer="RoomConsumer").inc()
print(os.getpid(), flush=True)
sys.stdin.read()
"""

SCRAPE = """
import django
django.setup()
from config import metrics
print(metrics.render().decode())
"""


def _env(multiproc_dir: Path) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env[metrics.MULTIPROC_DIR_VARIABLE] = str(multiproc_dir)
    return env


def start(code: str, multiproc_dir: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(multiproc_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def stop(process: subprocess.Popen) -> None:
    process.stdin.close()
    assert process.wait(timeout=60) == 0


def run(code: str, multiproc_dir: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(multiproc_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


@pytest.mark.slow
def test_any_process_serves_the_sum_of_all_in_multiprocess_mode(tmp_path):
    first, first_pid = start(WORKER, tmp_path)
    second, second_pid = start(WORKER, tmp_path)
    try:
        scraped = samples(run(SCRAPE, tmp_path))
    finally:
        stop(first)
    after_exit = samples(run(SCRAPE, tmp_path))
    stop(second)

    sent = [s for s in scraped if s.name == "moim_messages_sent_total"]
    assert [(s.labels["kind"], s.value) for s in sent] == [("text", 2.0)]
    # Open sockets: one series per live process.
    sockets = {s.labels["pid"]: s.value for s in scraped if s.name == "moim_open_sockets"}
    assert sockets == {first_pid: 1.0, second_pid: 1.0}
    # A process that exited takes its live gauge along; its counts stay in the totals.
    sockets = {s.labels["pid"]: s.value for s in after_exit if s.name == "moim_open_sockets"}
    assert sockets == {second_pid: 1.0}
    sent = [s.value for s in after_exit if s.name == "moim_messages_sent_total"]
    assert sent == [2.0]


def test_a_worker_serves_its_metrics_on_its_own_port(settings):
    settings.WORKER_METRICS_PORT = free_port()
    settings.WORKER_METRICS_ADDRESS = "127.0.0.1"
    metrics.media_task_finished(outcome="ready")
    server, thread = metrics.start_worker_exporter()
    try:
        url = f"http://127.0.0.1:{settings.WORKER_METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert any(
        s.name == "moim_media_tasks_total" and s.labels == {"outcome": "ready"} and s.value >= 1
        for s in samples(text)
    )


def test_no_port_no_exporter(settings):
    settings.WORKER_METRICS_PORT = 0
    assert metrics.start_worker_exporter() is None
