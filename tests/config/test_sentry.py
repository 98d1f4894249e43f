"""Errors reach Sentry when SENTRY_DSN is set, and never name the person behind a nickname.

A local HTTP server stands in for Sentry: the SDK delivers its envelopes to it as it
would to sentry.io, and the test reads what was sent.
"""

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.test import Client

from config.sentry import init_sentry
from tests.config.django_process import run_django


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sentry_to(sentry_server):
    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_address[1]}/1"
    assert init_sentry(dsn=dsn, environment="test", release="moim@test")
    yield sentry_server
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: an inactive client for the rest of the run


def envelope_items(body: bytes) -> list[dict]:
    items = []
    for line in body.split(b"\n"):
        try:
            items.append(json.loads(line))
        except ValueError:
            continue
    return items


@pytest.mark.django_db
@pytest.mark.urls("tests.config.sentry_urls")
def test_an_exception_in_a_view_reaches_sentry_without_personal_data(
    sentry_to, make_user, make_room, make_member
):
    person = make_user("hidden_handle_q7", email="hidden.person@example.com")
    room = make_room()
    make_member(room, person, nickname="QuietNickname")
    client = Client(raise_request_exception=False)
    client.force_login(person)
    session_cookie = client.cookies["sessionid"].value

    response = client.post(
        "/failing-room-page/?q=hidden_handle_q7",
        {"email": "hidden.person@example.com", "note": "QuietNickname"},
        HTTP_AUTHORIZATION="Bearer secret-token-abc",
        HTTP_X_FORWARDED_FOR="198.51.100.23",
    )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)

    bodies = b"".join(sentry_to.received)
    events = [item for item in envelope_items(bodies) if "exception" in item]
    assert len(events) == 1, bodies[:2000]
    (event,) = events
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["environment"] == "test"
    assert event["release"] == "moim@test"
    text = bodies.decode("utf-8", "replace")
    for secret in (
        "hidden_handle_q7",
        "hidden.person@example.com",
        "hidden.person%40example.com",
        "QuietNickname",
        session_cookie,
        "secret-token-abc",
        "198.51.100.23",
    ):
        assert secret not in text, secret
    assert "user" not in event
    # The event names its request id, to find the request's log lines.
    assert event["tags"]["request_id"] == response["X-Request-ID"]


def test_settings_start_sentry_only_with_a_dsn():
    probe = (
        "import django, sentry_sdk; django.setup(); client = sentry_sdk.get_client(); "
        "from sentry_sdk.scope import should_send_default_pii; "
        "print(client.is_active(), should_send_default_pii(), "
        "sorted(i for i in client.integrations if i in ('django', 'celery', 'redis')))"
    )
    on = run_django(probe, DEBUG="1", SENTRY_DSN="http://publickey@127.0.0.1:9/1")
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip().splitlines()[-1] == "True False ['celery', 'django', 'redis']"
    off = run_django(probe, DEBUG="1", SENTRY_DSN="")
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip().splitlines()[-1].startswith("False")
