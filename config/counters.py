"""Counters in the shared cache for rate limits and flood detection.

The one way Moim counts "how many in this window": chat sends, flood, reports, status
posts and failed log-ins all call :func:`count_in_window`.
"""

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from config import metrics

# Failing open is logged here, under its own name, so alerting can key on it.
fail_open_logger = logging.getLogger("moim.failopen")
# Failed-open checks per kind in this process (exported as a metric where one exists).
FAIL_OPEN_COUNTS: Counter[str] = Counter()
_LOG_EVERY_SECONDS = 10.0
_last_logged: dict[str, float] = {}


def record_fail_open(kind: str, error: BaseException) -> None:
    """A limit was not enforced because the cache failed: count it, log it (at most once
    per kind every few seconds, an outage fails every request)."""
    FAIL_OPEN_COUNTS[kind] += 1
    metrics.limit_failed_open(kind)
    now = time.monotonic()
    if now - _last_logged.get(kind, -_LOG_EVERY_SECONDS) >= _LOG_EVERY_SECONDS:
        _last_logged[kind] = now
        fail_open_logger.warning(
            "cache unavailable, %s not enforced (%s failed open so far): %s: %s",
            kind,
            FAIL_OPEN_COUNTS[kind],
            type(error).__name__,
            error,
        )


@dataclass(frozen=True)
class WindowCount:
    count: int
    # Seconds until the window ends (and the count starts again).
    retry_after: int


def _increment(key: str, timeout: int, *, also_get: list[str] | None = None):
    """The counter's new value; with ``also_get``, ``(value, {key: value found})`` for
    those cache keys too, read in the same round trip where the cache allows."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # One round trip on Redis (this is on the path of every chat message): create the
        # key with its expiry if it is new, then count, in a single pipeline.
        redis_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(redis_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.set(redis_key, 0, ex=timeout, nx=True)
        pipe.incr(redis_key)
        wanted = {cache.make_and_validate_key(name): name for name in also_get or ()}
        if wanted and all(
            cache._cache.get_client(other) is client for other in wanted
        ):  # one server holds them all (always, unless the cache is sharded)
            pipe.mget(list(wanted))
            results = pipe.execute()
            found = {
                wanted[other]: cache._cache._serializer.loads(raw)
                for other, raw in zip(wanted, results[2], strict=True)
                if raw is not None
            }
            return int(results[1]), found
        count = int(pipe.execute()[1])
        return count if also_get is None else (count, cache.get_many(also_get))
    count = _increment_elsewhere(cache, key, timeout)
    return count if also_get is None else (count, cache.get_many(also_get))


def _increment_elsewhere(cache, key: str, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def count_in_window(name: str, *, window: int, fixed: bool = True) -> WindowCount:
    """Count one more event for ``name`` and return the count in the current window.

    ``fixed``: windows aligned on the clock (``name`` gets the window's start), so every
    process agrees on them. Otherwise the window starts at the first event and the key
    simply expires ``window`` seconds later.

    Fails open: with the cache down the count is 0 (nothing is over a limit) and the
    outage is recorded, so Moim degrades to "no limits" rather than "no app".
    """
    try:
        return _count_in_window(name, window=window, fixed=fixed)
    except Exception as error:
        record_fail_open(name.split(":", 1)[0], error)
        return WindowCount(count=0, retry_after=window)


def count_in_window_and_get(
    name: str, *, window: int, keys: list[str]
) -> tuple[WindowCount, dict | None]:
    """:func:`count_in_window` (a fixed window) and a ``get_many`` of ``keys``, in one
    round trip on Redis: the chat send's flood counter and its screening rules. Fails
    open like it (count 0, recorded) with ``None`` for what was found."""
    try:
        now = time.time()
        start = int(now // window) * window
        count, found = _increment(f"{name}:{start}", window + 1, also_get=keys)
        retry_after = max(1, math.ceil(start + window - now))
        return WindowCount(count=count, retry_after=retry_after), found
    except Exception as error:
        record_fail_open(name.split(":", 1)[0], error)
        return WindowCount(count=0, retry_after=window), None


def count_many_in_window_and_get(
    counters: Sequence[tuple[str, int]], *, keys: list[str]
) -> tuple[list[WindowCount], dict | None]:
    """:func:`count_in_window_and_get` for several counters at once, each ``(name,
    window)`` in a fixed window: one round trip on Redis however many there are (a
    batch of chat sends: each send's flood and rate counters, and the screening rules).
    A name may come twice: its counts then follow each other, as two calls would give.
    Fails open like it: every count 0 (recorded), ``None`` for what was found."""
    now = time.time()
    windows = []
    for name, window in counters:
        start = int(now // window) * window
        windows.append((f"{name}:{start}", window + 1, max(1, math.ceil(start + window - now))))
    try:
        cache = caches["default"]
        if isinstance(cache, RedisCache):
            redis_keys = [cache.make_and_validate_key(key) for key, _, _ in windows]
            wanted = {cache.make_and_validate_key(name): name for name in keys}
            client = cache._cache.get_client(redis_keys[0] if redis_keys else "", write=True)
            pool = client.connection_pool
            # One server holds them all (always, unless the cache is sharded).
            if all(
                cache._cache.get_client(key, write=True).connection_pool is pool
                for key in [*redis_keys, *wanted]
            ):
                pipe = client.pipeline(transaction=False)
                for redis_key, (_, timeout, _) in zip(redis_keys, windows, strict=True):
                    pipe.set(redis_key, 0, ex=timeout, nx=True)
                    pipe.incr(redis_key)
                if wanted:
                    pipe.mget(list(wanted))
                results = pipe.execute()
                counts = [int(value) for value in results[1 : 2 * len(windows) : 2]]
                found = {}
                if wanted:
                    found = {
                        wanted[other]: cache._cache._serializer.loads(raw)
                        for other, raw in zip(wanted, results[-1], strict=True)
                        if raw is not None
                    }
                return [
                    WindowCount(count=count, retry_after=retry_after)
                    for count, (_, _, retry_after) in zip(counts, windows, strict=True)
                ], found
        counts = [_increment(key, timeout) for key, timeout, _ in windows]
        found = cache.get_many(keys) if keys else {}
        return [
            WindowCount(count=count, retry_after=retry_after)
            for count, (_, _, retry_after) in zip(counts, windows, strict=True)
        ], found
    except Exception as error:
        for kind in sorted({name.split(":", 1)[0] for name, _ in counters}):
            record_fail_open(kind, error)
        return [WindowCount(count=0, retry_after=window) for _, window in counters], None


def peek_count(key: str) -> int:
    """The current value of a counter kept with :func:`count_in_window` (``fixed=False``),
    0 when there is none or the cache is down (recorded, like every failed-open check)."""
    try:
        return int(caches["default"].get(key) or 0)
    except Exception as error:
        record_fail_open(key.split(":", 1)[0], error)
        return 0


def _count_in_window(name: str, *, window: int, fixed: bool) -> WindowCount:
    now = time.time()
    if fixed:
        start = int(now // window) * window
        count = _increment(f"{name}:{start}", window + 1)
        return WindowCount(count=count, retry_after=max(1, math.ceil(start + window - now)))
    return WindowCount(count=_increment(name, window), retry_after=window)


def forget_in_window(name: str, *, window: int) -> None:
    """Start ``name``'s current fixed window again from zero (e.g. a right password
    clears the guesses counted against it). Raises whatever the cache raises."""
    start = int(time.time() // window) * window
    caches["default"].delete(f"{name}:{start}")


def uncount_in_window(name: str, *, window: int) -> None:
    """Take one event back from ``name``'s current fixed window (never below zero)."""
    cache = caches["default"]
    start = int(time.time() // window) * window
    key = f"{name}:{start}"
    try:
        if cache.decr(key) < 0:
            cache.set(key, 0, window + 1)
    except ValueError:  # the window ended meanwhile: nothing to take back
        pass
