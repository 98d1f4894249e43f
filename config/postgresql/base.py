"""Django's PostgreSQL backend, whose pool never hands a request a dead connection.

After PostgreSQL restarts (or terminates a backend) every idle connection in a
process's psycopg pool is dead, and the pool does not know until one is used. Django's
``CONN_HEALTH_CHECKS`` would hand the pool psycopg_pool's own check, a round trip on
every checkout that also sleeps between dead connections (1 s, 2 s, 4 s, ...: a
backoff meant for a server that is down), so with a handful of idle connections the
request times out with ``PoolTimeout`` although the server is back.

Here a checkout costs no round trip: an idle connection has nothing to read, so a
readable socket means the server wrote to it (the "terminating connection" notice it
sends when it shuts down or ends the backend) or closed it. Only then is the
connection checked with a query; a dead one makes the pool check all its idle
connections at once (dropping the dead, opening replacements), and the next checkout
gets a live one. A connection dropped silently (a proxy, a partition) fails its first
query instead, which answers 503 (config/api/errors.py).
"""

import functools
import select

from django.utils.asyncio import async_unsafe
from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as MeteredDatabaseWrapper
from django_prometheus.db.common import ExportingCursorWrapper
from psycopg import Cursor
from psycopg import Error as PsycopgError
from psycopg.types.numeric import Int8
from psycopg_pool import ConnectionPool

# A restart kills them all at once: after one ``pool.check()`` the next checkout is a
# fresh connection, so a third dead one means the server is going down again.
CHECKOUT_ATTEMPTS = 3


def server_has_written(connection) -> bool:
    """True when an idle connection's socket is readable or gone (no round trip)."""
    if connection.closed or connection.broken:
        return True
    try:
        readable, _writable, _failed = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class DatabaseWrapper(MeteredDatabaseWrapper):
    """django-prometheus's metered wrapper of Django's backend, with checked checkouts."""

    def get_new_connection(self, conn_params):
        pool = self.pool
        if pool is None:
            return super().get_new_connection(conn_params)
        for attempt in range(1, CHECKOUT_ATTEMPTS + 1):
            connection = super().get_new_connection(conn_params)
            if not server_has_written(connection):
                return connection
            try:
                ConnectionPool.check_connection(connection)
            except PsycopgError:
                pool.putconn(connection)  # closed: the pool drops it and opens another
                if attempt == CHECKOUT_ATTEMPTS:
                    raise
                pool.check()  # the other idle connections died with it
            else:
                return connection  # a notice, not a goodbye: it answered
        raise AssertionError("unreachable")

    @async_unsafe
    def server_bound_cursor(self):
        """A cursor whose parameters are bound by the server, not spliced into the SQL
        text as Django's cursors do (``server_side_binding`` off). psycopg then prepares
        a statement this connection has run ``prepare_threshold`` times (5 by default;
        ``None`` in ``OPTIONS`` turns it off, as PgBouncer before 1.21 in transaction
        mode needs): PostgreSQL parses and plans it once per connection, not per call.
        For hot statements of one fixed text (a tip's statements); integers, alone or in
        a list, are sent as bigint (see :class:`Int8BindingCursor`). Wrapped, logged and
        counted like Django's own cursors; reads no timestamps back (no tz loader)."""
        self.ensure_connection()
        return self._prepare_cursor(_metered_cursor_class(self.alias, self.vendor)(self.connection))


def _typed(value):
    if type(value) is int:
        return Int8(value)
    if type(value) is list and value and type(value[0]) is int:
        return [Int8(item) for item in value]
    return value


class Int8BindingCursor(Cursor):
    """Server-side binding with every integer parameter a bigint: psycopg would send a
    Python int as int2, int4 or int8 by its size, and each mix of types would be a
    statement of its own to prepare (and to plan)."""

    def execute(self, query, params=None, **kwargs):
        if params is not None and not isinstance(params, dict):
            params = [_typed(value) for value in params]
        return super().execute(query, params, **kwargs)


@functools.cache
def _metered_cursor_class(alias: str, vendor: str) -> type:
    return ExportingCursorWrapper(Int8BindingCursor, alias, vendor)
