"""Account recovery by email: password reset and email verification.

- A reset link is Django's (``PasswordResetTokenGenerator``: it ends when the password,
  the last log-in or the email address changes, and after ``PASSWORD_RESET_TIMEOUT``).
  Using one proves the mailbox, so it verifies the address too.
- A verification link carries a signed, timestamped ``(user id, address)``: it verifies
  only the address it was sent to, so changing the address voids the links sent before.
- Sends are counted per address and per client address, whether or not an account uses
  the address: the answer (and the limit) never tell whether an email is registered.
- Every email is written in its recipient's language (their ``locale``, else the
  language of the request that caused it).
"""

import hashlib
from contextlib import nullcontext
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from config.counters import count_in_window
from config.errors import RateLimitedError

VERIFICATION_SALT = "profiles.email-verification"


def _limit(name: str, *, limit: int, window: int) -> None:
    counted = count_in_window(name, window=window)
    if counted.count > limit:
        minutes = max(1, (counted.retry_after + 59) // 60)
        raise RateLimitedError(
            _("Too many emails were requested. Try again in %(minutes)s minutes.")
            % {"minutes": minutes},
            retry_after=counted.retry_after,
        )


def check_send_limits(*, email: str, ip: str) -> None:
    """At most ``ACCOUNT_EMAILS_PER_ADDRESS`` emails to one address and
    ``ACCOUNT_EMAILS_PER_IP`` requests from one client per ``ACCOUNT_EMAILS_WINDOW``
    seconds; raises :class:`RateLimitedError` (429). The address is hashed in the key."""
    window = settings.ACCOUNT_EMAILS_WINDOW_SECONDS
    _limit(f"account_email:ip:{ip}", limit=settings.ACCOUNT_EMAILS_PER_IP, window=window)
    digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:32]
    _limit(
        f"account_email:address:{digest}",
        limit=settings.ACCOUNT_EMAILS_PER_ADDRESS,
        window=window,
    )


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def site_domain() -> str:
    return urlsplit(settings.SITE_URL).netloc


def in_language_of(user):
    """Render in the recipient's own language when they chose one."""
    if user.locale and user.locale in dict(settings.LANGUAGES):
        return translation.override(user.locale)
    return nullcontext()


def _send(user, *, to: str, template: str, context: dict) -> None:
    with in_language_of(user):
        context = {"user": user, "site_name": "Moim", "domain": site_domain(), **context}
        subject = render_to_string(f"{template}_subject.txt", context)
        body = render_to_string(f"{template}_email.txt", context)
    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])


# --- Verification -----------------------------------------------------------------------


def verification_token(user) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.casefold()}, salt=VERIFICATION_SALT)


def read_verification_token(token: str) -> tuple[int, str] | None:
    """``(user id, address)`` of a valid, unexpired token, else None."""
    try:
        data = signing.loads(
            token, salt=VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_TIMEOUT
        )
        return int(data["u"]), str(data["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def send_verification_email(user) -> None:
    token = verification_token(user)
    _send(
        user,
        to=user.email,
        template="profiles/email/verify",
        context={
            "link": site_link(reverse("verify_email", kwargs={"token": token})),
            "token": token,
            "hours": settings.EMAIL_VERIFICATION_TIMEOUT // 3600,
        },
    )


# --- Password reset -----------------------------------------------------------------------


def send_password_reset_email(user) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    _send(
        user,
        to=user.email,
        template="registration/password_reset",
        context={
            "link": site_link(
                reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
            ),
            "uid": uid,
            "token": token,
            "username": user.get_username(),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
