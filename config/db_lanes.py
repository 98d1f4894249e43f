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

:func:`in_lane_batch` is group commit for a busy room: calls that arrive while the
room's lane is busy wait together and go to the lane as one batch, so a room's sends
share one transaction and one room lock instead of queueing one by one.
"""

import asyncio
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

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


Item = TypeVar("Item")
Result = TypeVar("Result")
# A batch function: the items in the order they came, to a result or an exception each.
BatchRun = Callable[[Sequence[Item]], list[Any]]

# Per event loop: (batch function, key) -> the (item, future) pairs waiting for the lane.
# A key is present while its drain task runs (which takes every item added meanwhile).
_waiting: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_drains: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks


async def in_lane_batch(key: int, run: BatchRun, item: Item) -> Result:
    """``run([item, ...])[i]`` on ``key``'s lane: ``item`` goes with every other item for
    ``(run, key)`` waiting while the lane was busy with the previous batch (a free lane
    takes it at once, as a batch of one). Items keep their order; ``run`` returns one
    result or exception per item, and each caller gets its own (an exception is raised)."""
    loop = asyncio.get_running_loop()
    queues = _waiting.setdefault(loop, {})
    future = loop.create_future()
    queue = queues.get((run, key))
    if queue is None:
        queues[(run, key)] = [(item, future)]
        drain = loop.create_task(_drain(queues, run, key))
        _drains.add(drain)
        drain.add_done_callback(_drains.discard)
    else:
        queue.append((item, future))
    return await future


async def _drain(queues: dict, run: BatchRun, key: int) -> None:
    batch: list = []
    try:
        while batch := queues[(run, key)]:
            queues[(run, key)] = []  # what comes while the lane works is the next batch
            try:
                results = await in_lane(key, run)([item for item, _future in batch])
            except Exception as error:  # the batch as a whole failed: each caller hears it
                results = [error] * len(batch)
            for (_item, future), result in zip(batch, results, strict=True):
                if future.done():  # its caller went away (a closed socket)
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            batch = []
    finally:
        for _item, future in batch + queues.pop((run, key), []):
            future.cancel()  # only when this task itself was cancelled (the loop closing)
