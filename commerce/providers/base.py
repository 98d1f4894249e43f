"""The payment-provider interface a real gateway implements."""

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PaymentResult:
    reference: str
    # "succeeded" (confirmed now), "pending" (a webhook will confirm) or "failed".
    status: str
    redirect_url: str = ""


@dataclass(frozen=True)
class ProviderEvent:
    event_id: str
    event_type: str  # "payment.succeeded" or "payment.failed"
    reference: str
    payload: dict = field(default_factory=dict)


class WebhookSignatureError(Exception):
    """The webhook's signature is missing, stale or wrong."""


class PaymentProvider(abc.ABC):
    name: str
    # A sandbox confirms payments without taking money: refused unless PAYMENTS_SANDBOX.
    is_sandbox: bool = False

    @abc.abstractmethod
    def create_payment(self, *, topup_id: int, amount: int, currency: str) -> PaymentResult:
        """Start collecting ``amount`` for a top-up."""

    @abc.abstractmethod
    def parse_webhook(self, *, body: bytes, headers) -> ProviderEvent:
        """Verify the webhook's signature and return its event, or raise
        :class:`WebhookSignatureError`."""
