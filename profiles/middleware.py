import zoneinfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation.trans_real import parse_accept_lang_header

# Set by static/js/timezone.js from the browser, for visitors who are not signed in.
TIMEZONE_COOKIE = "moim_tz"


def accept_language(request) -> str | None:
    """The best supported language in the Accept-Language header, or None."""
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def _zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class UserPreferencesMiddleware:
    """Activate the viewer's language and time zone.

    Runs after LocaleMiddleware (which chose: language cookie, then Accept-Language, then
    the site default). Language order: the signed-in user's ``locale`` (the switcher
    keeps it in step with the cookie), then LocaleMiddleware's choice. API requests that
    send Accept-Language are answered in it: mobile apps say what they want per request.
    Time zone: the user's, else the browser's (cookie), else UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        language = None
        if request.path.startswith("/api/"):
            language = accept_language(request)
        if language is None and signed_in and user.locale in dict(settings.LANGUAGES):
            language = user.locale
        if language is not None and language != translation.get_language():
            translation.activate(language)
            request.LANGUAGE_CODE = language

        zone = _zone(user.timezone) if signed_in else _zone(request.COOKIES.get(TIMEZONE_COOKIE))
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
