"""The built-in sandbox provider for development and tests.

Payments confirm at once, and no money is taken: ``get_provider`` refuses it unless
``PAYMENTS_SANDBOX`` is on (the default only with ``DEBUG``). Its webhooks are signed
like Stripe's: the header
``Moim-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with the
shared secret ``COMMERCE_SANDBOX_WEBHOOK_SECRET``; a signature older than five minutes
is refused, so a captured webhook cannot be replayed later.
"""

import hashlib
import hmac
import json
import secrets
import time

from django.conf import settings

from commerce.providers.base import (
    PaymentProvider,
    PaymentResult,
    ProviderEvent,
    WebhookSignatureError,
)

SIGNATURE_HEADER = "Moim-Signature"
TOLERANCE_SECONDS = 300


def _sign(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SandboxProvider(PaymentProvider):
    name = "sandbox"
    is_sandbox = True

    def __init__(self, secret: str | None = None):
        self.secret = secret or settings.COMMERCE_SANDBOX_WEBHOOK_SECRET

    def create_payment(self, *, topup_id: int, amount: int, currency: str) -> PaymentResult:
        return PaymentResult(reference=f"sbx_{topup_id}_{secrets.token_hex(6)}", status="succeeded")

    def build_webhook(
        self, *, event_type: str, reference: str, event_id: str | None = None, at: int | None = None
    ) -> tuple[bytes, dict]:
        """A signed webhook as the sandbox would send it: ``(body, headers)``."""
        body = json.dumps(
            {
                "id": event_id or f"evt_{secrets.token_hex(8)}",
                "type": event_type,
                "data": {"reference": reference},
            }
        ).encode()
        timestamp = int(time.time()) if at is None else at
        signature = f"t={timestamp},v1={_sign(self.secret, timestamp, body)}"
        return body, {SIGNATURE_HEADER: signature}

    def parse_webhook(self, *, body: bytes, headers) -> ProviderEvent:
        header = headers.get(SIGNATURE_HEADER, "")
        parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise WebhookSignatureError("missing timestamp") from None
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise WebhookSignatureError("stale signature")
        expected = _sign(self.secret, timestamp, body)
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookSignatureError("bad signature")
        try:
            payload = json.loads(body)
            return ProviderEvent(
                event_id=str(payload["id"]),
                event_type=str(payload["type"]),
                reference=str(payload["data"]["reference"]),
                payload=payload,
            )
        except (ValueError, KeyError, TypeError):
            raise WebhookSignatureError("malformed event") from None
