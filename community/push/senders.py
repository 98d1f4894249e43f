"""The push providers: Web Push (RFC 8030/8291/8292), FCM HTTP v1 and APNs.

Each sender takes one device row (django-push-notifications' ``WebPushDevice``,
``GCMDevice`` or ``APNSDevice``) and one ``PushContent`` and answers what the provider
said: ``SENT``, ``GONE`` (the token or subscription is dead: prune it), ``REJECTED``
(this message will never be accepted: do not retry) or raises ``PushUnavailable``
(network, 429, 5xx: the task retries with backoff). The endpoints are settings, so tests
and a relay can point them at their own servers.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from push_notifications.webpush import get_subscription_info
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

logger = logging.getLogger(__name__)

# Web Push: how long the push service keeps an undelivered message (seconds).
WEB_PUSH_TTL = 24 * 3600


class Result(StrEnum):
    SENT = "sent"
    GONE = "gone"
    REJECTED = "rejected"


class PushUnavailable(Exception):
    """The provider could not take the push now (network, rate limit, outage): retry."""


@dataclass(frozen=True)
class PushContent:
    """One notification as a phone or browser shows it.

    ``tag`` collapses: a newer push with the same tag replaces the shown one (a room's
    message count). ``data`` travels to the app (room and message ids, the URL)."""

    title: str
    body: str
    url: str
    tag: str
    data: dict = field(default_factory=dict)
    badge: int | None = None

    def as_dict(self) -> dict:
        payload = {"title": self.title, "body": self.body, "url": self.url, "tag": self.tag}
        payload["data"] = dict(self.data)
        if self.badge is not None:
            payload["badge"] = self.badge
        return payload


def _not_configured(provider: str) -> Result:
    # Retrying would not help: the push is dropped (the notification stays in the centre).
    logger.warning("%s is not configured: push dropped", provider)
    return Result.REJECTED


def _raise_unavailable_or(result: Result, status: int, detail: str = "") -> Result:
    if status == 429 or status >= 500:
        raise PushUnavailable(f"provider answered {status}")
    logger.warning("push provider answered %s (%s): %s", status, result, detail[:300])
    return result


# --- Web Push --------------------------------------------------------------------------------


def vapid_public_key() -> str:
    """The application server key browsers subscribe with (base64url, uncompressed P-256
    point), derived from ``VAPID_PRIVATE_KEY``; empty when Web Push is not configured."""
    if not settings.VAPID_PRIVATE_KEY:
        return ""
    try:
        vapid = Vapid.from_string(settings.VAPID_PRIVATE_KEY)
    except Exception:  # a malformed key: Web Push is off, the pages keep working
        logger.error("VAPID_PRIVATE_KEY cannot be read; Web Push is off")
        return ""
    raw = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64urlencode(raw)


def web_endpoint_allowed(endpoint: str) -> bool:
    """A subscription endpoint must be an https URL of a known push service: the server
    POSTs to it, so an arbitrary URL would let anyone make it call any host."""
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname:
        return False
    host = parts.hostname.lower()
    return any(
        host == allowed or host.endswith("." + allowed)
        for allowed in settings.PUSH_WEB_ENDPOINT_HOSTS
    )


def send_web(device, content: PushContent) -> Result:
    if not settings.VAPID_PRIVATE_KEY:
        return _not_configured("Web Push (VAPID_PRIVATE_KEY)")
    if not web_endpoint_allowed(device.registration_id):
        return Result.GONE
    subscription = get_subscription_info(
        device.application_id, device.registration_id, device.browser, device.auth, device.p256dh
    )
    try:
        webpush(
            subscription_info=subscription,
            data=json.dumps(content.as_dict()),
            vapid_private_key=settings.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            timeout=settings.PUSH_TIMEOUT_SECONDS,
            ttl=WEB_PUSH_TTL,
            # RFC 8030: a pending message with the same topic is replaced at the push
            # service, so an offline browser gets one room notification, not a pile.
            headers={"Urgency": "high", "Topic": _topic(content.tag)},
        )
    except WebPushException as exc:
        if exc.response is None:
            raise PushUnavailable(str(exc)) from exc
        status = exc.response.status_code
        if status in (404, 410):
            return Result.GONE
        # 403: the subscription belongs to another application server key.
        return _raise_unavailable_or(
            Result.GONE if status == 403 else Result.REJECTED, status, exc.response.text
        )
    except requests.RequestException as exc:
        raise PushUnavailable(str(exc)) from exc
    return Result.SENT


def _topic(tag: str) -> str:
    # A Topic header is at most 32 characters of the URL-safe base64 alphabet.
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in tag)[:32]


# --- FCM HTTP v1 -----------------------------------------------------------------------------

_FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_fcm_credentials = None


def _fcm_access_token() -> str:
    """An OAuth 2 access token of the service account (google-auth signs the JWT grant
    and asks the account's ``token_uri``; cached until shortly before it expires)."""
    global _fcm_credentials
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    if _fcm_credentials is None or _fcm_credentials._moim_file != settings.FCM_SERVICE_ACCOUNT_FILE:
        credentials = service_account.Credentials.from_service_account_file(
            settings.FCM_SERVICE_ACCOUNT_FILE, scopes=[_FCM_SCOPE]
        )
        credentials._moim_file = settings.FCM_SERVICE_ACCOUNT_FILE
        _fcm_credentials = credentials
    if not _fcm_credentials.valid:
        try:
            _fcm_credentials.refresh(Request())
        except Exception as exc:
            raise PushUnavailable(f"FCM credentials: {exc}") from exc
    return _fcm_credentials.token


def send_fcm(device, content: PushContent) -> Result:
    if not (settings.FCM_SERVICE_ACCOUNT_FILE and settings.FCM_PROJECT_ID):
        return _not_configured("FCM")
    url = f"{settings.FCM_ENDPOINT.rstrip('/')}/v1/projects/{settings.FCM_PROJECT_ID}/messages:send"
    data = {key: str(value) for key, value in content.data.items()}
    data["url"] = content.url
    message = {
        "message": {
            "token": device.registration_id,
            "notification": {"title": content.title, "body": content.body},
            "data": data,
            "android": {
                "priority": "high",
                # A newer notification with the same tag replaces the shown one.
                "collapse_key": content.tag,
                "notification": {"tag": content.tag, "click_action": "OPEN_ROOM"}
                | ({"notification_count": content.badge} if content.badge is not None else {}),
            },
        }
    }
    try:
        response = requests.post(
            url,
            json=message,
            headers={"Authorization": f"Bearer {_fcm_access_token()}"},
            timeout=settings.PUSH_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise PushUnavailable(str(exc)) from exc
    if response.ok:
        return Result.SENT
    status = response.status_code
    # Only "this token is gone" prunes: INVALID_ARGUMENT may as well be about the message.
    if status == 404 or _fcm_error_code(response) == "UNREGISTERED":
        return Result.GONE
    return _raise_unavailable_or(Result.REJECTED, status, response.text)


def _fcm_error_code(response) -> str:
    try:
        details = response.json()["error"].get("details") or []
    except (ValueError, KeyError, AttributeError, TypeError):
        return ""
    for detail in details:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    return ""


# --- APNs ------------------------------------------------------------------------------------

APNS_SANDBOX = "sandbox"
APNS_PRODUCTION = "production"
# Apple accepts a provider token for an hour and asks for one no newer than 20 minutes.
_APNS_TOKEN_SECONDS = 20 * 60
_apns_token: tuple[float, tuple, str] | None = None


def _apns_provider_token() -> str:
    global _apns_token
    import jwt

    now = time.time()
    identity = (settings.APNS_AUTH_KEY_FILE, settings.APNS_KEY_ID, settings.APNS_TEAM_ID)
    if _apns_token and _apns_token[1] == identity and now - _apns_token[0] < _APNS_TOKEN_SECONDS:
        return _apns_token[2]
    with open(settings.APNS_AUTH_KEY_FILE, encoding="ascii") as key_file:
        key = key_file.read()
    token = jwt.encode(
        {"iss": settings.APNS_TEAM_ID, "iat": int(now)},
        key,
        algorithm="ES256",
        headers={"kid": settings.APNS_KEY_ID},
    )
    _apns_token = (now, identity, token)
    return token


def send_apns(device, content: PushContent) -> Result:
    """HTTP/2 to APNs (Apple speaks nothing else), with a provider token (ES256 JWT)."""
    if not (settings.APNS_AUTH_KEY_FILE and settings.APNS_KEY_ID and settings.APNS_TOPIC):
        return _not_configured("APNs")
    import httpx

    base = (
        settings.APNS_SANDBOX_ENDPOINT
        if device.application_id == APNS_SANDBOX
        else settings.APNS_ENDPOINT
    )
    aps = {
        "alert": {"title": content.title, "body": content.body},
        "sound": "default",
        "thread-id": content.tag,
    }
    if content.badge is not None:
        aps["badge"] = content.badge
    payload = {"aps": aps, **{key: value for key, value in content.data.items()}}
    payload["url"] = content.url
    headers = {
        "authorization": f"bearer {_apns_provider_token()}",
        "apns-topic": settings.APNS_TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "10",
        # A newer notification with the same id replaces the shown one (≤ 64 bytes).
        "apns-collapse-id": content.tag[:64],
    }
    try:
        with httpx.Client(
            http2=True, http1=False, timeout=settings.PUSH_TIMEOUT_SECONDS, verify=_verify()
        ) as client:
            response = client.post(
                f"{base.rstrip('/')}/3/device/{device.registration_id}",
                json=payload,
                headers=headers,
            )
    except httpx.HTTPError as exc:
        raise PushUnavailable(str(exc)) from exc
    if response.status_code == 200:
        return Result.SENT
    try:
        reason = response.json().get("reason", "")
    except ValueError:
        reason = ""
    if response.status_code == 410 or reason in {"BadDeviceToken", "Unregistered"}:
        return Result.GONE
    return _raise_unavailable_or(Result.REJECTED, response.status_code, response.text)


def _verify():
    # httpx does not read REQUESTS_CA_BUNDLE; honour the same bundle requests uses.
    import os
    import ssl

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=bundle) if bundle else True


SENDERS = {"web": send_web, "fcm": send_fcm, "apns": send_apns}
