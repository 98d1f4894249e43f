"""Push tests: local servers playing the push service, FCM and APNs (tests/support/
push_services.py), the app's settings pointed at them, and Celery run in-process."""

import pytest
from py_vapid import Vapid
from py_vapid.utils import b64urlencode

from tests.support.push_services import ApnsServer, FcmServer, WebPushService, tls_files


@pytest.fixture
def tls(tmp_path, monkeypatch):
    """A certificate for the local servers, trusted by the app's HTTP clients."""
    cert, key = tls_files(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    return cert, key


@pytest.fixture
def vapid(settings):
    key = Vapid()
    key.generate_keys()
    private = key.private_key.private_numbers().private_value.to_bytes(32, "big")
    settings.VAPID_PRIVATE_KEY = b64urlencode(private)
    settings.VAPID_SUBJECT = "mailto:push@moim.example"
    return key


@pytest.fixture
def push_service(tls, vapid, settings):
    from community.push.senders import vapid_public_key

    cert, key = tls
    settings.PUSH_WEB_ENDPOINT_HOSTS = ["127.0.0.1"]
    service = WebPushService(cert=cert, key=key, vapid_public_key=vapid_public_key())
    yield service
    service.close()


@pytest.fixture
def fcm_server(tmp_path, settings):
    server = FcmServer(project_id="moim-test", directory=tmp_path)
    settings.FCM_SERVICE_ACCOUNT_FILE = str(server.account_file)
    settings.FCM_PROJECT_ID = "moim-test"
    settings.FCM_ENDPOINT = server.origin
    yield server
    server.close()


@pytest.fixture
def apns_server(tls, tmp_path, settings):
    cert, key = tls
    server = ApnsServer(
        cert=cert, key=key, team_id="TEAM123456", key_id="KEY1234567", topic="app.moim.ios"
    )
    key_file = tmp_path / "apns-key.p8"
    key_file.write_text(server.key_pem())
    settings.APNS_AUTH_KEY_FILE = str(key_file)
    settings.APNS_KEY_ID = "KEY1234567"
    settings.APNS_TEAM_ID = "TEAM123456"
    settings.APNS_TOPIC = "app.moim.ios"
    settings.APNS_ENDPOINT = "https://127.0.0.1:1"  # production: never reached here
    settings.APNS_SANDBOX_ENDPOINT = server.origin
    yield server
    server.close()


@pytest.fixture
def pushes(eager_tasks, django_capture_on_commit_callbacks, settings):
    """Run what a test does with its commit callbacks and Celery tasks executed in
    process, as a worker would after the commit (no collapse delay)."""
    settings.PUSH_ROOM_COLLAPSE_SECONDS = 0

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run
