"""Cached entries stamped with a version per scope (a room's history pages, the reactions
on them): an entry is used only while its scope's version is the one it was stored
under. Writers renew the version at once and again once their transaction commits (an
entry read by someone else before the commit, stored under the first new version, is
dropped too); readers create it when missing."""

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


def renew_versions(keys: Iterable[str], *, what: str) -> None:
    """New versions for ``keys`` now and once the current transaction commits."""
    keys = sorted(set(keys))
    if not keys:
        return
    _renew(keys, what)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _renew(keys, what))
    # Outside a transaction the write has committed already: once is enough (on_commit
    # would renew again at once).


def current_version(found: dict, key: str) -> str:
    """The version under ``key`` as ``found`` by a ``get_many``, created when missing
    (when two readers create it at once, the first one's stands)."""
    version = found.get(key)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(key, version, timeout=None):
            version = cache.get(key)
    return version
