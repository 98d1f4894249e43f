"""``{% room_language_options selected %}``: the ``<option>``s of the room language
pickers (``community/includes/search_form.html``), built once per process, interface
languages and selected code instead of a template loop of ~20 options per page."""

import functools

from django import template
from django.conf import settings
from django.utils.html import format_html_join

from community.rooms.selectors import discovery_languages

register = template.Library()


@functools.cache
def _languages(site_languages: tuple[str, ...]) -> dict[str, str]:
    return dict(discovery_languages())


@functools.lru_cache(maxsize=64)
def _options(site_languages: tuple[str, ...], selected: str) -> str:
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (code, " selected" if code == selected else "", name)
            for code, name in _languages(site_languages).items()
        ),
    )


@register.simple_tag
def room_language_options(selected) -> str:
    site_languages = tuple(code for code, _name in settings.LANGUAGES)
    known = _languages(site_languages)
    return _options(site_languages, selected if selected in known else "")
