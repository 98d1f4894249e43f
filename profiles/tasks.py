"""Account emails, sent by a worker: a request answers in the same time whether or not an
account uses the address (profiles/recovery.py)."""

from smtplib import SMTPException

from celery import shared_task

from profiles import recovery
from profiles.models import User


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=10,
    max_retries=5,
    acks_late=True,
)
def send_password_reset_emails(email: str) -> int:
    """A reset link to every active account with a password that uses ``email``."""

    sent = 0
    for user in User.objects.filter(email__iexact=email.strip(), is_active=True):
        if user.has_usable_password():
            recovery.send_password_reset_email(user)
            sent += 1
    return sent


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=10,
    max_retries=5,
    acks_late=True,
)
def send_verification_email(user_id: int, email: str) -> bool:
    """The verification link, unless the address changed or was verified meanwhile."""

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.email_verified or user.email.casefold() != email.casefold():
        return False
    recovery.send_verification_email(user)
    return True
