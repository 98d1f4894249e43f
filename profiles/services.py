"""Writes for accounts and profiles."""

import re

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from config.errors import RateLimitedError
from profiles.models import Profile, User
from profiles.text import fold, lookalike_key

USERNAME_RE = re.compile(r"^[\w.@+-]{3,150}$")
HANDLE_RE = re.compile(r"^[^\W][\w.]{1,29}$")


def handle_key(handle: str) -> str:
    return lookalike_key(handle)


def validate_handle(handle: str, *, exclude_profile_id: int | None = None) -> str:
    handle = handle.strip().lstrip("@")
    if not HANDLE_RE.fullmatch(handle):
        raise ValidationError(
            {
                "handle": _(
                    "2–30 letters, digits, underscores or dots; start with a letter or digit."
                )
            }
        )
    taken = Profile.objects.filter(handle_key=handle_key(handle))
    if exclude_profile_id:
        taken = taken.exclude(pk=exclude_profile_id)
    if taken.exists():
        raise ValidationError({"handle": _("This handle is taken.")})
    return handle


def _free_handle(base: str) -> str:
    base = re.sub(r"[^\w.]", "", base)[:24] or "user"
    if not base[0].isalnum():
        base = "u" + base
    candidate, n = base, 1
    while Profile.objects.filter(handle_key=handle_key(candidate)).exists():
        n += 1
        candidate = f"{base}{n}"
    return candidate


@transaction.atomic
def register_user(
    *,
    username: str,
    password: str,
    email: str = "",
    display_name: str = "",
    locale: str = "",
    timezone: str = "UTC",
) -> User:
    """Create an account and its profile; raises ValidationError with field errors."""
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            {"username": _("3–150 characters: letters, digits and @/./+/-/_ only.")}
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken.")})
    user = User(username=username, email=email.strip(), locale=locale, timezone=timezone)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": _("This username is taken.")}) from exc
    handle = _free_handle(username)
    Profile.objects.create(
        user=user,
        handle=handle,
        handle_key=handle_key(handle),
        display_name=(display_name or username)[:50],
    )
    return user


def set_user_locale(*, user: User, locale: str) -> None:
    """Remember the interface language the user chose ("" follows the browser)."""
    if locale and locale not in dict(settings.LANGUAGES):
        raise ValidationError({"locale": _("Unsupported language.")})
    if user.locale != locale:
        user.locale = locale
        user.save(update_fields=["locale"])


# --- Log-in throttling ------------------------------------------------------------
# Failures are counted per username and per client address in the cache, so every
# ASGI process sees the same counts (Redis in production).


def _failure_keys(username: str, ip: str) -> list[str]:
    return [f"login-fail:u:{fold(username)[:150]}", f"login-fail:ip:{ip}"]


def check_login_allowed(*, username: str, ip: str) -> None:
    limit = settings.LOGIN_FAILURE_LIMIT
    for key in _failure_keys(username, ip):
        if (cache.get(key) or 0) >= limit * (1 if ":u:" in key else 4):
            raise RateLimitedError(
                _("Too many failed log-ins. Try again later."),
                retry_after=settings.LOGIN_FAILURE_WINDOW_SECONDS,
            )


def record_login_failure(*, username: str, ip: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _failure_keys(username, ip):
        cache.add(key, 0, window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window)


def clear_login_failures(*, username: str, ip: str) -> None:
    cache.delete(_failure_keys(username, ip)[0])


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"
