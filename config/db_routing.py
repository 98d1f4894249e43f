"""Reads from a PostgreSQL streaming replica, with read-your-own-writes.

Off unless ``DATABASE_REPLICA_URL`` is set (``settings.DATABASE_REPLICA_ALIAS`` is then
``"replica"``); everything goes to ``default`` otherwise, exactly as without a replica.

Only the read-only pages and API lists named in ``REPLICA_READ_ROUTES`` (room history,
discover and search, profiles) may read the replica, and only for GET/HEAD outside a
transaction. Everything else (writes, sockets, Celery tasks, the admin, any request not
listed) reads the primary. A client that has just written reads the primary for
``DATABASE_REPLICA_READ_PRIMARY_SECONDS`` (longer than the replica is ever allowed to
lag; alert on lag above it), whichever of these says so:

- a signed cookie set by the response to any request that wrote (the router saw a write);
- a per-user mark in the cache, set by the same responses and by every new chat message
  (sockets included), so a token client or a second tab of the same user reads its own
  writes too;
- the request header ``X-Moim-Read-Primary: 1`` (a client that knows it needs fresh data).

If the cache cannot be read the request reads the primary: stale is worse than slower.
"""

from __future__ import annotations

import contextvars
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger(__name__)

# Namespaced URL names whose GET may read the replica.
REPLICA_READ_ROUTES = frozenset(
    {
        # history
        "api:room-messages",
        # discover and search
        "api:room-list",
        "api:room-trending",
        "api:room-for-you",
        "api:room-similar",
        "api:interest-list",
        "room-search",
        # profiles
        "api:user-detail",
        "api:user-posts",
        "profile",
    }
)
READ_PRIMARY_HEADER = "HTTP_X_MOIM_READ_PRIMARY"
READ_PRIMARY_COOKIE = "moim_read_primary"
_COOKIE_SALT = "moim.db_routing.read_primary"


def replica_alias() -> str:
    return getattr(settings, "DATABASE_REPLICA_ALIAS", "") or ""


def _window() -> int:
    return int(getattr(settings, "DATABASE_REPLICA_READ_PRIMARY_SECONDS", 10))


def _writer_key(user_id: int) -> str:
    return f"db:recent-writer:{user_id}"


def mark_recent_writer(user_id: int | None) -> None:
    """``user_id`` reads the primary for the window (no-op without a replica)."""
    if not user_id or not replica_alias():
        return
    try:
        cache.set(_writer_key(user_id), 1, _window())
    except Exception:  # the cookie still covers this client; the cache is best effort
        logger.warning("could not mark user %s as a recent writer", user_id, exc_info=True)


class _RequestState:
    """One request: may it read the replica (decided lazily, once the user is known),
    and did it write (the router's ``db_for_write`` says so)?"""

    __slots__ = ("alias", "replica_allowed", "request", "resolving", "wrote")

    def __init__(self, request):
        self.request = request
        self.replica_allowed = False
        self.alias: str | None = None
        self.resolving = False
        self.wrote = False

    def read_alias(self) -> str | None:
        if not self.replica_allowed or self.wrote:
            return None
        if self.alias is not None:
            return self.alias
        if self.resolving:  # loading the session user itself: the primary
            return None
        self.resolving = True
        try:
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                if "HTTP_AUTHORIZATION" in self.request.META:
                    # A token client, not authenticated yet: its user is looked up on
                    # the primary (a user who just signed up may not be on the replica).
                    return None
                return replica_alias()  # anonymous visitors wrote nothing
            try:
                wrote = cache.get(_writer_key(user.pk)) is not None
            except Exception:
                logger.warning("cache unreadable: reading the primary", exc_info=True)
                wrote = True
            self.alias = "default" if wrote else replica_alias()
            return self.alias
        finally:
            self.resolving = False


_state: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar(
    "moim_replica_reads", default=None
)


def _signed_cookie_fresh(request) -> bool:
    value = request.get_signed_cookie(
        READ_PRIMARY_COOKIE, default=None, salt=_COOKIE_SALT, max_age=_window()
    )
    return value is not None  # a bad or expired signature reads as absent


class ReplicaReadsMiddleware:
    """Lets the listed read-only GETs read the replica; marks clients that wrote."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = _RequestState(request)
        token = _state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _state.reset(token)
        # Only a request that wrote marks its client: a POST that changed nothing (a
        # socket ticket, a refused form) leaves its reads on the replica.
        if state.wrote and replica_alias():
            response.set_signed_cookie(
                READ_PRIMARY_COOKIE,
                str(int(time.time())),
                salt=_COOKIE_SALT,
                max_age=_window(),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                mark_recent_writer(user.pk)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = _state.get()
        if (
            state is not None
            and replica_alias()
            and request.method in ("GET", "HEAD")
            and request.resolver_match is not None
            and request.resolver_match.view_name in REPLICA_READ_ROUTES
            and request.META.get(READ_PRIMARY_HEADER, "") not in ("1", "true")
            and not _signed_cookie_fresh(request)
        ):
            state.replica_allowed = True
        return None


class PrimaryReplicaRouter:
    """``db_for_read`` answers the replica only inside a request the middleware allowed."""

    def db_for_read(self, model, **hints):
        state = _state.get()
        if state is None or not replica_alias():
            return None
        if connections["default"].in_atomic_block:
            return None  # inside a transaction: read what it wrote
        return state.read_alias()

    def db_for_write(self, model, **hints):
        state = _state.get()
        if state is not None:
            state.wrote = True  # this client reads the primary for the window
        # Always the primary, also for an object read from the replica (Django would
        # otherwise write where the instance came from).
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of the primary: objects from either may relate.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # A streaming replica is read-only; migrations run on the primary only.
        return None if db != replica_alias() else False


def mark_message_author(sender, instance, created, **kwargs) -> None:
    """A new chat message (HTTP or socket): its author reads the primary for the window."""
    if not created or not replica_alias() or instance.author_id is None:
        return
    author = instance.author  # the send services hold the membership already
    mark_recent_writer(author.user_id)
