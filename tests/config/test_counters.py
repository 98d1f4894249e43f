"""``config.counters.count_in_window`` on both cache backends Moim runs on."""

import os

import pytest
from django.core.cache import caches

from config.counters import count_in_window

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
