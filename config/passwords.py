"""Password hashers that hold no database connection and never overload a process.

Argon2 is slow and memory-hard on purpose (tens of milliseconds of CPU and ~100 MB per
hash). Two rules keep a burst of sign-ups or log-ins from taking the process down:

- Nothing holds a pooled database connection while it hashes. A request keeps its
  connection from its first query until it ends, so a hash after a query would keep
  one idle for the whole hash, and a burst empties the pool (``PoolTimeout`` for
  everyone else). Before hashing, a connection that is not inside a transaction goes
  back to the pool; the next query takes one again. Hash before opening a transaction
  (``profiles.services.register_user`` does).
- At most ``PASSWORD_HASH_CONCURRENCY`` hashes run at once per process; a hash waits
  at most ``PASSWORD_HASH_WAIT_SECONDS`` for its turn, then the request answers 503
  with ``Retry-After`` (``ServiceUnavailableError``) instead of queueing without end.

The algorithms are Django's own, so existing password hashes keep verifying.
"""

import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import hashers
from django.db import connections
from django.utils.translation import gettext as _

from config.errors import ServiceUnavailableError

_lock = threading.Lock()
_gate: tuple[int, threading.BoundedSemaphore] | None = None


def _semaphore() -> threading.BoundedSemaphore:
    global _gate
    size = max(1, settings.PASSWORD_HASH_CONCURRENCY)
    with _lock:
        if _gate is None or _gate[0] != size:
            _gate = (size, threading.BoundedSemaphore(size))
        return _gate[1]


def release_idle_connections() -> None:
    """Give back to the pool every connection of this thread not inside a transaction."""
    for connection in connections.all(initialized_only=True):
        if (
            connection.connection is not None
            and not connection.in_atomic_block
            and getattr(connection, "pool", None) is not None
        ):
            connection.close()  # with a pool: returned to it, not closed


@contextmanager
def hashing_slot():
    """Hold one of the process's hashing slots (and no database connection)."""
    release_idle_connections()
    semaphore = _semaphore()
    if not semaphore.acquire(timeout=settings.PASSWORD_HASH_WAIT_SECONDS):
        raise ServiceUnavailableError(
            _("Too many people are signing in at once. Please try again in a few seconds."),
            retry_after=max(1, round(settings.PASSWORD_HASH_WAIT_SECONDS)),
        )
    try:
        yield
    finally:
        semaphore.release()


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    def encode(self, password, salt):
        with hashing_slot():
            return super().encode(password, salt)

    def verify(self, password, encoded):
        with hashing_slot():
            return super().verify(password, encoded)


class PBKDF2PasswordHasher(hashers.PBKDF2PasswordHasher):
    # verify() and harden_runtime() hash through encode().
    def encode(self, password, salt, iterations=None):
        with hashing_slot():
            return super().encode(password, salt, iterations)
