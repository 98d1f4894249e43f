"""The one log-in failure policy (django-axes), for every way to log in.

Axes' authentication backend runs first in ``AUTHENTICATION_BACKENDS``: the web log-in
form, ``/admin/login/`` and the API's token endpoint all call ``authenticate()`` with
the request, so all three count failures in the same place and refuse a locked-out
username from that address. ``LOGIN_FAILURE_LIMIT`` failures of one username from one
client address (``config.client_ip``) lock that pair out for
``LOGIN_FAILURE_WINDOW_SECONDS`` after the last failure; a successful log-in clears
the count. Pages answer 429 with a page saying so, the API 429 in its error shape;
both with ``Retry-After``.
"""

from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext as _

from config.api.errors import API_PREFIX, error_body
from config.errors import RateLimitedError
from profiles.text import fold


class LockoutBackend(AxesStandaloneBackend):
    """Axes' backend, except that ``authenticate()`` without a request (server-side
    code, the test client's ``login()``) is let through to the next backend: there is
    no client to count it against. Every view that logs people in passes the request;
    tests/profiles/test_login_lockout.py checks each of them."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def failure_limit(request, credentials) -> int:
    return settings.LOGIN_FAILURE_LIMIT


def cool_off(request) -> timedelta:
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def username(request, credentials) -> str:
    """The username as one account: "Alice" and "alice " count together."""
    if credentials:
        raw = credentials.get("username")
    else:
        data = getattr(request, "data", None)
        raw = data.get("username") if hasattr(data, "get") else request.POST.get("username")
    return fold(str(raw or ""))[:150]


def lockout_message() -> str:
    minutes = max(1, round(settings.LOGIN_FAILURE_WINDOW_SECONDS / 60))
    return _("Too many failed log-ins. Try again in %(minutes)s minutes.") % {"minutes": minutes}


def lockout_response(request, *args, **kwargs):
    """What a locked-out log-in form answers (axes' ``AXES_LOCKOUT_CALLABLE``)."""
    from django.http import JsonResponse

    if request.path.startswith(API_PREFIX):
        response = JsonResponse(error_body("rate_limited", lockout_message()), status=429)
    else:
        response = render(
            request, "registration/locked_out.html", {"message": lockout_message()}, status=429
        )
    response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    return response


def check_current_password(request, user, password: str) -> bool:
    """Re-entering one's password to change it counts toward the same lockout as
    logging in: a stolen session cannot guess the password through this form either.
    Raises :class:`RateLimitedError` while the username and address are locked out."""
    from axes.handlers.proxy import AxesProxyHandler
    from django.contrib.auth.signals import user_login_failed

    credentials = {"username": user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        raise RateLimitedError(lockout_message(), retry_after=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    if user.check_password(password):
        return True
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return False


def is_locked_out(request) -> bool:
    """Did axes refuse (or just lock out) the log-in made during this request?"""
    return bool(getattr(request, "axes_locked_out", False))
