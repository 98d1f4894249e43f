"""Bursts of sign-ups: no pooled connection held while hashing, 503 not 500 when full."""

import concurrent.futures
import threading

import pytest
from django.contrib.auth import hashers
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from config import passwords
from profiles.models import User
from tests.faults.processes import (
    app_env,
    free_port,
    http,
    running_test_database_url,
    start_uvicorn,
    stop_process,
    wait_for_port,
)

SEEN: list[dict] = []


class _Observe(hashers.Argon2PasswordHasher):
    """Records, at the moment the hash is computed, what the thread holds."""

    @staticmethod
    def _record():
        pool = connection.pool
        stats = pool.get_stats() if pool is not None else {}
        SEEN.append(
            {
                "connection": connection.connection,
                "in_use": stats.get("pool_size", 0) - stats.get("pool_available", 0),
            }
        )

    def encode(self, password, salt):
        self._record()
        return super().encode(password, salt)

    def verify(self, password, encoded):
        self._record()
        return super().verify(password, encoded)


class ObservedArgon2Hasher(passwords.Argon2PasswordHasher, _Observe):
    time_cost, memory_cost, parallelism = 1, 64, 1  # cheap; the same code path


def _held_by_other_threads() -> int:
    """Pool connections checked out by other threads (earlier tests' worker threads may
    keep one): the request under test must add none of its own while it hashes."""
    stats = connection.pool.get_stats()
    in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
    return in_use - (1 if connection.connection is not None else 0)


@pytest.fixture
def observed_hashing(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.ObservedArgon2Hasher"]
    SEEN.clear()
    yield SEEN
    SEEN.clear()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("surface", ["api", "web"])
def test_no_pooled_connection_is_held_while_a_password_is_hashed(
    observed_hashing, make_user, surface
):
    make_user("taken")  # this thread has used its connection before the request
    assert connection.connection is not None
    others = _held_by_other_threads()
    observed_hashing.clear()
    if surface == "api":
        response = APIClient().post(
            "/api/v1/auth/register/",
            {"username": "burst1", "password": "a-long-burst-password"},
            format="json",
        )
        assert response.status_code == 201, response.content
    else:
        response = Client().post(
            "/accounts/signup/", {"username": "burst1", "password": "a-long-burst-password"}
        )
        assert response.status_code == 302, response.content
    assert observed_hashing == [{"connection": None, "in_use": others}]
    assert User.objects.get(username="burst1").check_password("a-long-burst-password")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_no_pooled_connection_is_held_while_a_log_in_checks_the_password(observed_hashing):
    from profiles.services import register_user

    register_user(username="mina", password="a-long-burst-password")
    others = _held_by_other_threads()
    observed_hashing.clear()
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "mina", "password": "a-long-burst-password"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert observed_hashing == [{"connection": None, "in_use": others}]


@pytest.mark.django_db
def test_hashing_beyond_the_limit_answers_503_with_retry_after(settings, make_user):
    settings.PASSWORD_HASHERS = ["config.passwords.PBKDF2PasswordHasher"]
    settings.PASSWORD_HASH_CONCURRENCY = 1
    settings.PASSWORD_HASH_WAIT_SECONDS = 0.2
    release, entered = threading.Event(), threading.Event()

    def hold_the_only_slot():
        with passwords.hashing_slot():
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    try:
        assert entered.wait(10)
        api = APIClient().post(
            "/api/v1/auth/register/",
            {"username": "burst2", "password": "a-long-burst-password"},
            format="json",
        )
        web = Client(raise_request_exception=False).post(
            "/accounts/signup/", {"username": "burst3", "password": "a-long-burst-password"}
        )
    finally:
        release.set()
        holder.join()
    assert api.status_code == 503
    assert api.json()["error"]["code"] == "service_unavailable"
    assert int(api["Retry-After"]) >= 1
    assert web.status_code == 503
    assert int(web["Retry-After"]) >= 1
    assert not User.objects.filter(username__in=["burst2", "burst3"]).exists()


# --- A production-like process under a burst -------------------------------------------

BURST = 40


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_sign_ups_answers_201_or_503_never_500(tmp_path):
    port = free_port()
    env = app_env(
        DATABASE_URL=running_test_database_url(),
        # A small pool and real Argon2: the shape that answered 500 (PoolTimeout).
        DB_POOL_MIN="1",
        DB_POOL_MAX="3",
        DB_POOL_TIMEOUT="3",
        THROTTLE_AUTH="100000/min",
        THROTTLE_ANON="100000/min",
        THROTTLE_IP="100000/min",
    )
    env.pop("PASSWORD_HASH_CONCURRENCY", None)
    server = start_uvicorn(port, env, log_path=str(tmp_path / "uvicorn.log"))
    try:
        wait_for_port(port, server)

        def sign_up(index: int):
            return http(
                "POST",
                f"http://127.0.0.1:{port}/api/v1/auth/register/",
                json_body={"username": f"burst{index}", "password": "a-long-burst-password"},
            )

        with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
            replies = list(pool.map(sign_up, range(BURST)))
    finally:
        stop_process(server)

    statuses = sorted(reply.status_code for reply in replies)
    assert set(statuses) <= {201, 503}, (statuses, (tmp_path / "uvicorn.log").read_text()[-3000:])
    for reply in replies:
        if reply.status_code == 503:
            assert int(reply.headers["Retry-After"]) >= 1
            assert reply.json()["error"]["code"] == "service_unavailable"
    created = set(
        User.objects.filter(username__startswith="burst").values_list("username", flat=True)
    )
    assert created == {
        f"burst{index}" for index, reply in enumerate(replies) if reply.status_code == 201
    }
    assert statuses.count(201) > 0
