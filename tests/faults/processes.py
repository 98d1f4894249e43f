"""Fault injection: servers a test starts, breaks and stops on its own.

Nothing here touches the shared PostgreSQL or Redis: each helper starts a private
server on a free port (a PostgreSQL cluster in a temporary directory, a Redis without
persistence), an ASGI server or a Celery worker as a subprocess, and cleans up after
itself.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

from tests.support.parallel import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process for port {port} exited ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = ""):
    """Poll ``predicate`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


def running_test_database_url() -> str:
    """DATABASE_URL of the test database this run created (the shared server)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def stop_process(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """Stop a process started with ``start_new_session`` and everything it forked."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(process)
    kill_process_group(process)


def kill_process_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and its children (a crash: nothing gets to clean up)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


# --- PostgreSQL ------------------------------------------------------------------------


def postgres_bindir() -> str | None:
    """The directory of initdb/pg_ctl (Debian keeps them off PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return str(Path(found).parent)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(candidates[-1]).parent) if candidates else None


class PostgresCluster:
    """A throwaway PostgreSQL server: ``initdb`` into a temporary directory, one port.

    PostgreSQL refuses to run as root; as root the server runs as the ``postgres``
    OS user (the directory is handed to it).
    """

    def __init__(self):
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bindir = bindir
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="moim-pg-")
        self.data = os.path.join(self.directory, "data")
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self._as_user, *command],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.directory,
        )

    def start(self) -> "PostgresCluster":
        self._run(
            f"{self.bindir}/initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "--no-instructions",
        )
        self.pg_ctl("start")
        return self

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            f"{self.bindir}/pg_ctl",
            "-D",
            self.data,
            "-l",
            os.path.join(self.directory, "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            action,
            *extra,
        )

    def restart(self, mode: str = "fast") -> None:
        """Every client connection is cut, the server comes back. ``fast``: a clean
        shutdown (clients get a notice); ``immediate``: as after a crash."""
        self.pg_ctl("restart", "-m", mode)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def copy_database(self, source_url: str, name: str) -> str:
        """Create ``name`` here as a copy (schema and rows) of ``source_url``."""
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        subprocess.run(
            ["psql", "-q", self.url(), "-c", f'CREATE DATABASE "{name}"'],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        )
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", source_url],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", self.url(name)],
            input=dump.stdout,
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        return self.url(name)


@contextlib.contextmanager
def postgres_cluster():
    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


# --- Redis -----------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server():
    """A private redis-server on a free port, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="moim-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, process, timeout=20)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)
        shutil.rmtree(directory, ignore_errors=True)


# --- App processes ---------------------------------------------------------------------

# Production-like: DEBUG off (so the real error handlers answer), no shared Redis.
PRODUCTION_LIKE_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "fault-injection-tests-only",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    "LOG_LEVEL": "WARNING",
}


def app_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, **PRODUCTION_LIKE_ENV}
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env.update(overrides)
    return env


def start_uvicorn(port: int, env: dict[str, str], log_path: str | None = None):
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log_path else None,
        start_new_session=True,
    )


def start_celery_worker(env: dict[str, str], log_path: str, *extra: str) -> subprocess.Popen:
    """A real prefork worker (one child) in its own process group."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


# --- HTTP ------------------------------------------------------------------------------


class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status_code = status
        self.headers = headers
        self.body = body

    def json(self):
        import json

        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def http(method: str, url: str, *, json_body=None, headers=None, timeout: float = 60) -> Reply:
    """One HTTP request with the standard library; error statuses are answers too."""
    import json
    import urllib.error
    import urllib.request

    data = None
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@contextlib.contextmanager
def app_on_private_postgres(log_path: str, **env: str):
    """A uvicorn process serving a copy of the test database from a private cluster.

    Yields ``(cluster, database_url, base_url)``; the cluster may be restarted or
    stopped at will.
    """
    with postgres_cluster() as cluster:
        url = cluster.copy_database(running_test_database_url(), "moim_faults")
        port = free_port()
        server = start_uvicorn(port, app_env(DATABASE_URL=url, **env), log_path=log_path)
        try:
            wait_for_port(port, server)
            yield cluster, url, f"http://127.0.0.1:{port}"
        finally:
            stop_process(server)
