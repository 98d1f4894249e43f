"""Payment providers behind one interface, chosen by name from settings."""

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from commerce.providers.base import PaymentProvider, PaymentResult, ProviderEvent
from config.errors import DomainError

__all__ = ["PaymentProvider", "PaymentResult", "ProviderEvent", "get_provider"]


def get_provider(name: str | None = None) -> PaymentProvider:
    name = name or settings.COMMERCE_DEFAULT_PROVIDER
    path = settings.COMMERCE_PAYMENT_PROVIDERS.get(name)
    if path is None:
        raise DomainError(_("Unknown payment provider."), code="unknown_provider")
    return import_string(path)()
