"""Errors to Sentry when ``SENTRY_DSN`` is set (config/settings.py calls :func:`init_sentry`).

Moim promises that an open profile (a per-room nickname) never reveals who is behind
it, so events carry no personal data: no user, no cookies, no request bodies, no local
variables (a frame's ``membership`` or ``user`` would show a handle next to a
nickname), and only a few harmless headers. Each event is tagged with the request id
of its request, socket session or task, to find its log lines.
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.redis import RedisIntegration

from config.logs import current_request_id

# Request headers an event may keep; every other one (Cookie, Authorization, forwarding
# addresses, ...) is dropped.
KEPT_HEADERS = frozenset({"content-type", "content-length", "user-agent", "x-request-id"})


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """``before_send``: drop everything that could name a person; tag the request id."""

    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("cookies", "data", "query_string", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def init_sentry(
    *, dsn: str, environment: str = "", release: str = "", traces_sample_rate: float = 0.0
) -> bool:
    """Start the Sentry client (Django, Celery and Redis integrations); False without a DSN."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration(), RedisIntegration()],
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        # The structured successor of ``send_default_pii=False`` (deprecated by the SDK),
        # stricter than its defaults: no bodies, query strings, frame variables, SQL
        # parameters or queue payloads either.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(KEPT_HEADERS)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        max_request_body_size="never",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )
    return True
