"""Moim's API throttles. Every one identifies an anonymous client by
``config.client_ip.client_ip`` (``NUM_PROXIES``), never by a client-sent
``X-Forwarded-For``."""

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

from config.client_ip import client_ip


class ClientIPMixin:
    def get_ident(self, request):
        return client_ip(request)


class AnonRateThrottle(ClientIPMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIPMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientIPMixin, throttling.ScopedRateThrottle):
    pass


class IPRateThrottle(ClientIPMixin, throttling.SimpleRateThrottle):
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
