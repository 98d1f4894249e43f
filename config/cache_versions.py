"""Cached entries stamped with a version per scope (a room's history pages, the reactions
on them): an entry is used only while its scope's version is the one it was stored
under. Readers create it when missing.

A writer renews the version once its transaction commits: an entry stored before then,
by anyone, was read without the write and is dropped. Every renewal of one transaction
goes to Redis in one round trip (a chat send renews its room's history and read-count
versions). Only the writer's own connection can see the write before the commit, so
only its own reads need a new version sooner: a reader calls
:func:`renew_pending_versions` with the keys it reads, which renews, there and then,
those its transaction changed (what renewing at once on every write used to do, without
a round trip for every writer that never reads back)."""

import logging
import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)


def _renew(keys: list[str], what: str) -> None:
    try:
        token = uuid.uuid4().hex
        if len(keys) == 1:  # one scope, as a single write renews: one SET, no pipeline
            cache.set(keys[0], token, timeout=None)
        else:
            cache.set_many(dict.fromkeys(keys, token), timeout=None)
    except Exception:
        # Entries already cached stay until their own timeout.
        logger.warning("%s: could not renew %s", what, keys, exc_info=True)


class _RenewalOnCommit:
    """The transaction's renewals, made once it commits (its ``on_commit`` callback)."""

    def __init__(self) -> None:
        self.what: dict[str, str] = {}  # key -> what it versions (for the log)
        self.unrenewed: set[str] = set()  # not yet renewed before the commit

    def add(self, keys: set[str], what: str) -> None:
        for key in keys:
            self.what.setdefault(key, what)
        self.unrenewed |= keys

    def __call__(self) -> None:
        _renew(sorted(self.what), ", ".join(sorted(set(self.what.values()))))


def _pending(connection) -> _RenewalOnCommit | None:
    # Django drops the callback when the savepoint it was added in rolls back: its keys'
    # writes are gone with it, and the next renewal adds a new one.
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _RenewalOnCommit):
            return callback
    return None


def renew_versions(keys: Iterable[str], *, what: str) -> None:
    """New versions for ``keys``: now outside a transaction, else once it commits (and
    sooner for this connection's own reads, see :func:`renew_pending_versions`)."""
    keys = set(keys)
    if not keys:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _renew(sorted(keys), what)
        return
    pending = _pending(connection)
    if pending is None:
        pending = _RenewalOnCommit()
        transaction.on_commit(pending)
    pending.add(keys, what)


def renew_pending_versions(keys: Iterable[str]) -> None:
    """Before reading ``keys``: renew now those this connection's transaction changed
    and did not renew yet, so its own reads never use an entry stored before its writes
    (the renewal after the commit drops what others stored in between)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return
    pending = _pending(connection)
    if pending is None:
        return
    due = pending.unrenewed.intersection(keys)
    if due:
        pending.unrenewed -= due
        _renew(sorted(due), ", ".join(sorted({pending.what[key] for key in due})))


def current_version(found: dict, key: str) -> str:
    """The version under ``key`` as ``found`` by a ``get_many``, created when missing
    (when two readers create it at once, the first one's stands)."""
    version = found.get(key)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(key, version, timeout=None):
            version = cache.get(key)
    return version
