"""Locale-aware formatting for templates: ``{% load moim_format %}``.

- ``{{ amount_minor|money:currency }}``: integer minor units (cents, won, yen) as money
  in the viewer's language, e.g. ``1234|money:"USD"`` → ``$12.34`` / ``US$12.34``.
- ``{{ value|number }}``: grouped digits in the viewer's language.
Relative times: Django's ``{% load humanize %}`` ``naturaltime`` is already translated.
"""

from django import template

from config.formatting import format_money, format_number

register = template.Library()


@register.filter
def money(amount_minor, currency) -> str:
    if amount_minor in (None, "") or not currency:
        return ""
    try:
        return format_money(int(amount_minor), str(currency))
    except (TypeError, ValueError):
        return ""


@register.filter
def number(value) -> str:
    if value in (None, ""):
        return ""
    try:
        return format_number(value)
    except (TypeError, ValueError):
        return str(value)
