"""The layout's links, static files and language options (``templates/base.html`` and
its includes): ``{% load layout %}``.

``{% layout_url "discover" %}`` is ``{% url "discover" %}`` reversed once per process
(per URLconf and script prefix, which are what the result depends on; no URL of the
site has a language prefix). Every page renders ~20 of them, ~10 µs each with
``{% url %}``. Only for fixed links: names without arguments, or constant ones.
"""

import functools

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html_join
from django.utils.translation import get_language, get_language_info

register = template.Library()


@functools.lru_cache(maxsize=256)
def _reversed(urlconf, prefix: str, name: str, args: tuple) -> str:
    return reverse(name, urlconf=urlconf, args=args)


@register.simple_tag
def layout_url(name: str, *args) -> str:
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reversed(urlconf, get_script_prefix(), name, args)


@functools.lru_cache(maxsize=256)
def _static_url(backend: str, static_url: str, debug: bool, path: str) -> str:
    return static(path)


@register.simple_tag
def layout_static(path: str) -> str:
    """``{% static path %}`` worked out once per process: per storage backend, static URL
    and DEBUG (what the URL depends on; a manifest storage reads its manifest once). Every
    page names ~10 of these in its layout, ~30 µs each with ``{% static %}``."""
    backend = settings.STORAGES["staticfiles"]["BACKEND"]
    return _static_url(backend, settings.STATIC_URL, settings.DEBUG, path)


@functools.lru_cache(maxsize=64)
def _language_options(languages: tuple[str, ...], current: str) -> str:
    return format_html_join(
        "",
        '<option value="{}" lang="{}"{}>{}</option>',
        (
            (
                info["code"],
                info["code"],
                " selected" if info["code"] == current else "",
                info["name_local"],
            )
            for code in languages
            for info in [get_language_info(code)]
        ),
    )


@register.simple_tag
def language_options() -> str:
    """The language switcher's ``<option>``s (the site's languages, each named in
    itself, the current one selected): the same for everyone in a language, built once
    per process and language."""
    languages = tuple(code for code, _name in settings.LANGUAGES)
    return _language_options(languages, get_language())
