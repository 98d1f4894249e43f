"""Moim's DRF throttles; use these, not DRF's classes.

* Every one identifies an anonymous client by ``config.client_ip.client_ip``
  (``NUM_PROXIES``), never by a client-sent ``X-Forwarded-For``.
* Every one fails open: a throttle that cannot reach the cache (Redis down or frozen)
  lets the request through and records it (``moim.failopen``), so an outage costs the
  rate limits, not the API.
"""

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

from config.client_ip import client_ip
from config.counters import record_fail_open


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


class SimpleRateThrottle(FailOpenThrottleMixin, ClientIPMixin, throttling.SimpleRateThrottle):
    pass


class AnonRateThrottle(FailOpenThrottleMixin, ClientIPMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenThrottleMixin, ClientIPMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpenThrottleMixin, ClientIPMixin, throttling.ScopedRateThrottle):
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
