"""Language choice outside the page middleware.

- Sockets: the consumer runs with the socket's language active.

(The language switcher, which also remembers the choice on the signed-in user, is
``profiles.views.set_language``.)
"""

import contextlib
from http.cookies import CookieError, SimpleCookie

from django.conf import settings
from django.utils import translation
from django.utils.translation import check_for_language, get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def _scope_header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def socket_language(scope) -> str:
    """A socket's language, in the pages' order: the user's preference, the language
    cookie, Accept-Language, the site default."""
    user = scope.get("user")
    locale = getattr(user, "locale", "") if getattr(user, "is_authenticated", False) else ""
    if locale and check_for_language(locale):
        return get_supported_language_variant(locale)
    cookies = SimpleCookie()
    with contextlib.suppress(CookieError):
        cookies.load(_scope_header(scope, b"cookie"))
    cookie = cookies.get(settings.LANGUAGE_COOKIE_NAME)
    if cookie is not None and check_for_language(cookie.value):
        return get_supported_language_variant(cookie.value)
    for code, _quality in parse_accept_lang_header(_scope_header(scope, b"accept-language")):
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def in_language(language: str | None):
    """``language`` active for the block (None: whichever is active already), for work
    done for several people at once, each in their own language."""
    return translation.override(language) if language else contextlib.nullcontext()


class SocketLanguageMiddleware:
    """Runs a socket's consumer with its language active, so error frames and any other
    text a consumer sends are translated (services gettext their messages at raise time)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        with translation.override(socket_language(scope)):
            return await self.inner(scope, receive, send)
