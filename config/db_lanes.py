"""Sockets' database work on a few threads, one lane per room.

Channels' ``database_sync_to_async`` runs the sync code of every consumer of a process
on ONE thread, so every room's sends, joins and catch-ups queue behind each other: a
process sends as fast as one thread, however many rooms are busy. Here a room's calls
go to one of ``REALTIME_DB_LANES`` single-thread executors (the room id picks it): one
room's calls still run one at a time, in the order they were made (as on the single
thread), while different rooms run side by side. Each lane holds at most one pooled
connection at a time, so the default leaves half of the pool (``DB_POOL_MAX``) to HTTP
requests, which Django runs on a thread per request.

``REALTIME_DB_LANES = 0`` turns it off: every call goes to Channels' single thread.
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings


class _Lanes:
    def __init__(self, count: int) -> None:
        self.pid = os.getpid()
        self.executors = [
            ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"db-lane-{index}", initializer=_mark_lane
            )
            for index in range(count)
        ]

    def for_key(self, key: int) -> ThreadPoolExecutor:
        return self.executors[key % len(self.executors)]


_this_thread = threading.local()


def _mark_lane() -> None:
    _this_thread.is_lane = True


def on_a_lane() -> bool:
    """Whether this thread is one of the lanes (it runs one room's calls in order)."""
    return getattr(_this_thread, "is_lane", False)


_lanes: _Lanes | None = None
_lanes_lock = threading.Lock()


def lane_count() -> int:
    return max(0, int(settings.REALTIME_DB_LANES))


def _executor(key: int) -> ThreadPoolExecutor | None:
    global _lanes  # one set per process, made on first use (and again after a fork)
    count = lane_count()
    if count == 0:
        return None
    with _lanes_lock:
        if _lanes is None or _lanes.pid != os.getpid() or len(_lanes.executors) != count:
            if _lanes is not None and _lanes.pid == os.getpid():
                for executor in _lanes.executors:  # the setting changed: finish, then go
                    executor.shutdown(wait=False)
            _lanes = _Lanes(count)
        return _lanes.for_key(key)


def in_lane(key: int, func: Callable[..., Any]):
    """``func`` as an awaitable run on ``key``'s lane (``database_sync_to_async`` with
    its connection clean-up), or on Channels' single thread when lanes are off."""
    executor = _executor(key)
    if executor is None:
        return database_sync_to_async(func)
    return database_sync_to_async(func, thread_sensitive=False, executor=executor)


def close_lane_connections() -> None:
    """Close the database connections every lane's thread holds (tests: before the test
    database is dropped)."""
    from django.db import connections

    lanes = _lanes
    if lanes is None or lanes.pid != os.getpid():
        return
    for executor in lanes.executors:
        executor.submit(connections.close_all).result()
