from django import template

from config.currencies import format_minor

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ line.amount|money:line.currency }}`` → ``$12.34``, in the viewer's language
    (the same as ``config/templatetags/moim_format.py``'s ``money``)."""
    if amount is None:
        return ""
    return format_minor(int(amount), str(currency))
