"""ISO 4217 currencies Moim accepts, with their minor-unit exponent.

Amounts are always integers in the currency's minor unit (cents for USD, won for KRW).
"""

from django.conf import settings
from django.utils.translation import gettext as _

from config.errors import DomainError
from config.formatting import format_money

# ISO 4217 code -> number of minor-unit digits.
ISO_4217_EXPONENTS = {
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "IDR": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "SGD": 2,
    "THB": 2,
    "TWD": 2,
    "USD": 2,
    "VND": 0,
}


def supported_currencies() -> list[str]:
    return list(settings.COMMERCE_CURRENCIES)


def validate_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if code not in ISO_4217_EXPONENTS or code not in settings.COMMERCE_CURRENCIES:
        raise DomainError(
            _("Unsupported currency %(code)s.") % {"code": code or "-"},
            code="unsupported_currency",
            fields={"currency": [_("Choose one of: %s") % ", ".join(supported_currencies())]},
        )
    return code


def validate_amount(amount, *, field: str = "amount") -> int:
    """A positive integer number of minor units (bools and floats are refused)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DomainError(
            _("Amounts are whole numbers of the currency's smallest unit."),
            fields={field: [_("Enter a whole number.")]},
        )
    if amount <= 0:
        raise DomainError(
            _("The amount must be positive."), fields={field: [_("Must be positive.")]}
        )
    if amount > settings.COMMERCE_MAX_AMOUNT:
        raise DomainError(_("The amount is too large."), fields={field: [_("Too large.")]})
    return amount


def format_minor(amount: int, currency: str) -> str:
    """Money in the active language's conventions: ``1234, "USD"`` → ``$12.34`` (en) or
    ``US$12.34`` (ko); ``1234, "KRW"`` → ``₩1,234``. See ``config.formatting``."""
    return format_money(amount, currency, exponent=ISO_4217_EXPONENTS.get(currency, 2))


def max_topup(currency: str) -> int:
    """The largest single top-up in ``currency``'s minor units (``COMMERCE_MAX_TOPUP``;
    a currency not listed there: 10,000 major units)."""
    limit = settings.COMMERCE_MAX_TOPUP.get(currency)
    if limit is None:
        limit = 10_000 * 10 ** ISO_4217_EXPONENTS.get(currency, 2)
    return min(int(limit), settings.COMMERCE_MAX_AMOUNT)


def validate_topup_amount(amount, currency: str) -> int:
    """A valid amount no larger than the currency's top-up maximum."""
    amount = validate_amount(amount)
    limit = max_topup(currency)
    if amount > limit:
        most = format_minor(limit, currency)
        raise DomainError(
            _("A top-up can be at most %(most)s.") % {"most": most},
            code="topup_too_large",
            fields={"amount": [_("At most %(most)s.") % {"most": most}]},
        )
    return amount
