from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


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
