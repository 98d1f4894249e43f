"""The layout's links (``templates/base.html`` and its includes): ``{% load layout %}``.

``{% layout_url "discover" %}`` is ``{% url "discover" %}`` reversed once per process
(per URLconf and script prefix, which are what the result depends on; no URL of the
site has a language prefix). Every page renders ~20 of them, ~10 µs each with
``{% url %}``. Only for fixed links: names without arguments, or constant ones.
"""

import functools

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@functools.lru_cache(maxsize=256)
def _reversed(urlconf, prefix: str, name: str, args: tuple) -> str:
    return reverse(name, urlconf=urlconf, args=args)


@register.simple_tag
def layout_url(name: str, *args) -> str:
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reversed(urlconf, get_script_prefix(), name, args)
