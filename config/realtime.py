"""Realtime plumbing shared by every app: after-commit broadcasts and socket auth.

Every server-to-client event goes through :func:`broadcast_on_commit` (by way of
``community.events.send_on_commit``, where each event is defined), so nothing is sent
before the data it describes is committed, and a channel layer outage never undoes or
fails a write: the data is stored, clients resync on reconnect.
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import secrets
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import SyncToAsync
from channels.auth import AuthMiddlewareStack
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from config import logs, metrics
from config.channel_layer import RedisPubSubChannelLayer as PubSubChannelLayer
from config.db_lanes import on_a_lane
from config.i18n import SocketLanguageMiddleware

logger = logging.getLogger(__name__)

# Consumers implement ``moim_event`` and forward the event to their client. The channel
# layer carries each event as ``layer_message(event)`` makes it: by default
# ``{"type": CONSUMER_HANDLER_TYPE, "event": event}``; ``community.events`` registers the
# form of its message events (their frame's JSON text, encoded once by the sender).
CONSUMER_HANDLER_TYPE = "moim.event"


def _plain_layer_message(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": CONSUMER_HANDLER_TYPE, "event": event}


layer_message: Callable[[dict[str, Any]], dict[str, Any]] = _plain_layer_message


def set_layer_message(pack: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """What the channel layer carries for each event (``community.events`` sets it: this
    package imports no app)."""
    global layer_message
    layer_message = pack


def broadcast_on_commit(group: str, *events: dict[str, Any]) -> None:
    """Send ``events`` (client-facing payloads with a ``type``) to ``group`` after commit,
    in order, in one hand-off to the channel layer. The committing thread waits for the
    send (bounded): a room's lane that outruns the channel layer slows down instead of
    queueing broadcasts without limit on the loop.

    A transaction's broadcasts to one group go out together, in the order they were
    asked for, where the first of them was asked for: a batch of a room's messages
    (``community.chat.services.check_send_messages``) is one publish."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for savepoints, hook, _robust in connection.run_on_commit:
            if (
                isinstance(hook, _GroupBroadcast)
                and hook.group == group
                and not hook.sent
                # Not when this one could roll back alone: it would take the others along.
                and savepoints == set(connection.savepoint_ids)
            ):
                hook.events.extend(events)
                return
    transaction.on_commit(_GroupBroadcast(group, list(events)))


class _GroupBroadcast:
    """The broadcasts a transaction asked for to one group (an ``on_commit`` hook)."""

    def __init__(self, group: str, events: list[dict[str, Any]]) -> None:
        self.group = group
        self.events = events
        self.sent = False

    def __call__(self) -> None:
        self.sent = True
        send_now(self.group, *self.events)


# Broadcasts that could not be handed to the channel layer, in this process. Nothing is
# lost: consumers fill seq gaps from the database (community/chat/consumers.py), and every
# socket of a process whose layer failed is closed with 1013 and resyncs.
BROADCAST_FAILURES = 0
broadcast_logger = logging.getLogger("moim.realtime.broadcast")


def send_now(group: str, *events: dict[str, Any]) -> bool:
    """Send immediately; returns False (and logs) when the channel layer is unreachable.

    Bounded by ``REALTIME_BROADCAST_TIMEOUT_SECONDS`` and never cancelled by the request
    that committed: the send runs on the server's loop (or this process's private one),
    not in the request's task, so a client that disconnects mid-request cannot cut a
    broadcast short. A broadcast that fails or times out is logged; the message it
    carried is stored, and the room's sockets catch up from storage (seq gap check).

    On the server's loop a group's broadcasts go out one after the other, in the order
    they were handed over (``_GroupSends``), and the calling thread waits for its own.
    Elsewhere (WSGI, commands, tasks) the send runs on this process's private loop. A
    room's lane (config/db_lanes.py), whose sends are in order on that one thread,
    publishes them itself on the pub/sub layer (``publish_blocking``), bounded the same.
    """
    layer = get_channel_layer()
    if layer is None or not events:
        return False
    # Built here, on the sending thread: the message events' JSON text is encoded once,
    # from the event as it is now.
    messages = [layer_message(event) for event in events]
    timeout = settings.REALTIME_BROADCAST_TIMEOUT_SECONDS
    loop = _server_loop()
    try:
        # A room's lane: its sends are in order on this one thread, so it publishes them
        # itself rather than waiting for the busy server loop to.
        if (
            on_a_lane()
            and hasattr(layer, "publish_blocking")
            and layer.publish_blocking(group, messages, timeout=timeout)
        ):
            return True
        if loop is None:
            _private_loop().run(_send_all(layer, group, messages, timeout), timeout + 1)
            return True
        done = concurrent.futures.Future()
        loop.call_soon_threadsafe(_GroupSends.add, loop, layer, group, messages, timeout, done)
        # Bounded as before, from the hand-off (the group's earlier sends included); the
        # send itself still runs to its own bound on the loop.
        return done.result(timeout + 1)
    except BaseException as error:  # CancelledError included: the write is committed
        _broadcast_failed(error, group, messages)
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        return False


async def _send_all(layer, group: str, messages: list[dict[str, Any]], timeout: float) -> None:
    async def each() -> None:
        for message in messages:
            await layer.group_send(group, message)

    await asyncio.wait_for(each(), timeout)


def _broadcast_failed(error: BaseException, group: str, messages: list[dict[str, Any]]) -> None:
    global BROADCAST_FAILURES
    BROADCAST_FAILURES += 1
    metrics.channel_layer_send_failed()
    broadcast_logger.warning(
        "channel layer unavailable (%s); %s not broadcast to %s, sockets catch up from storage",
        type(error).__name__,
        ", ".join(str(layer_event_type(message)) for message in messages),
        group,
    )


def layer_event_type(message: dict[str, Any]) -> str | None:
    """The client event type a channel-layer message carries."""
    event = message.get("event")
    return event.get("type") if isinstance(event, dict) else message.get("kind")


class _GroupSends:
    """Broadcasts on the server's loop, per group one after the other in hand-off order
    (what the threads that committed them waited for one by one before), different
    groups side by side. Each send is bounded by ``REALTIME_BROADCAST_TIMEOUT_SECONDS``
    from when it starts, as before; when one fails (Redis down or frozen), the group's
    sends queued behind it fail with it at once instead of each waiting out its own
    timeout, so a dead layer never builds a backlog. Failures are logged as not
    broadcast, and the sockets fill the messages from storage. Everything here runs on
    the loop's thread."""

    queues: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, deque]]" = (
        weakref.WeakKeyDictionary()
    )
    tasks: set[asyncio.Task] = set()

    @classmethod
    def add(cls, loop, layer, group: str, messages: list, timeout: float, done) -> None:
        queues = cls.queues.setdefault(loop, {})
        queue = queues.get(group)
        if queue is None:
            queue = queues[group] = deque()
            task = loop.create_task(cls._drain(queues, group, queue))
            cls.tasks.add(task)
            task.add_done_callback(cls.tasks.discard)
        queue.append((layer, messages, timeout, done))

    @staticmethod
    def _settle(done, sent: bool) -> None:
        if done is not None and not done.done():
            done.set_result(sent)

    @classmethod
    async def _drain(cls, queues: dict[str, deque], group: str, queue: deque) -> None:
        try:
            while queue:
                layer, messages, timeout, done = queue[0]
                try:
                    await _send_all(layer, group, messages, timeout)
                except BaseException as error:  # CancelledError: the loop is closing
                    queue.popleft()
                    _broadcast_failed(error, group, messages)
                    cls._settle(done, False)
                    if not isinstance(error, Exception):
                        raise
                    # Handed over while this one was failing: they would fail alike.
                    while queue:
                        _layer, messages, _timeout, done = queue.popleft()
                        _broadcast_failed(error, group, messages)
                        cls._settle(done, False)
                else:
                    queue.popleft()
                    cls._settle(done, True)
        finally:
            if queues.get(group) is queue:
                del queues[group]
            for _layer, messages, _timeout, done in queue:  # cancelled with the loop
                _broadcast_failed(asyncio.CancelledError(), group, messages)
                cls._settle(done, False)
            queue.clear()


def _server_loop():
    """The ASGI server's (or an async test's) event loop when this thread runs sync code
    for it (``sync_to_async``): the send is handed to that loop, where the channel layer
    already has its connections. asgiref keeps it in a thread-local; a loop that has
    stopped since (an earlier test's) does not count."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


class _PrivateLoop:
    """One event loop in a daemon thread for sends from plain sync code (WSGI, commands,
    tasks, benchmarks). ``async_to_sync`` would start a new loop per call there, and the
    Redis layer keeps its connections per loop, so every send paid a new connection
    (~1 ms against ~0.1 ms here, bench/ledger.py). Rebuilt after a fork: the thread does
    not survive it."""

    TIMEOUT_SECONDS = 10

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="realtime-send", daemon=True).start()

    def run(self, coroutine, timeout: float | None = None) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        future.result(timeout or self.TIMEOUT_SECONDS)


_private: _PrivateLoop | None = None
_private_lock = threading.Lock()


def _private_loop() -> _PrivateLoop:
    global _private  # one per process, created on first use
    with _private_lock:
        if _private is None or _private.pid != os.getpid():
            _private = _PrivateLoop()
        return _private


# Close codes every socket may end with (docs/realtime.md).
# 1013 "try again later": the channel layer (Redis) failed; reconnect with backoff.
CLOSE_TRY_AGAIN_LATER = 1013
# 4000 "resync": this socket fell behind (its client stopped reading, or its events could
# not be delivered); reconnect at once with ``?after=<highest contiguous seq>``.
CLOSE_RESYNC = 4000
# What the channel layer raises when Redis is down or frozen (TimeoutError is an OSError).
LAYER_ERRORS = (RedisError, OSError)


class ClosedSocketGuard:
    """Mixin for consumers: what happens to a socket when its path to the client or to
    the channel layer fails.

    * Frames sent after the socket closed are dropped. Group events still queued for a
      channel race the close; the ASGI server refuses a send after its close frame
      (``RuntimeError``) or after the client left (``ClientDisconnected``, an
      ``OSError``), and either would end the consumer with an error for a frame nobody
      can receive any more.
    * Every send is bounded (``REALTIME_SOCKET_SEND_TIMEOUT_SECONDS``): a client that
      stops reading is closed with 4000 (resync) instead of holding its consumer, whose
      channel queue would otherwise overflow and drop events silently.
    * When the channel layer fails under the socket (Redis killed or frozen: the
      consumer's receive loop raises), the socket is closed with 1013 and cleaned up,
      not torn down with a traceback and 1006. That is the core layer; the pub/sub
      layer's receive never fails: it reconnects by itself and then sends
      ``layer.reconnected`` (``layer_reconnected`` below) for the consumer to resync.

    Being every consumer's send path and lifetime, it also gives the socket session its
    request id (config/logs.py) and counts open sockets and delivered frames
    (config/metrics.py).
    """

    socket_closed = False

    async def __call__(self, scope, receive, send):
        # The consumer's whole life: one request id on every log line of the session,
        # and one open socket in the gauge.
        consumer = type(self).__name__
        where = {"consumer": consumer, "path": scope.get("path", "")}
        with logs.bound(request_id=logs.socket_request_id(scope)), metrics.open_socket(consumer):
            logs.socket_logger.info("socket opened: %(path)s", where, extra=where)
            try:
                await self._serve(scope, receive, send)
            except LAYER_ERRORS as error:
                logger.warning(
                    "channel layer failed under an open socket (%s: %s); closing with 1013",
                    type(error).__name__,
                    error,
                )
                await self._abandon(CLOSE_TRY_AGAIN_LATER)
            finally:
                logs.socket_logger.info("socket closed: %(path)s", where, extra=where)

    async def _serve(self, scope, receive, send):
        """Channels' ``AsyncConsumer.__call__``, with a lighter receive loop on the pub/sub
        layer: the socket's channel queue (the layer fills it in memory) is read directly,
        one ``get`` per event, instead of through Channels' ``await_many_dispatch`` (an
        ``asyncio.wait`` and a new task per event, each through the layer's per-loop
        proxy). The client's frames still come one at a time from one pending
        ``receive``, whose completion is queued in the same inbox, so events and frames
        are handled one at a time, in arrival order, as before."""
        layer = get_channel_layer(self.channel_layer_alias)
        if not isinstance(layer, PubSubChannelLayer):
            return await super().__call__(scope, receive, send)
        self.scope = scope
        self.channel_layer = layer
        self.base_send = send
        local = layer._get_layer()
        self.channel_name = await local.new_channel()
        self.channel_receive = functools.partial(layer.receive, self.channel_name)
        with contextlib.suppress(StopConsumer):  # the consumer ended (Channels' way)
            await _dispatch_from_inbox(self, receive, local, self.channel_name)

    async def dispatch(self, message):
        # Channels runs ``close_old_connections`` on its one sync thread before every
        # handler: a round trip to that thread (queued behind every other socket's)
        # for each event delivered, per socket. These consumers touch the database
        # only through ``database_sync_to_async`` (or a room's lane, config/db_lanes.py),
        # which closes old connections on the thread that runs the call, so events from
        # the channel layer and the client's frames go straight to their handler; only
        # connect and disconnect keep Channels' path.
        kind = message.get("type")
        if not isinstance(kind, str) or kind in ("websocket.connect", "websocket.disconnect"):
            return await super().dispatch(message)
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def layer_reconnected(self, message):
        """The pub/sub channel layer lost this process's subscription and has it back
        (config/channel_layer.py): events published in between never came. Consumers
        whose client state depends on every event override this to resync."""

    async def send_json(self, content, close=False):
        if await self._guarded(super().send_json(content, close=close)):
            frame_type = content.get("type") if isinstance(content, dict) else None
            metrics.socket_delivered(consumer=type(self).__name__, frame_type=str(frame_type))

    async def send(self, text_data=None, bytes_data=None, close=False):
        await self._guarded(super().send(text_data=text_data, bytes_data=bytes_data, close=close))

    async def send_text(self, text: str, *, frame_type: str) -> None:
        """A frame whose JSON text is already made: a message event encoded once by its
        sender for every socket (``community.events.layer_message``), sent as is."""
        if await self._guarded(super().send(text_data=text)):
            metrics.socket_delivered(consumer=type(self).__name__, frame_type=frame_type)

    async def _guarded(self, sending) -> bool:
        """Whether the frame was handed to the server."""
        if self.socket_closed:
            sending.close()  # never awaited: nothing is sent
            return False
        try:
            # ``asyncio.timeout``, not ``wait_for``: on Python 3.11 that wraps every
            # frame in a task of its own.
            async with asyncio.timeout(settings.REALTIME_SOCKET_SEND_TIMEOUT_SECONDS):
                await sending
        except TimeoutError:
            logger.warning("socket did not take a frame in time; closing it with %s", CLOSE_RESYNC)
            await self._abandon(CLOSE_RESYNC)
            raise StopConsumer from None
        except OSError:
            self.socket_closed = True
        except RuntimeError as exc:
            if "websocket.close" not in str(exc):
                raise
            self.socket_closed = True
        else:
            return True
        return False

    async def _abandon(self, code: int) -> None:
        """Close with ``code`` (if the client still takes frames) and clean up, bounded:
        the consumer ends right after."""
        already_closed, self.socket_closed = self.socket_closed, True
        if not already_closed:
            try:
                await asyncio.wait_for(self.base_send({"type": "websocket.close", "code": code}), 1)
            except Exception as error:  # gone or stuck: the server drops the connection
                logger.info("close %s not delivered (%s)", code, type(error).__name__)
        try:
            await asyncio.wait_for(self.disconnect(code), 5)
        except Exception:
            logger.warning("socket clean-up after close %s failed", code)


_CLIENT_MESSAGE = object()  # in a socket's inbox: its pending client ``receive`` is done
# Layer events a socket handles in a row before it lets the loop run others: with a
# backlog, ``inbox.get`` and a socket write return without yielding, and the process's
# broadcasts and other sockets would wait for the whole backlog.
_EVENTS_BETWEEN_YIELDS = 16


async def _dispatch_from_inbox(consumer, receive, local, channel: str) -> None:
    """The pub/sub layer's receive loop for one socket (``ClosedSocketGuard._serve``).

    ``local.channels[channel]`` is the queue the layer puts this channel's messages in
    (serialized, as its own ``receive`` reads them, ``layer.reconnected`` notices
    included; a group message is decoded once for all of them). A message waiting there
    is taken without a task or a future; the client side keeps one ``receive`` pending,
    and its completion puts a marker in the same queue to wake the loop. A finished
    client ``receive`` (a frame, the disconnect) goes before any layer event still
    queued, as in Channels' own loop: a socket whose client left stops at once instead
    of working through its backlog first. On exit the channel is forgotten and
    unsubscribed, as the layer does when its ``receive`` is cancelled."""
    inbox = local.channels[channel]
    decode = local.decode  # once per message per process, not per socket
    dispatch = consumer.dispatch

    def client_done(_task) -> None:
        inbox.put_nowait(_CLIENT_MESSAGE)

    client = asyncio.ensure_future(receive())
    client.add_done_callback(client_done)
    in_a_row = 0
    try:
        while True:
            if client.done():
                message = client.result()
                await dispatch(message)  # the disconnect ends the loop here
                client = asyncio.ensure_future(receive())
                client.add_done_callback(client_done)
                continue
            item = await inbox.get()
            if item is _CLIENT_MESSAGE:
                continue  # the check above handles it (or already did)
            await dispatch(decode(item))
            in_a_row += 1
            if in_a_row >= _EVENTS_BETWEEN_YIELDS:
                in_a_row = 0
                await asyncio.sleep(0)
    finally:
        client.remove_done_callback(client_done)
        client.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await client
        try:
            await local.discard_channel(channel)
        except Exception:  # Redis gone: the subscription dies with its connection
            logger.warning("channel %s not unsubscribed", channel, exc_info=True)


# --- Socket tickets for mobile clients ---------------------------------------------
# A mobile client has a JWT, which must not travel in a URL (logs, proxies). It trades
# it for a short-lived, single-use ticket and opens the socket with ``?ticket=``.
# The ticket is signed (user id, a random nonce, the time), so issuing one needs no
# storage and keeps working while the cache is down; redeeming it marks the nonce used
# in the cache, which makes it single-use.
TICKET_TTL_SECONDS = 30
_TICKET_SALT = "moim.realtime.socket-ticket"
_TICKET_USED_KEY = "ws-ticket-used:{}"


def issue_socket_ticket(*, user_id: int) -> str:
    return signing.dumps([user_id, secrets.token_urlsafe(16)], salt=_TICKET_SALT, compress=True)


def redeem_socket_ticket(ticket: str) -> int | None:
    """The ticket's user id, once: ``add`` of its nonce succeeds for exactly one redeemer.
    With the cache down no ticket is accepted (single use cannot be enforced); the
    channel layer shares that Redis, so the socket could not work anyway."""
    if not ticket or len(ticket) > 200:
        return None
    try:
        user_id, nonce = signing.loads(ticket, salt=_TICKET_SALT, max_age=TICKET_TTL_SECONDS)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    try:
        first = cache.add(_TICKET_USED_KEY.format(nonce), 1, TICKET_TTL_SECONDS + 5)
    except Exception:
        logger.warning("cache unavailable; socket ticket refused")
        return None
    return user_id if first and isinstance(user_id, int) else None


class TicketAuthMiddleware(BaseMiddleware):
    """Authenticates ``?ticket=`` sockets; others keep the session user."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ticket = (query.get("ticket") or [""])[0]
        if ticket:
            scope = dict(scope)
            scope["user"] = await _user_for_ticket(ticket)
        return await super().__call__(scope, receive, send)


@database_sync_to_async
def _user_for_ticket(ticket: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    user_id = redeem_socket_ticket(ticket)
    if user_id is None:
        return AnonymousUser()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return user or AnonymousUser()


def websocket_auth_stack(inner):
    """Session auth for web clients, then ticket auth (which wins when present), then the
    socket's language (which needs the user)."""

    return AuthMiddlewareStack(TicketAuthMiddleware(SocketLanguageMiddleware(inner)))


class BrowserOriginValidator:
    """Cookie-authenticated sockets must come from an allowed origin; others need a ticket.

    Browsers always send ``Origin`` with a WebSocket handshake, so checking it stops
    cross-site WebSocket hijacking of a logged-in session. Native apps send none: their
    handshake is let through with its cookies removed, so only a ``?ticket=`` can
    authenticate it.
    """

    def __init__(self, inner):
        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", [])
        if not any(name == b"origin" for name, _value in headers):
            scope = dict(scope, headers=[(n, v) for n, v in headers if n != b"cookie"])
            return await self.inner(scope, receive, send)
        return await self.checked(scope, receive, send)
