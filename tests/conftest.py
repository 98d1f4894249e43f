"""Fixtures shared by the whole suite.

Each test package has a conftest.py for what only it uses; helpers that are plain
functions live in tests/support/ (and the packages' ``*_support``/``*_helpers`` modules):
a test module never imports a fixture from another module. The browser harness
(``browser``, ``server``, ``new_person``) is tests/support/browser.py.
"""

import itertools

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from community.rooms.services import create_room, join_room
from profiles.services import register_user
from tests.support import accounts

pytest_plugins = ["tests.support.browser"]

TEST_PASSWORD = accounts.TEST_PASSWORD
_usernames = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    needs_postgres = pytest.mark.skip(reason="needs PostgreSQL (postgres_only)")
    for item in items:
        if item.get_closest_marker("postgres_only") and not settings.IS_POSTGRES:
            item.add_marker(needs_postgres)


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations():
    """Compile the catalogs when a .po is newer than its .mo (``make test`` does it too)."""
    from tests.i18n_support import compile_stale_catalogs

    compile_stale_catalogs()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and before they are dropped, the sessions the run's
    own threads still hold: a database lane, asgiref's executor or the private send loop
    keeps a pooled connection checked out until the process exits, which ``close_pool``
    cannot close and DROP DATABASE refuses ("being accessed by other users")."""
    yield
    from django.conf import settings
    from django.db import connection

    from config.db_lanes import close_lane_connections

    with django_db_blocker.unblock():
        close_lane_connections()
        if settings.IS_POSTGRES:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connection.close()


@pytest.fixture(autouse=True)
def _isolated_cache_and_fast_hashing(settings):
    # Argon2 is slow by design; tests that check it restore it themselves.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _open_broker_pools():
    """Tests publish through an open broker pool, whatever ran before on this worker
    (the fault fixtures point the app at a Redis of their own and close its pools)."""
    from tests.support.broker import broker_pools_closed, reset_broker_pools

    if broker_pools_closed():
        reset_broker_pools()
    yield
    if broker_pools_closed():
        reset_broker_pools()


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
    """``client_for(user)``: an API client signed in as ``user`` (tests/support/accounts.py)."""
    return accounts.client_for


@pytest.fixture
def auth_client(user):
    return accounts.client_for(user)


@pytest.fixture
def layer_listener():
    """``layer_listener(*groups)``: a channel of the real channel layer in ``groups``,
    read from sync test code on either layer (tests/support/layer_listener.py); each
    one the test opened is closed after it."""
    from tests.support.layer_listener import LayerListener

    listeners = []

    def listen(*groups: str) -> LayerListener:
        listener = LayerListener(*groups)
        listeners.append(listener)
        return listener

    yield listen
    for listener in listeners:
        listener.close()


@pytest.fixture
async def fresh_channel_layer():
    """A new channel layer object per test: each async test runs its own event loop,
    and the Redis layer's receive lock belongs to the loop that created it."""
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers
    from django.db import connections

    from config.db_lanes import close_lane_connections

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
    # Close whatever the consumers' database threads still hold, so the PostgreSQL
    # test database can be dropped at the end of the run.
    await sync_to_async(connections.close_all)()
    await sync_to_async(close_lane_connections, thread_sensitive=False)()


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
def room_with_two(make_user, make_room, make_member):
    """``(room, host, guest)``: a room its host opened and one guest joined ("Guest")."""
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    return room, host, guest


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
    at import; tests/community/media/test_media_worker.py runs a real worker instead)."""
    from config.celery import app as celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
