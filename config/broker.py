"""Celery's Redis transport, with one redis-py client per channel for publishing.

kombu's Redis channel builds a new ``redis.Redis`` around its connection pool for
every command it sends outside a consumer (``Channel.conn_or_acquire``): for a
publish, the task a tip queues on commit, that constructor (its response-callback
table, ~160 case-insensitive entries) was a quarter of the publish's CPU
(docs/performance.md, Ledger: the tip's SQL and its publish). A client is only a
façade over the pool: each command still takes a connection from the channel's pool
and gives it back, so one client per channel sends the same commands on the same
connections, with the same timeouts and retries. It is rebuilt when the channel's pool
is (``Channel.close`` drops the pool; a reconnect makes a new one).

Selected with Celery's documented ``broker_transport`` setting (a transport class's
dotted path) for ``redis://`` broker URLs; see ``CELERY_BROKER_TRANSPORT``.
"""

from contextlib import contextmanager

from kombu.transport import redis


class Channel(redis.Channel):
    _publish_client = None
    _publish_client_pool = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool
        if self._publish_client is None or self._publish_client_pool is not pool:
            self._publish_client = self._create_client()
            self._publish_client_pool = pool
        yield self._publish_client


class Transport(redis.Transport):
    Channel = Channel
