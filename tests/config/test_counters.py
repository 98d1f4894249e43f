"""``config.counters.count_in_window`` on both cache backends Moim runs on."""

import os

import pytest
from django.core.cache import caches

from config.counters import count_in_window
from tests.support.redis_trips import record_redis_trips

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["locmem", "redis"])
def backend(request, settings):
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": "moim-test-counters",
            }
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    caches["default"].clear()
    yield request.param
    caches["default"].clear()


def test_counts_up_within_a_fixed_window_and_says_when_it_ends(backend):
    counts = [count_in_window("t:fixed", window=60) for _ in range(3)]
    assert [c.count for c in counts] == [1, 2, 3]
    assert all(1 <= c.retry_after <= 60 for c in counts)


def test_sliding_keys_expire_after_the_window(backend):
    assert count_in_window("t:sliding", window=30, fixed=False).count == 1
    assert count_in_window("t:sliding", window=30, fixed=False).count == 2
    if backend == "redis":
        client = caches["default"]._cache.get_client(write=True)
        key = caches["default"].make_and_validate_key("t:sliding")
        assert 0 < client.ttl(key) <= 30  # created with its expiry, in the same trip
    caches["default"].delete("t:sliding")
    assert count_in_window("t:sliding", window=30, fixed=False).count == 1


def test_names_count_separately(backend):
    count_in_window("t:a", window=60)
    assert count_in_window("t:b", window=60).count == 1


def test_many_counters_count_in_order_and_read_keys_with_them(backend):
    from config.counters import count_many_in_window_and_get

    caches["default"].set("t:rules", ["a rule"])
    counts, found = count_many_in_window_and_get(
        [("t:x", 60), ("t:y", 30), ("t:x", 60)], keys=["t:rules", "t:missing"]
    )
    # A name twice counts on, as two calls would.
    assert [c.count for c in counts] == [1, 1, 2]
    assert all(1 <= c.retry_after <= window for c, window in zip(counts, [60, 30, 60]))
    assert found == {"t:rules": ["a rule"]}
    assert count_in_window("t:x", window=60).count == 3  # the same keys as count_in_window


def test_many_counters_are_one_round_trip_on_redis(backend, monkeypatch):
    from config.counters import count_many_in_window_and_get

    if backend != "redis":
        pytest.skip("round trips are Redis's")
    trips = record_redis_trips(monkeypatch)
    count_many_in_window_and_get([("t:a", 60), ("t:b", 60)], keys=["t:rules"])
    assert trips == [["SET", "INCRBY", "SET", "INCRBY", "MGET"]]


def test_many_counters_fail_open(backend, monkeypatch):
    from config import counters

    def broken(*args, **kwargs):
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(counters, "_increment", broken)
    monkeypatch.setattr(type(caches["default"]), "make_and_validate_key", broken)
    failed_open = dict(counters.FAIL_OPEN_COUNTS)
    counts, found = counters.count_many_in_window_and_get(
        [("chatrate:1", 60), ("flood:2", 60)], keys=["t:rules"]
    )
    assert [c.count for c in counts] == [0, 0] and found is None
    assert counters.FAIL_OPEN_COUNTS["chatrate"] == failed_open.get("chatrate", 0) + 1
    assert counters.FAIL_OPEN_COUNTS["flood"] == failed_open.get("flood", 0) + 1
