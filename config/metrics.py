"""Prometheus metrics: every Moim metric is defined here, once, and ``/metrics``.

django-prometheus counts requests, database queries and cache gets (its middleware,
database backend and cache backend are switched on in config/settings.py); this module
adds Moim's own counters, each recorded at the one place its event happens:

- messages sent: ``community.chat.services.do_send_message`` (after commit);
- socket deliveries and open sockets: ``config.realtime.ClosedSocketGuard``, the
  send path and lifetime of every consumer;
- channel-layer send failures: ``config.realtime.send_now``;
- ledger transfers: ``commerce.services.ledger`` (after commit);
- media tasks and their queue wait: ``community.tasks.process_media_asset``.

Recording a metric never raises: a broken exporter (a full or missing multiprocess
directory) is logged once and the request goes on.

Several processes (``uvicorn --workers N``, Celery's prefork pool) share one set of
metrics when ``PROMETHEUS_MULTIPROC_DIR`` names an empty directory (prometheus_client's
multiprocess mode); without it each process exposes only its own. docs/operations.md
says what to scrape.
"""

import atexit
import contextlib
import functools
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db import transaction
from django.http import HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.functional import cached_property
from django_prometheus import middleware as prometheus_middleware
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from config.client_ip import client_ip

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# --- Moim's metrics -------------------------------------------------------------------

MESSAGES_SENT = Counter(
    "moim_messages_sent",
    "Chat messages committed (text, image, video, system), by kind.",
    ["kind"],
)
SOCKET_DELIVERIES = Counter(
    "moim_socket_deliveries",
    "Frames delivered to client WebSockets, by consumer and frame type.",
    ["consumer", "type"],
)
OPEN_SOCKETS = Gauge(
    "moim_open_sockets",
    "WebSocket connections open in this process, by consumer.",
    ["consumer"],
    # One series per live process (label pid) in multiprocess mode.
    multiprocess_mode="liveall",
)
CHANNEL_LAYER_SEND_FAILURES = Counter(
    "moim_channel_layer_send_failures",
    "Broadcasts the channel layer did not accept (the write stands; clients resync).",
)
LIMITS_FAILED_OPEN = Counter(
    "moim_limits_failed_open",
    "Rate limits and counters not enforced because the cache failed, by kind.",
    ["kind"],
)
LEDGER_TRANSFERS = Counter(
    "moim_ledger_transfers",
    "Ledger transfers committed, by kind (tip, top_up, ...) and phase.",
    ["kind", "phase"],
)
MEDIA_TASKS = Counter(
    "moim_media_tasks",
    "Media processing task runs, by outcome (ready, failed, skipped, error).",
    ["outcome"],
)
MEDIA_TASK_QUEUE_WAIT = Histogram(
    "moim_media_task_queue_wait_seconds",
    "Time a media task waited for a worker, from publish (or its retry's ETA) to start.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, float("inf")),
)

TIP_OUTBOX_RELAY_RUNS = Counter(
    "moim_tip_outbox_relay_runs",
    "Runs of the tips' notification outbox relay (beat starts one every second).",
)
TIP_NOTIFICATION_DELAY = Histogram(
    "moim_tip_notification_delay_seconds",
    "From a tip's payment (its outbox row) to its recipient's notification committed.",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, float("inf")),
)

# Header stamped on every published task (config.logs.stamp_task_headers).
ENQUEUED_AT_HEADER = "moim_enqueued_at"

_failure_logged = False


def _record(update: Callable[[], object]) -> None:
    """Apply one metric update; a failure is logged (once per process), never raised."""
    global _failure_logged
    try:
        update()
    except Exception:
        if not _failure_logged:
            _failure_logged = True
            logger.warning("recording a metric failed; metrics may be incomplete", exc_info=True)


def message_sent_on_commit(*, kind: str) -> None:
    transaction.on_commit(lambda: _record(lambda: MESSAGES_SENT.labels(kind=kind).inc()))


def ledger_transfer_on_commit(*, kind: str, phase: str) -> None:
    def count() -> None:
        LEDGER_TRANSFERS.labels(kind=kind, phase=phase).inc()

    transaction.on_commit(lambda: _record(count))


# Counted once per frame per socket: the labelled child is looked up once per process.
_socket_delivery_counters: dict[tuple[str, str], Any] = {}


def socket_delivered(*, consumer: str, frame_type: str) -> None:
    counter = _socket_delivery_counters.get((consumer, frame_type))
    if counter is None:
        counter = SOCKET_DELIVERIES.labels(consumer=consumer, type=frame_type)
        _socket_delivery_counters[consumer, frame_type] = counter
    _record(counter.inc)


@contextlib.contextmanager
def open_socket(consumer: str) -> Iterator[None]:
    """Counts one open socket for the ``with`` block (the consumer's whole lifetime)."""
    _record(lambda: OPEN_SOCKETS.labels(consumer=consumer).inc())
    try:
        yield
    finally:
        _record(lambda: OPEN_SOCKETS.labels(consumer=consumer).dec())


def channel_layer_send_failed() -> None:
    _record(CHANNEL_LAYER_SEND_FAILURES.inc)


def limit_failed_open(kind: str) -> None:
    _record(lambda: LIMITS_FAILED_OPEN.labels(kind=kind).inc())


def media_task_finished(*, outcome: str) -> None:
    _record(lambda: MEDIA_TASKS.labels(outcome=outcome).inc())


def tip_outbox_relay_ran() -> None:
    _record(TIP_OUTBOX_RELAY_RUNS.inc)


def tip_notifications_relayed_on_commit(*, delays: list[float]) -> None:
    """Once the relay's batch commits: how long each of its tips waited for it."""

    def observe() -> None:
        for delay in delays:
            TIP_NOTIFICATION_DELAY.observe(max(0.0, delay))

    transaction.on_commit(lambda: _record(observe))


def queue_wait_seconds(request) -> float | None:
    """How long a task waited between being published (or its ETA, for a retry or a
    countdown) and starting; ``None`` when it was never published (an eager run)."""
    enqueued_at = getattr(request, ENQUEUED_AT_HEADER, None)
    if enqueued_at is None:
        enqueued_at = (getattr(request, "headers", None) or {}).get(ENQUEUED_AT_HEADER)
    try:
        ready_at = float(enqueued_at)
    except (TypeError, ValueError):
        return None
    eta = getattr(request, "eta", None)
    with contextlib.suppress(TypeError, ValueError):
        if isinstance(eta, str):
            eta = datetime.fromisoformat(eta)
        if isinstance(eta, datetime):
            ready_at = max(ready_at, eta.timestamp())
    return max(0.0, time.time() - ready_at)


def media_task_waited(request) -> None:
    waited = queue_wait_seconds(request)
    if waited is not None:
        _record(lambda: MEDIA_TASK_QUEUE_WAIT.observe(waited))


# --- Exposition -------------------------------------------------------------------------


def multiprocess_dir() -> str:
    return os.environ.get(MULTIPROC_DIR_VARIABLE, "")


def registry() -> CollectorRegistry:
    """Every process's metrics in multiprocess mode, else this process's."""
    if not multiprocess_dir():
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def render() -> bytes:
    return generate_latest(registry())


def mark_this_process_dead() -> None:
    """Drop this process's live gauges (open sockets) from the multiprocess directory."""
    if multiprocess_dir():
        with contextlib.suppress(Exception):
            multiprocess.mark_process_dead(os.getpid())


if multiprocess_dir():
    atexit.register(mark_this_process_dead)


@functools.lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in allowed if entry)


def metrics_client_allowed(request) -> bool:
    """Is this request's client in ``METRICS_ALLOWED_IPS`` (addresses or networks)?"""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def _metrics_response() -> HttpResponse:
    try:
        body = render()
    except Exception:  # the exporter broke: say so to the scraper, never a traceback
        logger.exception("rendering /metrics failed")
        return HttpResponse("metrics unavailable\n", status=503, content_type="text/plain")
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def _is_scrape(request) -> bool:
    return (
        request.path == METRICS_PATH
        and request.method in ("GET", "HEAD")
        and metrics_client_allowed(request)
    )


@sync_and_async_middleware
def metrics_endpoint_middleware(get_response):
    """Answers ``GET /metrics`` for allowed clients, before anything else runs (no host
    check, no HTTPS redirect: Prometheus scrapes a process by address over plain HTTP).
    Everyone else goes on down the stack like any other URL, which ends in a 404: the
    endpoint is not advertised."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if _is_scrape(request):
                # Reading the multiprocess files is blocking I/O: off the event loop.
                return await sync_to_async(_metrics_response, thread_sensitive=False)()
            return await get_response(request)

    else:

        def middleware(request):
            if _is_scrape(request):
                return _metrics_response()
            return get_response(request)

    return middleware


# --- django-prometheus, without thread hops under ASGI -----------------------------------
# Its middleware hooks only count, but Django runs a MiddlewareMixin's hooks through
# sync_to_async under ASGI: four thread hops per request on the shared sync thread.
# These call the same hooks directly.


class PrometheusBeforeMiddleware(prometheus_middleware.PrometheusBeforeMiddleware):
    async def __acall__(self, request):
        self.process_request(request)
        response = await self.get_response(request)
        return self.process_response(request, response)


class PrometheusAfterMiddleware:
    """django-prometheus's "after" middleware (requests and responses by view, method,
    status) with its view count taken in ``process_response`` instead of ``process_view``
    (a view hook is another thread hop under ASGI) and no template-name count."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.counting = prometheus_middleware.PrometheusAfterMiddleware(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        self.counting.process_request(request)
        return self._count_response(request, self.get_response(request))

    async def __acall__(self, request):
        self.counting.process_request(request)
        return self._count_response(request, await self.get_response(request))

    def _count_response(self, request, response):
        if getattr(request, "resolver_match", None) is not None:
            self.counting.process_view(request, None)
        return self.counting.process_response(request, response)

    def process_exception(self, request, exception):
        self.counting.process_exception(request, exception)


# --- Cache backends ------------------------------------------------------------------------


class _MeteredGets:
    """Counts gets, hits, misses and failures with django-prometheus's cache metrics.
    (Its own backends need django-redis, or return ``default`` for a cached 0.)"""

    metrics_backend = ""

    def get(self, key, default=None, version=None):
        django_cache_get_total.labels(backend=self.metrics_backend).inc()
        try:
            value = super().get(key, _MISSING, version=version)
        except Exception:
            django_cache_get_fail_total.labels(backend=self.metrics_backend).inc()
            raise
        if value is _MISSING:
            django_cache_misses_total.labels(backend=self.metrics_backend).inc()
            return default
        django_cache_hits_total.labels(backend=self.metrics_backend).inc()
        return value


_MISSING = object()


class _SharedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, keeping one ``redis.Redis`` per connection pool.

    Django builds a new ``redis.Redis`` for every cache call, and its constructor (the
    response-callback tables) cost more CPU than the round trip it wraps: several per
    chat message (rate limit, flood counter, push and read-count throttles). A client is
    safe to share between threads (each command takes a connection from the pool)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._pools_lock = threading.Lock()

    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        pool = self._pools.get(index)
        if pool is None:
            # Shared by every thread of the process (below): one pool per server, ever.
            with self._pools_lock:
                pool = self._pools.get(index)
                if pool is None:
                    pool = self._pools[index] = self._pool_class.from_url(
                        self._servers[index], **self._pool_options
                    )
        return pool

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


# One client (so one connection pool per server) per configuration and process. Django
# keeps its cache backends in a context-local: under ASGI every request is a new context,
# so every request built a new backend, a new pool and a new TCP connection to Redis (and
# redis-py's CLIENT SETINFO handshake) for its first cache call (docs/performance.md,
# "Message history API").
_SHARED_REDIS_CLIENTS: dict[tuple, _SharedClientRedisCacheClient] = {}
_SHARED_REDIS_CLIENTS_LOCK = threading.Lock()


class MeteredRedisCache(_MeteredGets, RedisCache):
    metrics_backend = "redis"

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClientRedisCacheClient

    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _SHARED_REDIS_CLIENTS.get(key)
        if client is None:
            with _SHARED_REDIS_CLIENTS_LOCK:
                client = _SHARED_REDIS_CLIENTS.get(key)
                if client is None:
                    client = _SHARED_REDIS_CLIENTS[key] = self._class(
                        self._servers, **self._options
                    )
        return client


class MeteredLocMemCache(_MeteredGets, LocMemCache):
    metrics_backend = "locmem"


# --- Celery workers -------------------------------------------------------------------------


def start_worker_exporter(**_kwargs):
    """``worker_ready``: serve the worker's metrics on ``WORKER_METRICS_PORT`` (0: off),
    from the worker's main process; with a prefork pool its children's metrics reach it
    through ``PROMETHEUS_MULTIPROC_DIR`` only. Returns the (server, thread) pair."""
    port = getattr(settings, "WORKER_METRICS_PORT", 0)
    if not port:
        return None
    from prometheus_client import start_http_server

    address = getattr(settings, "WORKER_METRICS_ADDRESS", "127.0.0.1")
    served = start_http_server(port, addr=address, registry=registry())
    logger.info("worker metrics on %s:%s", address, port)
    if not multiprocess_dir():
        logger.warning(
            "PROMETHEUS_MULTIPROC_DIR is not set: a prefork pool's task metrics stay in its "
            "child processes and are not served (docs/operations.md)"
        )
    return served


def worker_process_exited(**_kwargs) -> None:
    """``worker_process_shutdown``: a prefork child's live gauges go with it."""
    mark_this_process_dead()


def connect_worker_signals() -> None:
    from celery.signals import worker_process_shutdown, worker_ready

    worker_ready.connect(start_worker_exporter, dispatch_uid="moim-metrics-exporter")
    worker_process_shutdown.connect(worker_process_exited, dispatch_uid="moim-metrics-exit")
