"""Locale-aware formatting for templates: ``{% load moim_format %}``.

- ``{{ amount_minor|money:currency }}``: integer minor units (cents, won, yen) as money
  in the viewer's language, e.g. ``1234|money:"USD"`` → ``$12.34`` / ``US$12.34``.
- ``{{ value|number }}``: grouped digits in the viewer's language.
- ``{{ when|relative_time }}``: "just now", "3 minutes ago" ("방금", "3분 전", "たった今",
  "3分前"), then the date in the locale's format after a week; ``static/js/moim.js``
  keeps ``<time data-relative>`` elements current with the same words.
- ``{{ text|particles }}``: Korean bracket particles resolved for the word before them
  (``민지(으)로`` → ``민지로``; see ``config.korean``). Use it on a ``blocktranslate
  asvar`` result that puts a name before a particle.
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext, pgettext

from config.formatting import format_money, format_number
from config.korean import resolve_particles

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


def relative_time_text(value: datetime, *, now: datetime | None = None) -> str:
    """How long ago ``value`` was, in the active language (times a little in the future,
    a clock skew, read as now)."""
    now = now or timezone.now()
    seconds = max(int((now - value).total_seconds()), 0)
    if seconds < 60:
        return pgettext("relative time", "just now")
    minutes = seconds // 60
    if minutes < 60:
        return ngettext("%(count)s minute ago", "%(count)s minutes ago", minutes) % {
            "count": minutes
        }
    hours = minutes // 60
    if hours < 24:
        return ngettext("%(count)s hour ago", "%(count)s hours ago", hours) % {"count": hours}
    days = hours // 24
    if days < 7:
        return ngettext("%(count)s day ago", "%(count)s days ago", days) % {"count": days}
    local = timezone.localtime(value)
    same_year = local.year == timezone.localtime(now).year
    return date_format(local, "MONTH_DAY_FORMAT" if same_year else "DATE_FORMAT")


@register.filter
def relative_time(value) -> str:
    if not isinstance(value, datetime):
        return ""
    return relative_time_text(value)


@register.filter(is_safe=True)
def particles(text) -> str:
    """Resolves Korean particles only on Korean pages: other languages keep their text."""
    if not text or not (get_language() or "").startswith("ko"):
        return text
    return resolve_particles(str(text))
