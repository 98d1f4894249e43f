"""Moim's channel layers (``CHANNEL_LAYER_BACKEND``): channels-redis's core layer with a
configurable receive block and group memberships that survive the restart of one shard
(``RedisChannelLayer``), or its pub/sub layer with a receive loop that notices a lost
subscription and tells the sockets to resync (``RedisPubSubChannelLayer``, below).

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
import contextlib
import contextvars
import logging
import threading
import time

import redis
from channels_redis.core import RedisChannelLayer as CoreRedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as CoreRedisPubSubChannelLayer
from channels_redis.pubsub import RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close
from redis.backoff import NoBackoff
from redis.retry import Retry

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


# --- the pub/sub layer (CHANNEL_LAYER_BACKEND=pubsub) ----------------------------------

# What a consumer receives when its process's subscription to a shard was lost and is
# back: whatever was published to its groups in between never reached it (Redis keeps
# nothing for pub/sub). Handled by ``layer_reconnected`` (config.realtime.ClosedSocketGuard
# gives every consumer a default).
LAYER_RECONNECTED = "layer.reconnected"
# The PING whose answer proves a (re)subscription is in effect: Redis answers commands on
# a connection in order, so its pong comes after the SUBSCRIBEs sent before it.
_PROBE = b"moim-layer-probe"


class RedisPubSubChannelLayer(CoreRedisPubSubChannelLayer):
    """channels-redis's pub/sub layer: one PUBLISH per ``group_send``; every process
    subscribed to the group fans the message out to its own channels in memory.

    channels-redis's own receive loop logs a lost connection and lets redis-py reconnect
    and subscribe again, silently: what was published in between is gone, and a
    connection that a frozen Redis or a network partition left open but dead is never
    noticed (a pub/sub connection only reads). Here each shard's receive loop:

    * pings the shard after ``keepalive_seconds`` without traffic and treats a pong
      missing for ``socket_timeout`` as a lost connection (closed, then reconnected);
    * reconnects (redis-py subscribes its channels again on connect), then sends a
      probe PING; once its pong is back, the subscriptions are in effect, and every
      local channel subscribed through that shard gets a ``layer.reconnected``
      message: the room sockets fill what they missed from storage;
    * never dies: channels-redis's loop ends for good on a ``TimeoutError``.

    Sharding (``hosts``, one per CHANNEL_LAYER_REDIS_URLS) is channels-redis's: a group
    and a channel live on the shard their name hashes to. A shard that restarts empty
    loses nothing this layer needs: subscriptions are per connection and are made again
    on reconnect; there are no group memberships in Redis to rejoin.

    Channel names are pub/sub channels, shared by every database of a Redis server:
    only the prefix keeps two deployments (or two test workers) apart.
    """

    def __init__(self, *args, keepalive_seconds: float = 5.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.keepalive_seconds = keepalive_seconds
        # (shard index, timeout) -> client: a client's timeouts are fixed when it is made.
        self._blocking: dict[tuple[int, float], redis.Redis | None] = {}
        self._blocking_lock = threading.Lock()
        self._names: RedisPubSubLoopLayer | None = None

    def publish_blocking(self, group: str, messages: list[dict], *, timeout: float) -> bool:
        """PUBLISH ``messages`` to ``group`` from a plain thread, on a blocking client of
        the group's shard (one round trip, however many messages). A room's lane thread
        publishes its own sends this way instead of handing them to the server's event
        loop and waiting there behind every socket's deliveries (docs/performance.md,
        Fanout). False when the shard has no plain address (sentinel): the caller hands
        the send over as usual. Raises what redis-py raises; ``timeout`` bounds it."""
        names = self._names_layer()
        channel = names._get_group_channel_name(group)
        client = self._blocking_client(names, channel, timeout)
        if client is None:
            return False
        payloads = [self.serialize(message) for message in messages]
        if len(payloads) == 1:
            client.publish(channel, payloads[0])
        else:
            pipe = client.pipeline(transaction=False)
            for payload in payloads:
                pipe.publish(channel, payload)
            pipe.execute()
        return True

    def _names_layer(self) -> RedisPubSubLoopLayer:
        # channels-redis's own naming and sharding (never connected: no loop needed).
        if self._names is None:
            self._names = RedisPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
        return self._names

    def _blocking_client(self, names, channel: str, timeout: float) -> "redis.Redis | None":
        shard = names._get_shard(channel)
        index = (names._shards.index(shard), timeout)
        with self._blocking_lock:
            if index not in self._blocking:
                options = dict(shard.host)
                address = options.pop("address", None)
                self._blocking[index] = (
                    None
                    if address is None
                    else redis.Redis.from_url(
                        address,
                        socket_timeout=timeout,
                        socket_connect_timeout=min(
                            timeout, options.get("socket_connect_timeout") or timeout
                        ),
                        # Once, at once, on a connection Redis dropped (a restart): a
                        # timeout is not retried, the broadcast's bound is the timeout.
                        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                    )
                )
            return self._blocking[index]

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _PubSubLoopLayer(
                *self._args,
                **self._kwargs,
                channel_layer=self,
                keepalive_seconds=self.keepalive_seconds,
            )
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer


# Group messages in flight at once whose decode the sockets of a process share.
_DECODED_KEPT = 32


class _PubSubLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, keepalive_seconds: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.keepalive_seconds = keepalive_seconds
        self.hosts = [shard.host for shard in self._shards]
        self._shards = [_PubSubShard(shard.host, self) for shard in self._shards]
        # id(raw) -> (raw, message): the last few messages decoded (``decode``).
        self._decoded: dict[int, tuple[bytes, dict]] = {}

    def decode(self, raw: bytes) -> dict:
        """A message from a channel's queue, as ``receive`` returns it, decoded once per
        process: a group message is put in every member's queue as the same bytes
        object, so its members share one decode (each gets its own top-level dict; the
        values are shared, as events already are by the sockets of one process)."""
        entry = self._decoded.get(id(raw))
        if entry is None or entry[0] is not raw:
            entry = (raw, self.channel_layer.deserialize(raw))
            if len(self._decoded) >= _DECODED_KEPT:
                del self._decoded[next(iter(self._decoded))]
            self._decoded[id(raw)] = entry  # holds raw: its id is not reused meanwhile
        return dict(entry[1])

    # The shard interface /healthz uses (config/health.py), as on the core layer.
    @property
    def ring_size(self) -> int:
        return len(self._shards)

    def connection(self, index: int):
        return self._shards[index].client()

    async def discard_channel(self, channel: str) -> None:
        """Forget a channel made with ``new_channel`` that is done with (the layer only
        forgets one when its ``receive`` is cancelled)."""
        if self.channels.pop(channel, None) is not None:
            await self._get_shard(channel).unsubscribe(channel)

    def reconnected(self, shard: "_PubSubShard") -> int:
        """Tell every local channel subscribed through ``shard`` that it may have missed
        messages; returns how many were told."""
        told = {name for name in self.channels if self._get_shard(name) is shard}
        for group_channel, channels in self.groups.items():
            if self._get_shard(group_channel) is shard:
                told.update(name for name in channels if name in self.channels)
        notice = self.channel_layer.serialize({"type": LAYER_RECONNECTED})
        for name in told:
            self.channels[name].put_nowait(notice)
        return len(told)


class _PubSubShard(RedisSingleShardConnection):
    def client(self):
        self._ensure_redis()
        return self._redis

    def _ensure_receiver(self):
        # A context of its own: not the log context (request id) of the socket whose
        # subscribe started it; the shard's "lost" and "back" lines belong to no request.
        if self._receive_task is None:
            self._receive_task = asyncio.get_running_loop().create_task(
                self._do_receiving(), context=contextvars.Context()
            )

    async def _do_receiving(self):
        layer = self.channel_layer
        pong_timeout = float(self.host.get("socket_timeout") or 5.0)
        lost = False  # the connection failed since the last proof of subscription
        probe_sent_at: float | None = None  # a probe PING waiting for its pong
        heard_at = time.monotonic()
        failures = 0
        while True:
            try:
                if not (self._pubsub and self._pubsub.subscribed):
                    lost, probe_sent_at = False, None  # nobody to tell
                    await asyncio.sleep(0.1)
                    continue
                now = time.monotonic()
                if probe_sent_at is None and (lost or now - heard_at > layer.keepalive_seconds):
                    # Reconnects (and subscribes again) first when the connection is down.
                    await self._pubsub.ping(_PROBE)
                    probe_sent_at = now
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=0.1
                )
                if message is None:
                    # Only once nothing is left to read: a busy event loop that came
                    # back late finds the pong waiting, not a dead connection.
                    if (
                        probe_sent_at is not None
                        and time.monotonic() - probe_sent_at > pong_timeout
                    ):
                        raise ConnectionError(f"no pong in {pong_timeout} s")
                    continue
                heard_at = time.monotonic()
                if message["type"] == "pong":
                    if message["data"] == _PROBE and probe_sent_at is not None:
                        probe_sent_at = None
                        failures = 0
                        if lost:
                            lost = False
                            told = layer.reconnected(self)
                            logger.warning(
                                "channel layer subscription to %s is back; %s channel(s) "
                                "told to fill what they missed",
                                _address(self.host),
                                told,
                            )
                    continue
                self._receive_message(message)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as error:
                if not lost:
                    logger.warning(
                        "channel layer subscription to %s lost (%s: %s); reconnecting",
                        _address(self.host),
                        type(error).__name__,
                        error,
                    )
                lost, probe_sent_at = True, None
                failures += 1
                await self._drop_connection()
                await asyncio.sleep(min(0.1 * 2**failures, 2.0))

    async def _drop_connection(self) -> None:
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None:
            with contextlib.suppress(Exception):  # already gone
                await connection.disconnect(nowait=True)


def _address(host: dict) -> str:
    address = str(host.get("address", "redis"))
    return address.rsplit("@", 1)[-1]
