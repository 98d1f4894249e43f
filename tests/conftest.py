"""Fixtures shared by the whole suite."""

import itertools

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from community.rooms.services import create_room, join_room
from profiles.services import register_user

TEST_PASSWORD = "a-long-test-password-42"
_usernames = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations():
    """Compile the catalogs when a .po is newer than its .mo (``make test`` does it too)."""
    from tests.i18n_support import compile_stale_catalogs

    compile_stale_catalogs()


@pytest.fixture(autouse=True)
def _isolated_cache_and_fast_hashing(settings):
    # Argon2 is slow by design; tests that check it restore it themselves.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _sandbox_payments(settings):
    # Tests top up through the sandbox provider, refused with DEBUG off unless enabled
    # (tests/commerce/test_payments_sandbox.py turns it off again).
    settings.PAYMENTS_SANDBOX = True


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, **kwargs):
        return register_user(
            username=username or f"user{next(_usernames)}",
            password=kwargs.pop("password", TEST_PASSWORD),
            **kwargs,
        )

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client signed in as ``user``."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def auth_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def make_room(make_user):
    def make(owner=None, **kwargs):
        owner = owner or make_user()
        kwargs.setdefault("title", "Jazz corner")
        kwargs.setdefault("nickname", f"host-{owner.username}")
        return create_room(owner=owner, **kwargs)

    return make


@pytest.fixture
def make_member():
    def make(room, user, nickname: str | None = None, **kwargs):
        return join_room(
            room_id=room.pk, user=user, nickname=nickname or f"nick-{user.pk}", **kwargs
        )

    return make


@pytest.fixture
def throttle_rates(settings):
    """Set some throttle rates for one test (DRF caches them on the throttle class)."""
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    original = settings.REST_FRAMEWORK

    def apply(**rates):
        settings.REST_FRAMEWORK = {
            **original,
            "DEFAULT_THROTTLE_RATES": {**original["DEFAULT_THROTTLE_RATES"], **rates},
        }
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        cache.clear()

    yield apply
    settings.REST_FRAMEWORK = original
    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


@pytest.fixture
def media_dir(settings, tmp_path):
    """Media assets in this test's own folder (the real local-disk storage)."""
    root = tmp_path / "media-private"
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process (with REDIS_URL set the app was configured non-eager
    at import; tests/community/test_media_worker.py runs a real worker instead)."""
    from config.celery import app as celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
