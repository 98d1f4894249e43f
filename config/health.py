"""``GET /livez``: is this process serving? ``GET /healthz``: is every backing service
answering?

``/livez`` is liveness: answered by :func:`with_liveness` in front of Django (no
middleware, no request signals, no database, no Redis, no host check or HTTPS
redirect), so it says only that this process's event loop takes requests. A balancer
and an orchestrator's liveness probe use it: it does not fail because a service every
host shares is down, and it stays fast while the process is busy.

``/healthz`` is readiness. Its checks run at once, each bounded by
``HEALTHZ_CHECK_TIMEOUT_SECONDS``: a frozen Redis or PostgreSQL makes its check fail with
a timeout, so the probe always answers (503 naming what is down) within about that long,
instead of hanging with the service.
"""

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app
from config.client_ip import is_loopback


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this worker thread's connection goes back to the pool


def _check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def _redacted(address) -> str:
    """A Redis address without its password."""
    text = str(address)
    if "@" in text:
        scheme, rest = text.split("://", 1) if "://" in text else ("", text)
        text = f"{scheme}://{rest.rsplit('@', 1)[1]}" if scheme else rest.rsplit("@", 1)[1]
    return text


async def _check_channel_layer() -> None:
    layer = get_channel_layer()
    # A sharded layer (CHANNEL_LAYER_REDIS_URLS): every shard answers, or the error names
    # the one that does not.
    for index in range(getattr(layer, "ring_size", 0)):
        try:
            await layer.connection(index).ping()
        except Exception as exc:
            host = layer.hosts[index].get("address", f"#{index}")
            raise RuntimeError(f"shard {index} ({_redacted(host)}) down: {exc}") from exc
    channel = await layer.new_channel()
    try:
        await layer.send(channel, {"type": "healthz.ping"})
        message = await layer.receive(channel)
    finally:
        # The pub/sub layer keeps a channel subscribed until told (the core layer's
        # channel is a key that expires).
        if hasattr(layer, "discard_channel"):
            await layer.discard_channel(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("channel layer returned another message")


def _check_broker() -> None:
    if celery_app.conf.task_always_eager and celery_app.conf.broker_url.startswith("memory"):
        return  # embedded mode: tasks run in-process, there is no broker to reach
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


# The sync checks run on threads of their own, not through ``sync_to_async``: that waits
# for its thread even when cancelled, so a check stuck on a frozen service would hold the
# response. A timed-out check is abandoned here and ends with its client's socket timeout.
_checks_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="healthz")


def _in_thread(check):
    async def run() -> None:
        await asyncio.get_running_loop().run_in_executor(_checks_executor, check)

    return run


CHECKS = {
    "database": _in_thread(_check_database),
    "cache": _in_thread(_check_cache),
    "channel_layer": _check_channel_layer,
    "broker": _in_thread(_check_broker),
}


async def _run(check) -> dict:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=settings.HEALTHZ_CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        result = {"ok": False, "error": "timed out"}
    except Exception as exc:  # a health check reports failures, it does not raise them
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    else:
        result = {"ok": True}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


@never_cache
@require_GET
async def healthz(request):
    outcomes = await asyncio.gather(*(_run(check) for check in CHECKS.values()))
    results = dict(zip(CHECKS, outcomes, strict=True))
    down = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "ok" if not down else "unavailable"}
    if _may_see_details(request):
        body.update(down=down, checks=results)
    return JsonResponse(body, status=200 if not down else 503)


LIVEZ_PATH = "/livez"
_LIVEZ_BODY = b'{"status": "ok"}'


def with_liveness(app):
    """The ASGI ``app`` (Django's HTTP handler) with ``/livez`` answered before it."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == LIVEZ_PATH:
            await _livez(scope, send)
        else:
            await app(scope, receive, send)

    return application


async def _livez(scope, send) -> None:
    method = scope.get("method", "GET")
    headers = [
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if method in ("GET", "HEAD"):
        status, body = 200, _LIVEZ_BODY
        headers.append((b"content-type", b"application/json"))
    else:
        status, body = 405, b""
        headers.append((b"allow", b"GET, HEAD"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})


def _may_see_details(request) -> bool:
    """Which component is down, and its error text, only for staff and for probes on
    this machine (the client address by ``config.client_ip``); anyone else gets the
    status alone."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_staff) or is_loopback(request)
