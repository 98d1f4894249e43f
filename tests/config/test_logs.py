"""JSON logs with a request id: per HTTP request, into Celery tasks, per socket session.

Lines are read as an operator's log shipper would: formatted by the configured JSON
formatter (with the context filter), one object per line, parsed back with ``json``.
"""

import io
import json
import logging
import os
import re
import subprocess
import sys
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from config import logs
from config.asgi import application
from tests.community import media_samples
from tests.community.chat_support import (
    TIMEOUT,
    _session_cookie,
)
from tests.config.django_process import ROOT, run_django
from tests.config.log_tasks import QUEUE, log_in_a_task

DEAD_REDIS = "redis://127.0.0.1:1/0"
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log():
    """The root logger also writes to a buffer through Moim's filter and JSON formatter;
    returns a function that parses the lines written so far."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)

    def lines(**matching) -> list[dict]:
        parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
        return [p for p in parsed if all(p.get(k) == v for k, v in matching.items())]

    lines.handler = handler
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


# --- HTTP -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_echoed_and_on_the_access_line(json_log):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="proxy-7f3a-0001")
    assert response["X-Request-ID"] == "proxy-7f3a-0001"
    (line,) = json_log(name="moim.access")
    assert line["request_id"] == "proxy-7f3a-0001"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert {"time", "message"} <= set(line)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent", ["short", "has spaces in it", "x" * 129, "<script>alert(1)</script>", "é-unicode-id"]
)
def test_an_odd_incoming_request_id_is_replaced(sent, json_log):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert sent not in json.dumps(json_log())


@pytest.mark.django_db
def test_each_request_gets_its_own_id_and_the_query_string_is_not_logged(json_log):
    first = Client().get("/healthz?ticket=secret-ticket")
    second = Client().get("/healthz")
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert "secret-ticket" not in json.dumps(json_log())


@pytest.mark.django_db(transaction=True)
def test_every_line_written_during_a_request_carries_its_id(room_with_two, client_for, json_log):
    from channels.layers import channel_layers

    room, _host, guest = room_with_two
    dead_layer = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [DEAD_REDIS]},
        }
    }
    with override_settings(CHANNEL_LAYERS=dead_layer):
        channel_layers.backends.clear()
        response = client_for(guest).post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "x"})
    channel_layers.backends.clear()
    assert response.status_code == 201
    (warning,) = [line for line in json_log(level="WARNING") if "channel layer" in line["message"]]
    assert warning["request_id"] == response["X-Request-ID"]

    missing = Client().get("/no-such-page")
    (not_found,) = json_log(name="django.request", level="WARNING")
    assert not_found["request_id"] == missing["X-Request-ID"]


@pytest.mark.parametrize(
    ("variables", "formatter"),
    [
        ({"DEBUG": "1"}, "text"),
        ({"SECRET_KEY": "s" * 50, "MEDIA_PRIVATE_ROOT": "/srv/moim-private"}, "json"),
        (
            {
                "SECRET_KEY": "s" * 50,
                "MEDIA_PRIVATE_ROOT": "/srv/moim-private",
                "LOG_FORMAT": "text",
            },
            "text",
        ),
        ({"DEBUG": "1", "LOG_FORMAT": "json"}, "json"),
    ],
)
def test_json_without_debug_text_with_it_unless_log_format_says(variables, formatter):
    probe = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.LOGGING['handlers']['console']['formatter'])"
    )
    result = run_django(probe, **{"LOG_FORMAT": "", **variables})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == formatter


def test_an_unknown_log_format_stops_start_up():
    result = run_django("import django; django.setup()", DEBUG="1", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT" in result.stderr


# --- Celery -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_dir", "eager_tasks")
def test_an_eager_task_run_by_a_request_logs_with_the_request_s_id(auth_client, json_log):
    response = auth_client.post(
        "/api/v1/uploads/",
        {"file": SimpleUploadedFile("p.jpg", media_samples.truncated_jpeg())},
        format="multipart",
        HTTP_X_REQUEST_ID="upload-request-0042",
    )
    assert response.status_code == 201
    (failed,) = json_log(name="community.media.services")
    assert "failed" in failed["message"]
    assert failed["request_id"] == "upload-request-0042"
    assert failed["task_name"] == "community.tasks.process_media_asset"
    assert failed["task_id"]
    # The task's context ended with it.
    assert logs.current_request_id() is None


@pytest.mark.usefixtures("eager_tasks")
def test_the_id_travels_in_the_published_headers_to_the_worker(json_log):
    """The publish side's handler puts the id in the headers; the worker side's binds it."""
    headers: dict = {}
    with logs.bound(request_id="web-request-0007"):
        logs.stamp_task_headers(headers=headers)  # before_task_publish
    assert headers[logs.TASK_REQUEST_ID_HEADER] == "web-request-0007"

    # The worker: no request context of its own, only the message.
    log_in_a_task.apply(args=["published"], headers=headers)
    (line,) = json_log(name="tests.task")
    assert line["request_id"] == "web-request-0007"
    assert line["task_name"] == "tests.config.log_tasks.log_in_a_task"
    assert logs.current_request_id() is None


def test_a_task_published_outside_any_request_gets_an_id_of_its_own():
    headers: dict = {}
    logs.stamp_task_headers(headers=headers)  # e.g. from beat
    assert GENERATED.fullmatch(headers[logs.TASK_REQUEST_ID_HEADER])


@pytest.mark.redis
@pytest.mark.slow
def test_a_real_worker_logs_the_publishing_request_s_id(settings, tmp_path):
    """A worker process as deployed (``celery -A config worker``) writes the task's line
    in JSON with the id of the request that published it."""
    from config.celery import app as celery_app

    if not settings.REDIS_URL or celery_app.conf.task_always_eager:
        pytest.skip("needs REDIS_URL (a real broker)")
    output = tmp_path / "worker.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "json"}
    with output.open("w") as sink:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"),
                *("--queues", QUEUE, "--include", "tests.config.log_tasks", "--loglevel", "INFO"),
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        # A connection of its own: an earlier test may have closed the app's producer pool.
        with (
            logs.bound(request_id="web-request-real-01"),
            celery_app.connection_for_write() as conn,
        ):
            log_in_a_task.apply_async(args=["over the broker"], queue=QUEUE, connection=conn)
        deadline = time.monotonic() + 90
        while "inside the task" not in output.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, output.read_text()
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    lines = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line["name"] == "tests.task"]
    assert line["request_id"] == "web-request-real-01"
    assert line["task_name"] == "tests.config.log_tasks.log_in_a_task"
    assert line["message"] == "inside the task: over the broker"


# --- Sockets -----------------------------------------------------------------------------------


async def _socket(user, room_id: int, request_id: str | None = None):
    cookie = await database_sync_to_async(_session_cookie)(user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/rooms/{room_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    await communicator.receive_output(timeout=TIMEOUT)  # ready
    return communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_one_id_per_socket_session_on_each_of_its_lines(room_with_two, json_log):
    room, _host, guest = room_with_two
    first = await _socket(guest, room.pk)
    second = await _socket(guest, room.pk, request_id="handshake-id-0099")
    await first.disconnect()
    await second.disconnect()

    lines = json_log(name="moim.socket")
    by_id: dict[str, list[str]] = {}
    for line in lines:
        by_id.setdefault(line["request_id"], []).append(line["message"].split(":")[0])
    assert len(by_id) == 2
    assert by_id["handshake-id-0099"] == ["socket opened", "socket closed"]
    (other,) = set(by_id) - {"handshake-id-0099"}
    assert GENERATED.fullmatch(other)
    assert by_id[other] == ["socket opened", "socket closed"]
    assert {line["path"] for line in lines} == {f"/ws/rooms/{room.pk}/"}
