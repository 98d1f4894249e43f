"""Payment providers behind one interface, chosen by name from settings."""

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from commerce.providers.base import PaymentProvider, PaymentResult, ProviderEvent
from config.errors import DomainError, UnprocessableError

__all__ = [
    "PaymentProvider",
    "PaymentResult",
    "PaymentsNotConfiguredError",
    "ProviderEvent",
    "get_provider",
]


class PaymentsNotConfiguredError(UnprocessableError):
    code = "payments_not_configured"


def get_provider(name: str | None = None) -> PaymentProvider:
    """The named (or default) provider. A sandbox provider, which takes no money, only
    where ``PAYMENTS_SANDBOX`` is on (DEBUG, or set explicitly)."""
    name = name or settings.COMMERCE_DEFAULT_PROVIDER
    path = settings.COMMERCE_PAYMENT_PROVIDERS.get(name)
    if path is None:
        raise DomainError(_("Unknown payment provider."), code="unknown_provider")
    provider_class = import_string(path)
    if provider_class.is_sandbox and not settings.PAYMENTS_SANDBOX:
        raise PaymentsNotConfiguredError(_("Payments are not configured on this site."))
    return provider_class()


def unavailable_reason(name: str | None = None) -> str | None:
    """Why top-ups through the provider would be refused (for pages), or None."""
    try:
        get_provider(name)
    except DomainError as error:
        return error.message
    return None
