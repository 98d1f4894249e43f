"""ISO 4217 currencies Moim accepts, with their minor-unit exponent; reading and writing
amounts in major units for people; a person's own currency. (Project-wide: commerce keeps
the ledger, profiles the preference, both read these.)

Amounts are always integers in the currency's minor unit (cents for USD, won for KRW).
"""

from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from config.errors import DomainError
from config.formatting import active_locale, format_money

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


# --- Amounts as people type them ---------------------------------------------------------


def exponent_of(currency: str) -> int:
    """How many minor-unit digits ``currency`` has (USD 2, KRW 0, JPY 0)."""
    return ISO_4217_EXPONENTS.get((currency or "").upper(), 2)


def parse_major_amount(text, currency: str) -> int:
    """What a person typed, in the currency's main unit and the active language's digits,
    as minor units: ``"10.50", "USD"`` → ``1050``; ``"1,000", "KRW"`` → ``1000``.

    Raises ``django.core.exceptions.ValidationError`` (a form error, never a 500) for
    text that is not a number, for a zero or negative amount, for more decimals than the
    currency has (``"10.123"`` USD, ``"10.5"`` KRW) and for more than the largest amount.
    """
    from babel.numbers import NumberFormatError, parse_decimal
    from django.core.exceptions import ValidationError
    from django.utils.translation import ngettext

    currency = (currency or "").upper()
    digits = exponent_of(currency)
    raw = str(text if text is not None else "").strip()
    # A symbol or code typed along with the number ("$10", "10 USD", "₩1,000") is fine.
    for noise in (currency, "$", "₩", "¥", "￥", "€", "US", "\u00a0", " "):
        raw = raw.replace(noise, "")
    example = format_major_example(currency)
    try:
        value = parse_decimal(raw, locale=active_locale(), strict=True)
    except (NumberFormatError, ValueError, ArithmeticError):
        value = None
    if value is None or not value.is_finite():
        raise ValidationError(
            _("Enter an amount such as %(example)s.") % {"example": example}, code="invalid"
        )
    if value <= 0:
        raise ValidationError(_("The amount must be positive."), code="min_value")
    if value > Decimal(settings.COMMERCE_MAX_AMOUNT).scaleb(-digits):
        raise ValidationError(_("The amount is too large."), code="max_value")
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        if digits == 0:
            message = _("%(currency)s has no smaller unit: enter a whole number.") % {
                "currency": currency
            }
        else:
            message = ngettext(
                "%(currency)s takes at most %(digits)s decimal place.",
                "%(currency)s takes at most %(digits)s decimal places.",
                digits,
            ) % {"currency": currency, "digits": digits}
        raise ValidationError(message, code="too_many_decimals")
    return int(minor)


def minor_to_input(amount: int, currency: str) -> str:
    """Minor units as a form shows them for editing: ``1050, "USD"`` → ``"10.50"``."""
    return str(Decimal(int(amount)).scaleb(-exponent_of(currency)))


def format_major_example(currency: str) -> str:
    """A typical amount, written the way to type it: ``10.50`` (USD), ``1,000`` (KRW)."""
    from babel.numbers import format_decimal

    digits = exponent_of(currency)
    if digits == 0:
        return format_decimal(1000, format="#,##0", locale=active_locale())
    return format_decimal(Decimal("10.5"), format="#,##0." + "0" * digits, locale=active_locale())


# --- A person's own currency --------------------------------------------------------------


def fallback_currency() -> str:
    """USD when Moim takes it, else the first currency it takes."""
    supported = supported_currencies()
    return "USD" if "USD" in supported else supported[0]


def currency_for_locale(tag: str | None) -> str | None:
    """The supported currency of a locale's country: ``en-US`` → USD, ``ko`` → KRW (the
    language's likely country), ``ja-JP`` → JPY, ``de-DE`` → EUR; None when unknown or
    not taken."""
    from babel.core import Locale, UnknownLocaleError, get_global
    from babel.numbers import get_territory_currencies

    tag = (tag or "").strip().replace("_", "-")
    if not tag or tag == "*":
        return None
    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    territory = locale.territory
    if not territory:
        likely = get_global("likely_subtags").get(locale.language, "")
        territory = likely.split("_")[-1] if likely.count("_") >= 1 else None
    if not territory:
        return None
    supported = supported_currencies()
    for code in get_territory_currencies(territory, tender=True):
        if code in supported:
            return code
    return None


def currency_for_request(request) -> str:
    """A newcomer's currency: the first language in Accept-Language whose country uses a
    currency Moim takes, then the active language's, then :func:`fallback_currency`."""
    from django.utils.translation import get_language
    from django.utils.translation.trans_real import parse_accept_lang_header

    header = request.headers.get("Accept-Language", "") if request is not None else ""
    for tag, _quality in parse_accept_lang_header(header)[:8]:
        code = currency_for_locale(tag)
        if code:
            return code
    return currency_for_locale(get_language()) or fallback_currency()


def user_currency(user) -> str:
    """A person's own currency (``User.currency``, chosen at sign-up, changeable in
    settings); for an account without one, their language's."""
    code = getattr(user, "currency", "") or ""
    if code in supported_currencies():
        return code
    return currency_for_locale(getattr(user, "locale", "")) or fallback_currency()
