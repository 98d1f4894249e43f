"""Live read counts: when a member's read marker moves, the room learns the new counts
of its latest messages (``read.updated``), at most twice per
``READ_COUNTS_BROADCAST_SECONDS`` per room however many read at once.

The first move in a quiet room is announced at once (after its commit); moves during
the following window are folded into one trailing announcement (a Celery task queued
with that delay), which reads the counts when it runs, so it includes every move
committed before it. Each announcement carries absolute counts, so a lost or late one
is corrected by the next, and clients keep the lowest count they saw (a count only
goes down).
"""

import logging

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script

from community import events
from community.reads.selectors import forget_room_reads, live_unread_steps
from config.commit_hooks import on_commit_once

logger = logging.getLogger(__name__)


def _window_key(room_id: int) -> str:
    return f"reads:announced:{room_id}"


def _trailing_key(room_id: int) -> str:
    return f"reads:trailing:{room_id}"


def read_marker_moved(*, room_id: int) -> None:
    """A member's read marker in ``room_id`` moved forward (in the caller's transaction,
    or already committed): announce the new counts after the commit, throttled."""
    # The counts cached with the room's history pages are stale from here on.
    forget_room_reads([room_id])
    # Robust: a failed announcement is logged; the read itself stands (the next one, or
    # the next history page, brings the counts). Once per transaction and room: it
    # announces the counts as committed, every move of the transaction included.
    on_commit_once(("reads:announce", room_id), lambda: _announce_throttled(room_id), robust=True)


# The throttle's two ``cache.add`` calls in one Redis round trip: the window's mark,
# and only when it was there already, the trailing one's. 1: leading, 2: trailing
# (queue it), 0: folded into the trailing one already queued.
_THROTTLE_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[3]) then return 2 end
return 0
"""
_LEADING, _TRAILING, _FOLDED = 1, 2, 0
# Sent as EVALSHA, loaded into a Redis that does not know it yet (bytes: no client needed
# to encode it).
_throttle_script = Script(None, _THROTTLE_SCRIPT.encode())


def _throttle(room_id: int, window: float) -> int:
    backend = caches["default"]  # the backend itself, not ``cache``'s proxy
    timeouts = (backend.get_backend_timeout(window), backend.get_backend_timeout(window * 4))
    if isinstance(backend, RedisCache) and all(timeouts):
        keys = [backend.make_and_validate_key(_window_key(room_id))]
        keys.append(backend.make_and_validate_key(_trailing_key(room_id)))
        client = backend._cache.get_client(keys[0], write=True)
        value = backend._cache._serializer.dumps(1)
        return int(_throttle_script(keys=keys, args=[value, *timeouts], client=client))
    if cache.add(_window_key(room_id), 1, window):
        return _LEADING
    return _TRAILING if cache.add(_trailing_key(room_id), 1, window * 4) else _FOLDED


def _announce_throttled(room_id: int) -> None:
    window = settings.READ_COUNTS_BROADCAST_SECONDS
    if window > 0:
        try:
            step = _throttle(room_id, window)
            if step == _TRAILING:
                # One trailing announcement per window gathers the moves after the first.
                from community.reads import tasks  # the task module wraps this one

                tasks.announce_read_counts.apply_async(
                    kwargs={"room_id": room_id}, countdown=window
                )
            if step != _LEADING:
                return
        except Exception:  # the cache is down: announce rather than lose it
            logger.warning("read counts throttle unavailable for room %s", room_id)
    announce_read_counts(room_id=room_id)


def announce_read_counts(*, room_id: int, trailing: bool = False) -> bool:
    """Send ``read.updated`` with the room's current counts now (this runs after the
    commit that moved a marker). False when the room is over the cap or empty."""
    if trailing:
        try:
            # Cleared before reading: a move committed after this read queues another.
            cache.delete(_trailing_key(room_id))
        except Exception:
            logger.warning("read counts throttle unavailable for room %s", room_id)
    live = live_unread_steps(room_id=room_id)
    if live is None:
        return False
    from_seq, to_seq, steps = live
    events.send_now(
        f"room.{room_id}",
        events.read_updated(room_id=room_id, from_seq=from_seq, to_seq=to_seq, unread=steps),
    )
    return True
