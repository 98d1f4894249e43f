"""Numbers and money in the active language's conventions (CLDR data through Babel).

Money is stored as an integer count of the currency's minor unit (cents, won, yen);
the currency's exponent says where the decimal point goes.
"""

from decimal import Decimal

from babel.numbers import format_currency, format_decimal, get_currency_precision
from django.conf import settings
from django.utils.translation import get_language, to_locale


def active_locale() -> str:
    """The Babel locale for the active language (``ko``, ``ja``, ``en``)."""
    return to_locale(get_language() or settings.LANGUAGE_CODE)


def minor_to_decimal(amount_minor: int, currency: str, *, exponent: int | None = None) -> Decimal:
    """``1234, "USD"`` → ``Decimal("12.34")``; ``1234, "KRW"`` → ``Decimal("1234")``."""
    if exponent is None:
        exponent = get_currency_precision(currency.upper())
    return Decimal(int(amount_minor)).scaleb(-exponent)


def format_money(
    amount_minor: int, currency: str, *, exponent: int | None = None, locale: str | None = None
) -> str:
    """``1234, "USD"`` → ``$12.34`` (en) / ``US$12.34`` (ko); ``1234, "KRW"`` → ``₩1,234``.

    ``exponent`` overrides the currency's minor-unit digits (default: CLDR's, which agree
    with ISO 4217 for the currencies Moim takes).
    """
    currency = currency.upper()
    value = minor_to_decimal(amount_minor, currency, exponent=exponent)
    return format_currency(value, currency, locale=locale or active_locale())


def format_number(value, *, locale: str | None = None) -> str:
    """Digits grouped the active language's way: ``12345.5`` → ``12,345.5``."""
    return format_decimal(value, locale=locale or active_locale())
