"""Realtime plumbing shared by every app: after-commit broadcasts and socket auth.

Every server-to-client event goes through :func:`broadcast_on_commit`, so nothing
is sent before the data it describes is committed, and a channel layer outage
never undoes or fails a write: the data is stored, clients resync on reconnect.
"""

import asyncio
import logging
import os
import secrets
import threading
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import SyncToAsync, async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.cache import cache
from django.db import transaction

from config import logs, metrics

logger = logging.getLogger(__name__)

# Consumers implement ``moim_event`` and forward ``event`` to their client.
CONSUMER_HANDLER_TYPE = "moim.event"


def broadcast_on_commit(group: str, *events: dict[str, Any]) -> None:
    """Send ``events`` (client-facing payloads with a ``type``) to ``group`` after commit,
    in order, in one hand-off to the channel layer."""
    transaction.on_commit(lambda: send_now(group, *events))


def send_now(group: str, *events: dict[str, Any]) -> bool:
    """Send immediately; returns False (and logs) when the channel layer is unreachable."""
    layer = get_channel_layer()
    if layer is None or not events:
        return False

    async def send_all() -> None:
        for event in events:
            await layer.group_send(group, {"type": CONSUMER_HANDLER_TYPE, "event": event})

    try:
        if _server_loop() is None:
            _private_loop().run(send_all())
        else:
            async_to_sync(send_all)()
    except Exception:  # the write already committed; clients resync on reconnect
        metrics.channel_layer_send_failed()
        logger.warning(
            "channel layer unavailable; %s not broadcast to %s",
            ", ".join(str(event.get("type")) for event in events),
            group,
        )
        return False
    return True


def _server_loop():
    """The ASGI server's (or an async test's) event loop when this thread runs sync code
    for it (``sync_to_async``): ``async_to_sync`` hands the send to that loop, where the
    channel layer already has its connections. asgiref keeps it in a thread-local."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return getattr(local, "main_event_loop", None)


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

    def run(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(self.TIMEOUT_SECONDS)


_private: _PrivateLoop | None = None
_private_lock = threading.Lock()


def _private_loop() -> _PrivateLoop:
    global _private  # one per process, created on first use
    with _private_lock:
        if _private is None or _private.pid != os.getpid():
            _private = _PrivateLoop()
        return _private


class ClosedSocketGuard:
    """Mixin for consumers: frames sent after the socket closed are dropped.

    Group events still queued for a channel race the close; the ASGI server refuses a
    send after its close frame (``RuntimeError``) or after the client left
    (``ClientDisconnected``, an ``OSError``), and either would end the consumer with an
    error for a frame nobody can receive any more.

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
                await super().__call__(scope, receive, send)
            finally:
                logs.socket_logger.info("socket closed: %(path)s", where, extra=where)

    async def send_json(self, content, close=False):
        if await self._guarded(super().send_json(content, close=close)):
            frame_type = content.get("type") if isinstance(content, dict) else None
            metrics.socket_delivered(consumer=type(self).__name__, frame_type=str(frame_type))

    async def send(self, text_data=None, bytes_data=None, close=False):
        await self._guarded(super().send(text_data=text_data, bytes_data=bytes_data, close=close))

    async def _guarded(self, sending) -> bool:
        """Whether the frame was handed to the server."""
        if self.socket_closed:
            sending.close()  # never awaited: nothing is sent
            return False
        try:
            await sending
        except OSError:
            self.socket_closed = True
        except RuntimeError as exc:
            if "websocket.close" not in str(exc):
                raise
            self.socket_closed = True
        else:
            return True
        return False


# --- Socket tickets for mobile clients ---------------------------------------------
# A mobile client has a JWT, which must not travel in a URL (logs, proxies). It trades
# it for a short-lived, single-use ticket and opens the socket with ``?ticket=``.
TICKET_TTL_SECONDS = 30
_TICKET_KEY = "ws-ticket:{}"


def issue_socket_ticket(*, user_id: int) -> str:
    ticket = secrets.token_urlsafe(32)
    cache.set(_TICKET_KEY.format(ticket), user_id, TICKET_TTL_SECONDS)
    return ticket


def redeem_socket_ticket(ticket: str) -> int | None:
    """The ticket's user id, once: ``delete`` succeeds for exactly one redeemer."""
    if not ticket or len(ticket) > 100:
        return None
    key = _TICKET_KEY.format(ticket)
    user_id = cache.get(key)
    if user_id is None or not cache.delete(key):
        return None
    return user_id


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
    from config.i18n import SocketLanguageMiddleware

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
