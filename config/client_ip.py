"""The client's address: the one rule every throttle, lockout and check uses.

``NUM_PROXIES`` says how many reverse proxies Moim runs behind. With 0 (the default)
only the socket's peer address (``REMOTE_ADDR``) counts and ``X-Forwarded-For`` is
ignored: a client can write anything into that header. With N > 0 the N-th address
from the right of ``X-Forwarded-For`` is the client, the one our outermost proxy
appended; whatever a client wrote further left is ignored. DRF's throttles follow the
same rule (``REST_FRAMEWORK["NUM_PROXIES"]``, and ``config.api.throttling`` calls this
function directly).
"""

import ipaddress

from django.conf import settings

UNKNOWN = "unknown"


def _valid(address: str) -> str | None:
    address = address.strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_ip(request) -> str:
    """The client's IP address as a string ("unknown" if there is none)."""
    meta = request.META
    remote = _valid(meta.get("REMOTE_ADDR") or "") or UNKNOWN
    proxies = settings.NUM_PROXIES
    if proxies <= 0:
        return remote
    header = meta.get("HTTP_X_FORWARDED_FOR") or ""
    if not header.strip():
        return remote
    forwarded = header.split(",")
    return _valid(forwarded[-min(proxies, len(forwarded))]) or remote


def client_ip_or_none(request) -> str | None:
    """``client_ip`` for django-axes, which stores the address in an IP field."""
    address = client_ip(request)
    return None if address == UNKNOWN else address


def is_loopback(request) -> bool:
    try:
        return ipaddress.ip_address(client_ip(request)).is_loopback
    except ValueError:
        return False
