"""Running the suite in parallel (pytest-xdist): what each worker gets of its own.

Loaded with ``-p tests.support.parallel`` (pytest.ini), before pytest-django reads the
settings: the settings come from the environment, so a worker's own Redis database,
channel-layer prefix and media folders are given to it as environment variables, which
the server processes and Celery workers that tests start inherit as well.

- PostgreSQL: pytest-django gives each worker its own test database (``test_<name>_gw0``).
- Redis: worker N uses database ``base + N`` of ``REDIS_URL`` (``cache.clear()`` is a
  ``FLUSHDB``, so sharing one would empty the other worker's cache and channel layer
  mid-test), and the channel layer's prefix carries the worker id.
- Media: ``MEDIA_ROOT`` and ``MEDIA_PRIVATE_ROOT`` get a ``-gwN`` suffix.
- Ports: ``free_port()`` hands out ports from a block of the worker's own, below the
  kernel's ephemeral range, so two workers (or an outgoing connection) never race for one.
- Order: xdist hands out whole files (``--dist loadfile``), the files with the most tests
  first. Not reordered by cost on purpose: a transactional test's flush removes what
  data migrations created (the ``moderators`` group), and some tests still expect it, so
  an order that runs transactional files first fails them.
- ``@pytest.mark.serial``: the test runs alone; the other workers wait for it (a file
  lock) and it waits for their current test to end. For tests that kill or freeze
  processes, or measure time, where a busy second core would make them flaky.
"""

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Redis has 16 databases (0..15) unless configured otherwise.
REDIS_DATABASES = 16
# Each worker's ports: [PORT_BASE + N * PORT_BLOCK, PORT_BASE + (N + 1) * PORT_BLOCK),
# below Linux's ephemeral range (32768..60999), from which outgoing connections and
# ``bind(0)`` draw.
PORT_BASE = 20000
PORT_BLOCK = 1000


def worker_id() -> str | None:
    """``gw0``, ``gw1``, ... in an xdist worker; None in a serial run."""
    return os.environ.get("PYTEST_XDIST_WORKER") or None


def worker_index() -> int:
    worker = worker_id()
    return int(worker.removeprefix("gw")) if worker else 0


def _redis_url_for_worker(url: str, index: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = base + index
    if database >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"REDIS_URL {url!r} leaves no database for worker gw{index}: use a lower "
            "database index or fewer workers (-n)."
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def isolate_worker(environ: dict, worker: str, index: int) -> None:
    """Give worker ``worker`` its own Redis database, channel-layer prefix and media."""
    if environ.get("REDIS_URL"):
        environ["REDIS_URL"] = _redis_url_for_worker(environ["REDIS_URL"], index)
    if environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        environ["CELERY_BROKER_URL"] = _redis_url_for_worker(environ["CELERY_BROKER_URL"], index)
    # The sharded channel layer (CHANNEL_LAYER_REDIS_URLS) shares its servers' databases.
    environ["CHANNEL_LAYER_PREFIX"] = f"{environ.get('CHANNEL_LAYER_PREFIX', 'moim')}-{worker}"
    for name in ("MEDIA_ROOT", "MEDIA_PRIVATE_ROOT"):
        if environ.get(name):
            environ[name] = f"{environ[name].rstrip('/')}-{worker}"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # After pytest-env (its defaults are in place; registered later, so it runs first)
    # and before pytest-django imports the settings.
    worker = worker_id()
    if worker is not None:
        isolate_worker(os.environ, worker, worker_index())


# --- ports -------------------------------------------------------------------------------

_next_port = {"offset": 0}


def free_port() -> int:
    """A port nothing listens on, from this worker's own block (see PORT_BASE)."""
    start = PORT_BASE + worker_index() * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = start + _next_port["offset"]
        _next_port["offset"] = (_next_port["offset"] + 1) % PORT_BLOCK
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}..{start + PORT_BLOCK - 1}")


# --- tests that run alone ----------------------------------------------------------------


class _RunAlone:
    """A readers-writer lock between worker processes, on two files.

    Every test holds ``tests.lock`` shared; a ``serial`` test holds it exclusively. The
    ``gate`` file keeps a waiting serial test from being starved: while one waits, no
    worker starts a new test.
    """

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.gate = open(directory / "serial-gate.lock", "a+")  # noqa: SIM115
        self.tests = open(directory / "serial-tests.lock", "a+")  # noqa: SIM115

    @contextlib.contextmanager
    def hold(self, *, alone: bool):
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.tests, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(self.gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self.tests, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(self.gate, fcntl.LOCK_UN)


def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        # The controller's temporary directory, shared by its workers.
        run_directory = Path(config.option.basetemp).parent
        config.stash[_run_alone_key] = _RunAlone(run_directory)


_run_alone_key = pytest.StashKey[_RunAlone]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    run_alone = item.config.stash.get(_run_alone_key, None)
    if run_alone is None:
        return (yield)
    with run_alone.hold(alone=item.get_closest_marker("serial") is not None):
        return (yield)
