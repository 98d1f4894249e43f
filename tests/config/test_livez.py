"""``GET /livez``: liveness, answered by the ASGI application in front of Django.

Through ``config.asgi.application``, as uvicorn calls it: the probe never reaches Django
(no request signals, middleware, database or Redis), so it answers 200 while every
backing service is down (``/healthz``, readiness, answers 503 then), and for a probe
that addresses the process by IP over plain HTTP.
"""

import json

import pytest
from channels.testing import HttpCommunicator
from django.core.signals import request_started

from config.asgi import application
from tests.config.test_health import dead_redis  # noqa: F401 (fixture)


async def fetch(path, *, method="GET", host=b"testserver"):
    communicator = HttpCommunicator(application, method, path, headers=[(b"host", host)])
    response = await communicator.get_response(timeout=10)
    return response["status"], dict(response["headers"]), response["body"]


async def test_livez_answers_ok_without_reaching_django():
    reached = []

    def receiver(**kwargs):
        reached.append(kwargs)

    request_started.connect(receiver)
    try:
        status, headers, body = await fetch("/livez")
    finally:
        request_started.disconnect(receiver)
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"cache-control"] == b"no-store"
    assert reached == []  # no request signal: no connection handling, no middleware


@pytest.mark.django_db
@pytest.mark.usefixtures("dead_redis")
async def test_livez_is_ok_while_the_backing_services_are_down():
    status, _headers, body = await fetch("/healthz")
    assert status == 503  # readiness: the cache, channel layer and broker are down
    assert json.loads(body)["status"] == "unavailable"
    status, _headers, body = await fetch("/livez")
    assert status == 200  # liveness: the process serves; restarting it would not help
    assert json.loads(body) == {"status": "ok"}


async def test_livez_answers_a_probe_by_address_over_plain_http(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["moim.example"]
    status, _headers, _body = await fetch("/api/v1/", host=b"10.0.0.5:8000")
    assert status == 400  # Django refuses the host on every other URL
    status, _headers, body = await fetch("/livez", host=b"10.0.0.5:8000")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


async def test_livez_head_has_no_body_and_other_methods_are_refused():
    status, headers, body = await fetch("/livez", method="HEAD")
    assert status == 200
    assert body == b""
    status, headers, body = await fetch("/livez", method="POST")
    assert status == 405
    assert headers[b"allow"] == b"GET, HEAD"
