"""Moim's channel layer: channels-redis's core layer with a configurable receive block,
and group memberships that survive the restart of one shard.

channels-redis waits for messages with a ``BZPOPMIN`` of a fixed 5 seconds; with a
client socket timeout below that, every idle wait would end in a timeout. Blocking for
less (``receive_block_seconds``, a fraction of the socket timeout) keeps the socket
timeout short enough to notice a frozen Redis in seconds. Settings build its config
with ``config.redis_clients.channel_layer_settings``.

Sharded over several Redis servers (``CHANNEL_LAYER_REDIS_URLS``), a group's members
are a sorted set on the shard the group's name hashes to, while a process receives on
the shard its own channels hash to. A group shard that restarts (empty: the layer keeps
nothing on disk) forgets every member; the sockets of processes that receive on another
shard stay open and would hear nothing more from their room. So this layer remembers
the memberships its process added and, from its receive loop, checks each shard's
identity (``run_id``) every ``shard_check_seconds``: a shard that failed to answer or
answers as a new server gets this process's memberships back. Messages broadcast while
it was down are not replayed; sockets fetch them from storage at the next seq gap, as
after any lost broadcast. With a single Redis the receive loop itself fails when it
restarts, every socket closes with 1013 and joins again, so the check is off.
"""

import asyncio
import contextvars
import logging
import time

from channels_redis.core import RedisChannelLayer as CoreRedisChannelLayer

logger = logging.getLogger(__name__)

_UNSEEN = object()  # a shard not checked yet (no identity to compare with)


class RedisChannelLayer(CoreRedisChannelLayer):
    def __init__(
        self, *, receive_block_seconds: float = 1.0, shard_check_seconds: float = 1.0, **config
    ):
        super().__init__(**config)
        self.brpop_timeout = receive_block_seconds
        self.shard_check_seconds = shard_check_seconds
        # group -> this process's channels in it (re-added to a shard that restarted)
        self.local_memberships: dict[str, set[str]] = {}
        self._shard_ids: list = [_UNSEEN] * self.ring_size
        self._shards_checked_at = 0.0
        self._shard_check: asyncio.Task | None = None

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        self.local_memberships.setdefault(group, set()).add(channel)

    async def group_discard(self, group, channel):
        channels = self.local_memberships.get(group)
        if channels is not None:  # forgotten here even if the shard is down
            channels.discard(channel)
            if not channels:
                del self.local_memberships[group]
        await super().group_discard(group, channel)

    async def flush(self):
        self.local_memberships.clear()
        await super().flush()

    def _maybe_check_shards(self) -> None:
        """From the receive loop: at most one check at a time, every few seconds, as a
        task of its own (a frozen shard must not hold the receive loop)."""
        if self.ring_size < 2 or not self.local_memberships:
            return
        now = time.monotonic()
        if now - self._shards_checked_at < self.shard_check_seconds:
            return
        if self._shard_check is not None and not self._shard_check.done():
            return
        self._shards_checked_at = now
        # A context of its own: not the log context (request id) of the socket whose
        # receive happened to start it.
        self._shard_check = asyncio.get_running_loop().create_task(
            self._check_shards(), context=contextvars.Context()
        )

    async def _check_shards(self) -> None:
        for index in range(self.ring_size):
            previous = self._shard_ids[index]
            try:
                info = await self.connection(index).info("server")
                identity = info.get("run_id")
            except asyncio.CancelledError:
                raise
            except Exception:  # down or frozen: rejoined once it answers again
                self._shard_ids[index] = None
                continue
            self._shard_ids[index] = identity
            if previous == identity:
                continue
            # A new identity, or the first one seen (it may have restarted before this
            # process's first check): add the memberships again (ZADD is idempotent).
            try:
                rejoined = await self._rejoin(index)
            except asyncio.CancelledError:
                raise
            except Exception:  # tried again at the next check
                self._shard_ids[index] = None
                logger.warning("channel layer shard %s is back; rejoining failed", index)
                continue
            if previous is not _UNSEEN:
                (logger.warning if rejoined else logger.info)(
                    "channel layer shard %s %s; this process's %s group memberships re-added",
                    index,
                    "restarted" if previous is not None else "answers again",
                    rejoined,
                )

    async def _rejoin(self, index: int) -> int:
        connection = self.connection(index)
        rejoined = 0
        for group, channels in list(self.local_memberships.items()):
            if self.consistent_hash(group) != index or not channels:
                continue
            key = self._group_key(group)
            now = time.time()
            await connection.zadd(key, dict.fromkeys(list(channels), now))
            await connection.expire(key, self.group_expiry)
            rejoined += len(channels)
        return rejoined

    async def _brpop_with_clean(self, index, channel, timeout):
        """As the core layer, but a cancellation is never lost.

        On Python 3.11, ``asyncio.timeout`` (which redis-py wraps around every read when
        a socket timeout is set) can turn a cancellation that arrives as the read ends
        into ``TimeoutError``; redis-py then retries the blocking pop and channels-redis
        loops on, so a consumer being shut down (a closed socket, a test's teardown)
        keeps waiting for messages for ever. A cancel still pending once the pop
        returns is raised here instead."""
        self._maybe_check_shards()
        try:
            return await super()._brpop_with_clean(index, channel, timeout)
        finally:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

    async def receive(self, channel):
        """As the core layer, but the message's removal from the in-flight backup queue
        finishes before the message is handed over. The core layer leaves it to a
        background task, which a short-lived event loop (``async_to_sync`` from sync
        code: tasks, commands, tests) cancels at exit; the next receive then puts the
        message back and delivers it twice."""
        message = await super().receive(channel)
        if self.receive_cleaners:
            await asyncio.wait(self.receive_cleaners[:])
        return message
