"""Moim's DRF throttles; use these, not DRF's classes.

* Every one identifies an anonymous client by ``config.client_ip.client_ip``
  (``NUM_PROXIES``), never by a client-sent ``X-Forwarded-For``.
* Every one fails open: a throttle that cannot reach the cache (Redis down or frozen)
  lets the request through and records it (``moim.failopen``), so an outage costs the
  rate limits, not the API.
* On Redis, every one is one round trip (:class:`RedisSlidingLog`): DRF's own reads
  the request log as a pickled list and writes it back, two round trips and a list as
  long as the rate's count to unpickle and pickle again on every request.
"""

import math
import os

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script
from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

from config.client_ip import client_ip
from config.counters import record_fail_open

# DRF's sliding log (``SimpleRateThrottle.allow_request``) in one step on the server:
# drop the requests older than the window (ARGV[2]: at or before now - duration),
# refuse when the log is full (answering its length and oldest entry, for ``wait``),
# else log this request. A sorted set scored by time; the key expires with the window.
_SLIDING_LOG = Script(
    None,  # no client of its own: each call names one (bytes, so no encoder is needed)
    b"""
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
local count = redis.call('ZCARD', key)
if count >= tonumber(ARGV[4]) then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or ARGV[1]}
end
redis.call('ZADD', key, ARGV[1], ARGV[5])
redis.call('EXPIRE', key, ARGV[3])
return {1, count + 1, ARGV[1]}
""",
)


class RedisSlidingLog(throttling.SimpleRateThrottle):
    """``SimpleRateThrottle``'s log and answers (allowed, ``wait``) in one Redis round
    trip when the cache is Redis; elsewhere (the local-memory cache) DRF's own code.

    Sits right above DRF's ``SimpleRateThrottle`` in each throttle's MRO (listed after
    DRF's class among the bases), so the scoped throttles set their rate first."""

    def allow_request(self, request, view):
        backend = caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache
        if not isinstance(backend, RedisCache):
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # Its own key: a log is a sorted set, not DRF's pickled list.
        redis_key = backend.make_and_validate_key(f"{self.key}:log")
        client = backend._cache.get_client(redis_key, write=True)
        # A member per request (the score is the time): unique even at the same instant.
        member = f"{self.now!r}:{os.urandom(6).hex()}"
        # Times go as Python's repr (Lua would round numbers to 14 digits); the cutoff is
        # DRF's ``now - duration`` (entries at or before it are dropped).
        allowed, count, oldest = _SLIDING_LOG(
            keys=[redis_key],
            args=[
                repr(self.now),
                repr(self.now - self.duration),
                max(1, math.ceil(self.duration)),
                self.num_requests,
                member,
            ],
            client=client,
        )
        # What DRF's ``wait`` reads when refused: the log's length, its oldest entry last.
        self.history = [] if allowed else [float(oldest)] * int(count)
        return bool(allowed)


class FailOpenThrottleMixin:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as error:
            record_fail_open(f"throttle-{getattr(self, 'scope', None) or 'scoped'}", error)
            return True


class ClientIPMixin:
    def get_ident(self, request):
        return client_ip(request)


class SimpleRateThrottle(FailOpenThrottleMixin, ClientIPMixin, RedisSlidingLog):
    pass


class AnonRateThrottle(
    FailOpenThrottleMixin, ClientIPMixin, throttling.AnonRateThrottle, RedisSlidingLog
):
    pass


class UserRateThrottle(
    FailOpenThrottleMixin, ClientIPMixin, throttling.UserRateThrottle, RedisSlidingLog
):
    pass


class ScopedRateThrottle(
    FailOpenThrottleMixin, ClientIPMixin, throttling.ScopedRateThrottle, RedisSlidingLog
):
    pass


class IPRateThrottle(SimpleRateThrottle):
    """Per client IP, signed in or not: many accounts behind one address share it."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteScopedRateThrottle(ScopedRateThrottle):
    """The view's ``throttle_scope``, counted on writes only (reads have their own)."""

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
