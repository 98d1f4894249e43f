"""``GET /healthz``: is every backing service answering?"""

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


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


def _check_channel_layer() -> None:
    layer = get_channel_layer()

    async def round_trip():
        # A sharded layer (CHANNEL_LAYER_REDIS_URLS): every shard answers, or the error
        # names the one that does not.
        for index in range(getattr(layer, "ring_size", 0)):
            try:
                await layer.connection(index).ping()
            except Exception as exc:
                host = layer.hosts[index].get("address", f"#{index}")
                raise RuntimeError(f"shard {index} ({_redacted(host)}) down: {exc}") from exc
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "healthz.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "healthz.ping":
            raise RuntimeError("channel layer returned another message")

    async_to_sync(round_trip)()


def _check_broker() -> None:
    if celery_app.conf.task_always_eager and celery_app.conf.broker_url.startswith("memory"):
        return  # embedded mode: tasks run in-process, there is no broker to reach
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {
    "database": _check_database,
    "cache": _check_cache,
    "channel_layer": _check_channel_layer,
    "broker": _check_broker,
}


@never_cache
@require_GET
def healthz(request):
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a health check reports failures, it does not raise them
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    down = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "ok" if not down else "unavailable", "down": down, "checks": results}
    return JsonResponse(body, status=200 if not down else 503)
