"""Django's PostgreSQL backend, whose pool never hands a request a dead connection.

After PostgreSQL restarts (or a proxy drops idle connections) every idle connection in
a process's psycopg pool is dead, and the pool does not know until one is used. Django's
``CONN_HEALTH_CHECKS`` hands the pool psycopg_pool's own check, but that check sleeps
between dead connections (1 s, 2 s, 4 s, ...: a backoff meant for a server that is
down), so with a handful of idle connections the request times out with ``PoolTimeout``
although the server is back. Here every checkout is checked (an empty query, one round
trip); the first dead one makes the pool check all its idle connections at once
(dropping the dead, opening replacements), and the next checkout gets a live one.
"""

from django.db.backends.postgresql import base
from psycopg import Error as PsycopgError
from psycopg_pool import ConnectionPool

# A restart kills them all at once: after one ``pool.check()`` the next checkout is a
# fresh connection, so a third dead one means the server is going down again.
CHECKOUT_ATTEMPTS = 3


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        pool = self.pool
        if pool is None:
            return super().get_new_connection(conn_params)
        for attempt in range(1, CHECKOUT_ATTEMPTS + 1):
            connection = super().get_new_connection(conn_params)
            try:
                ConnectionPool.check_connection(connection)
            except PsycopgError:
                pool.putconn(connection)  # closed: the pool drops it and opens another
                if attempt == CHECKOUT_ATTEMPTS:
                    raise
                pool.check()  # the other idle connections died with it
            else:
                return connection
        raise AssertionError("unreachable")
