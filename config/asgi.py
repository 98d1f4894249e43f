"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Serve with ``uvicorn config.asgi:application``; several processes share the Redis
channel layer, so a message sent through one reaches sockets held by another.
``/livez`` (liveness) is answered in front of Django, without touching it.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up: routing imports models.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.health import with_liveness  # noqa: E402
from config.realtime import BrowserOriginValidator, websocket_auth_stack  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # GET /livez is answered before Django (config/health.py); the rest is Django's.
        "http": with_liveness(django_asgi_app),
        # Browsers: allowed origins only; native apps (no Origin): ticket only.
        "websocket": BrowserOriginValidator(websocket_auth_stack(URLRouter(websocket_urlpatterns))),
    }
)

# What start-up made (modules, URL patterns, compiled queries, templates) lives as long
# as the process: moved out of the collector's sight, a full collection no longer walks
# it on every request's garbage (docs/performance.md, "Message history API, third pass").
gc.freeze()
