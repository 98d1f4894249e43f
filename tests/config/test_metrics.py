"""``/metrics``: who may scrape it, and that each Moim metric moves when its event happens.

Every figure is read the way Prometheus reads it: a GET of ``/metrics`` from an allowed
address, parsed with prometheus_client's own text parser.
"""

import asyncio
import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from community.media.models import MediaAsset
from config import logs, metrics
from tests.community import media_samples
from tests.community.chat_support import (
    next_event,
    ready_socket,
)

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def scrape(**extra) -> dict[tuple[str, frozenset], float]:
    response = Client().get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name: str, **labels) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= set(lbls))


# --- Who may scrape -----------------------------------------------------------------------


def same_page(response, path: str) -> str:
    """The page without what differs between any two requests (path, CSRF token)."""
    page = response.content.decode().replace(path, "PATH")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


@pytest.mark.django_db
def test_loopback_scrapes_django_and_moim_metrics():
    Client().get("/healthz")
    samples = scrape()
    names = {name for name, _labels in samples}
    # django-prometheus: requests, database, cache.
    assert "django_http_requests_total_by_method_total" in names
    assert "django_http_responses_total_by_status_view_method_total" in names
    assert "django_db_execute_total" in names
    assert "django_cache_get_total" in names
    # Moim's own, present from the start (counters without labels at 0).
    assert ("moim_channel_layer_send_failures_total", frozenset()) in samples


@pytest.mark.django_db
def test_ipv6_loopback_is_allowed_by_default():
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200


@pytest.mark.django_db
def test_other_addresses_get_the_404_of_any_missing_page():
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    refused = outsider.get("/metrics")
    missing = outsider.get("/no-such-page")
    assert refused.status_code == missing.status_code == 404
    assert same_page(refused, "/metrics") == same_page(missing, "/no-such-page")
    assert b"moim_" not in refused.content
    # A forged forwarding header does not make an outsider local.
    forged = outsider.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forged.status_code == 404
    assert outsider.get("/metrics/").status_code == 404


@pytest.mark.django_db
def test_only_reads_are_answered():
    assert Client().post("/metrics").status_code == 404


@pytest.mark.django_db
@override_settings(METRICS_ALLOWED_IPS=["10.20.0.0/16", "192.0.2.7"])
def test_the_allow_list_takes_networks_and_addresses():
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.21.0.1").get("/metrics").status_code == 404
    # Loopback is no longer in the list.
    assert Client().get("/metrics").status_code == 404


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["moim.example"])
def test_a_scrape_by_address_over_http_is_answered():
    """Prometheus scrapes a process by IP and port over plain HTTP: no host check, no
    redirect to HTTPS for allowed clients; others still get the site's own answers."""
    response = Client(HTTP_HOST="10.0.0.5:8000").get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content
    outsider = Client(REMOTE_ADDR="203.0.113.9", HTTP_HOST="moim.example")
    assert outsider.get("/metrics").status_code == 301  # like any other page over HTTP


# --- Moim's metrics move with their events ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_message_sent_through_the_api_counts_once_committed(room_with_two, client_for):
    room, _host, guest = room_with_two
    client = client_for(guest)
    before = scrape()
    response = client.post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "hello"})
    assert response.status_code == 201
    refused = client.post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "   "})
    assert refused.status_code == 400
    after = scrape()
    sent = "moim_messages_sent_total"
    assert value(after, sent, kind="text") == value(before, sent, kind="text") + 1


@pytest.mark.django_db(transaction=True)
def test_a_broken_metric_never_breaks_the_send(room_with_two, client_for, monkeypatch, caplog):
    room, _host, guest = room_with_two

    def broken(**labels):
        raise OSError("No space left on device")

    monkeypatch.setattr(metrics.MESSAGES_SENT, "labels", broken)
    monkeypatch.setattr(metrics, "_failure_logged", False)
    response = client_for(guest).post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "hi"})
    assert response.status_code == 201
    assert "recording a metric failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_dead_channel_layer_counts_a_send_failure(room_with_two, client_for):
    from channels.layers import channel_layers

    room, _host, guest = room_with_two
    before = scrape()
    dead_layer = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [DEAD_REDIS]},
        }
    }
    with override_settings(CHANNEL_LAYERS=dead_layer):
        channel_layers.backends.clear()
        response = client_for(guest).post(f"/api/v1/rooms/{room.pk}/messages/", {"body": "x"})
    channel_layers.backends.clear()
    assert response.status_code == 201
    failures = "moim_channel_layer_send_failures_total"
    assert value(scrape(), failures) == value(before, failures) + 1


async def _scrape_until(name: str, labels: dict, expected: float, *, seconds: float = 2.0):
    """The metrics once ``name{labels}`` reached ``expected``, or after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        scraped = await sync_to_async(scrape)()
        if value(scraped, name, **labels) >= expected:
            return scraped
        if asyncio.get_running_loop().time() > deadline:
            return scraped
        await asyncio.sleep(0.02)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_sockets_count_while_open_and_deliveries_as_they_arrive(room_with_two, client_for):
    room, _host, guest = room_with_two
    open_sockets = "moim_open_sockets"
    deliveries = "moim_socket_deliveries_total"
    before = await sync_to_async(scrape)()

    communicator, _ready = await ready_socket(guest, room.pk)
    # A frame is counted right after the consumer hands it over, which may be just after
    # the test receives it: scrape until the count is there (or the wait ends).
    ready = {"consumer": "RoomConsumer", "type": "ready"}
    opened = await _scrape_until(deliveries, ready, value(before, deliveries, **ready) + 1)
    assert total(opened, open_sockets, consumer="RoomConsumer") == (
        total(before, open_sockets, consumer="RoomConsumer") + 1
    )
    assert value(opened, deliveries, consumer="RoomConsumer", type="ready") == (
        value(before, deliveries, consumer="RoomConsumer", type="ready") + 1
    )

    response = await sync_to_async(client_for(guest).post)(
        f"/api/v1/rooms/{room.pk}/messages/", {"body": "over the socket"}
    )
    assert response.status_code == 201
    event = await next_event(communicator, "message.created")
    assert event["message"]["body"] == "over the socket"
    created = {"consumer": "RoomConsumer", "type": "message.created"}
    delivered = await _scrape_until(deliveries, created, value(before, deliveries, **created) + 1)
    assert value(delivered, deliveries, **created) == value(before, deliveries, **created) + 1

    await communicator.disconnect()
    closed = await sync_to_async(scrape)()
    assert total(closed, open_sockets, consumer="RoomConsumer") == total(
        before, open_sockets, consumer="RoomConsumer"
    )


@pytest.mark.django_db(transaction=True)
def test_tips_and_top_ups_count_ledger_transfers_by_kind(make_user, client_for):
    fan, creator = make_user(), make_user()
    transfers = "moim_ledger_transfers_total"
    before = scrape()
    topup = client_for(fan).post(
        "/api/v1/wallet/topups/",
        {"amount": 5000, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="metrics-topup",
    )
    assert topup.status_code == 201, topup.content
    tip = client_for(fan).post(
        "/api/v1/tips/",
        {"user": creator.profile.handle, "amount": 1000, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="metrics-tip",
    )
    assert tip.status_code == 201, tip.content
    refused = client_for(fan).post(
        "/api/v1/tips/",
        {"user": creator.profile.handle, "amount": 10**9, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="metrics-tip-too-much",
    )
    assert refused.status_code == 422
    after = scrape()
    assert total(after, transfers, kind="topup") >= total(before, transfers, kind="topup") + 1
    # The refused tip rolled back: only the one that went through counts.
    assert total(after, transfers, kind="tip") == total(before, transfers, kind="tip") + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_dir", "eager_tasks")
def test_media_tasks_count_by_outcome(auth_client):
    tasks = "moim_media_tasks_total"
    before = scrape()
    for data in (media_samples.jpeg((64, 48)), media_samples.truncated_jpeg()):
        response = auth_client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile("p.jpg", data, content_type="image/jpeg")},
            format="multipart",
        )
        assert response.status_code == 201, response.content
    after = scrape()
    assert value(after, tasks, outcome="ready") == value(before, tasks, outcome="ready") + 1
    assert value(after, tasks, outcome="failed") == value(before, tasks, outcome="failed") + 1


@pytest.mark.django_db
@pytest.mark.usefixtures("media_dir")
def test_a_published_media_task_observes_its_queue_wait(user):
    """The publish path's header handler stamps the time; the task measures from it."""
    from community.media.services import create_media_asset
    from community.media.tasks import process_media_asset

    asset = create_media_asset(
        owner=user,
        file=SimpleUploadedFile("p.jpg", media_samples.jpeg((64, 48)), content_type="image/jpeg"),
    )
    headers: dict = {}
    logs.stamp_task_headers(headers=headers)  # as before_task_publish does
    headers[metrics.ENQUEUED_AT_HEADER] -= 3  # it sat in the broker for three seconds
    wait = "moim_media_task_queue_wait_seconds"
    before = scrape()
    process_media_asset.apply(args=[asset.pk], headers=headers)
    after = scrape()
    assert value(after, f"{wait}_count") == value(before, f"{wait}_count") + 1
    waited = value(after, f"{wait}_sum") - value(before, f"{wait}_sum")
    assert 3 <= waited < 30
    assert value(after, f"{wait}_bucket", le="2.5") == value(before, f"{wait}_bucket", le="2.5")
    asset.refresh_from_db()
    assert asset.state == MediaAsset.State.READY


def test_queue_wait_counts_from_a_retry_s_eta_not_its_publish():
    from types import SimpleNamespace

    from django.utils import timezone

    now = time.time()
    eta = timezone.now() + timezone.timedelta(seconds=-1)
    request = SimpleNamespace(headers={metrics.ENQUEUED_AT_HEADER: now - 60}, eta=eta.isoformat())
    assert 0.5 < metrics.queue_wait_seconds(request) < 5
    assert metrics.queue_wait_seconds(SimpleNamespace(headers=None, eta=None)) is None


# --- Under ASGI (the production server path: the middlewares' async branches) ---------------


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_scrapes_count_requests_and_outsiders_get_404():
    from django.test import AsyncClient

    client = AsyncClient()
    before = await client.get("/metrics")
    assert before.status_code == 200
    page = await client.get("/no-such-page", headers={"X-Request-ID": "asgi-request-0001"})
    assert page.status_code == 404
    assert page["X-Request-ID"] == "asgi-request-0001"
    after = await client.get("/metrics")

    def count(response, name: str, **labels) -> float:
        found = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.content.decode())
            for s in family.samples
        }
        return value(found, name, **labels)

    by_status = "django_http_responses_total_by_status_total"
    assert count(after, by_status, status="404") == count(before, by_status, status="404") + 1

    class OutsiderClient(AsyncClient):
        def _base_scope(self, **request):
            return {**super()._base_scope(**request), "client": ["203.0.113.9", 4711]}

    outsider = await OutsiderClient().get("/metrics")
    assert outsider.status_code == 404
    assert b"moim_" not in outsider.content


def test_a_malformed_allow_list_stops_start_up():
    from tests.config.django_process import run_django

    result = run_django(
        "import django; django.setup()", DEBUG="1", METRICS_ALLOWED_IPS="10.0.0.0/33"
    )
    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS" in result.stderr


@pytest.mark.django_db
def test_a_throttle_that_fails_open_on_a_dead_cache_is_counted(make_user, client_for):
    before = total(scrape(), "moim_limits_failed_open_total")
    dead_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }
    user = make_user()
    with override_settings(CACHES=dead_cache):  # Django swaps the cache handler
        response = client_for(user).get("/api/v1/rooms/")
    assert response.status_code == 200  # the API answers; the limit is not enforced
    assert total(scrape(), "moim_limits_failed_open_total") > before


def test_requests_share_the_redis_connections_of_the_cache():
    """Under ASGI each request is a new context, where Django builds its cache backends
    again: they still share one connection pool per process, so a request's first cache
    call opens no connection (each used to connect, and handshake, to Redis)."""
    import contextvars

    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    if not isinstance(caches["default"], RedisCache):
        pytest.skip("needs the Redis cache (REDIS_URL)")

    def a_request():  # what a request's context sees: a backend of its own
        backend = caches["default"]
        backend.get("shared-pool-check")
        return backend

    def connections_received() -> int:
        client = caches["default"]._cache.get_client(write=True)
        return client.info("stats")["total_connections_received"]

    first = contextvars.Context().run(a_request)
    before = connections_received()
    later = [contextvars.Context().run(a_request) for _ in range(5)]
    assert all(backend is not first for backend in later)  # Django's new backends...
    assert connections_received() == before  # ...and not one new connection
