"""All WebSocket routes; each app keeps its own in ``<app>/routing.py``."""

from django.conf import settings

from community.routing import websocket_urlpatterns as community_patterns
from profiles.routing import websocket_urlpatterns as profiles_patterns

websocket_urlpatterns = [*community_patterns, *profiles_patterns]

if settings.BENCH_ENDPOINTS:
    from bench.baseline import websocket_urlpatterns as bench_patterns

    websocket_urlpatterns += bench_patterns
