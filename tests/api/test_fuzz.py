"""Schemathesis fuzzes the live API, authenticated, against its own OpenAPI schema.

A real uvicorn server runs on a free port against a freshly migrated and seeded
database: a SQLite file, or, when ``DATABASE_URL`` is PostgreSQL, a scratch database
``<name>_fuzz`` next to it (created and dropped here; Redis is used as configured).
Any 5xx, undocumented status, or response not matching the schema fails the test.
Bounded: a few examples per operation, no shrinking, a hard timeout.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.parallel import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "20")
FUZZ_TIMEOUT_SECONDS = 600

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (BIN / "st").exists(), reason="schemathesis is not installed"),
]


def _server_env(tmp_path: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_SETTINGS"))
    }
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = _scratch_postgres(env["DATABASE_URL"])
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fuzz.sqlite3'}"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY="fuzzing-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        MEDIA_ROOT=str(tmp_path / "media"),
        # The fuzzer is one user on one IP: throttles would answer 429 to most of it.
        THROTTLE_ANON="100000/min",
        THROTTLE_USER="100000/min",
        THROTTLE_AUTH="100000/min",
        THROTTLE_IP="100000/min",
        THROTTLE_WRITES="100000/min",
        THROTTLE_MONEY="100000/min",
        THROTTLE_REACTIONS="100000/min",
        THROTTLE_UPLOADS="100000/min",
        MEDIA_PRIVATE_ROOT=str(tmp_path / "media-private"),
        LOG_LEVEL="WARNING",
    )
    return env


def _scratch_postgres(url: str, *, drop_only: bool = False) -> str:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_fuzz"
    # The maintenance database: the configured one may not exist (pytest-django uses test_*).
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    env = _server_env(tmp_path)
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    seeded = subprocess.run(
        [python, "tests/api/fuzz_seed.py"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            *(python, "-m", "uvicorn", "config.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", server)
        yield {"base": f"http://127.0.0.1:{port}", "log": tmp_path / "server.log", **seed}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if env["DATABASE_URL"].startswith("postgres"):
            _scratch_postgres(os.environ["DATABASE_URL"], drop_only=True)


def _config_file(path: Path, seed: dict) -> Path:
    """Path parameters hit the seeded rooms, members and messages most of the time,
    so the fuzzer gets past 404s into the views' logic; random ids the rest."""
    lines = []
    bindings = {
        "rooms": ("room_id",),
        "memberships": ("membership_id", "member_id"),
        "notifications": ("notification_id",),
        "messages": ("message_id", "pk"),
        "posts": ("post_id",),
        "handles": ("handle",),
        "polls": ("poll_id",),
        "meetups": ("meetup_id",),
    }
    for dictionary, names in bindings.items():
        lines += [f"[dictionaries.{dictionary}]", f"values = {seed[dictionary]!r}", ""]
    lines.append("[parameters]")
    for dictionary, names in bindings.items():
        for name in names:
            lines.append(f'"path.{name}" = {{ dictionary = "{dictionary}", probability = 0.8 }}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_schemathesis_finds_no_server_errors_or_schema_mismatches(live_api, tmp_path):
    report = tmp_path / "report"
    command = [
        str(BIN / "st"),
        "--config-file",
        str(_config_file(tmp_path / "schemathesis.toml", live_api)),
        "run",
        f"{live_api['base']}/api/schema/",
        "--header",
        f"Authorization: Bearer {live_api['access']}",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        "20261130",
        "--no-shrink",
        # One worker: concurrent strategy compilation has crashed the fuzzer's own
        # process on Python 3.11 ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--report-dir",
        str(report),
        "--no-color",
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        capture_output=True,
        text=True,
        timeout=FUZZ_TIMEOUT_SECONDS,
    )
    server_log = live_api["log"].read_text()[-4000:]
    assert result.returncode == 0, (
        f"{result.stdout[-12000:]}\n{result.stderr[-2000:]}\n--- server log ---\n{server_log}"
    )
    assert "Traceback" not in server_log, server_log
    shutil.rmtree(report, ignore_errors=True)
