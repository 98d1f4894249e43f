"""Idempotency keys for every money-moving request (Stripe's rules, scoped per user).

``run_idempotent`` is the one mechanism the API and the web forms share:

1. Claim the key in its own short transaction. A new key is claimed ``in_flight``.
   An existing key with a different request fingerprint answers 422; one still in
   flight answers 409; a completed one replays the stored response.
2. Run the operation and mark the key completed with its response in ONE
   transaction, after re-locking the key and checking we still hold it. A crash
   rolls both back; the key is then stale and the next retry takes it over.
   Business errors (insufficient funds, ...) are stored and replayed like successes;
   unexpected errors release the key so the client may retry.
"""

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.models import IdempotencyKey
from commerce.services.ledger import atomic_with_retry
from config.api.errors import error_body
from config.errors import ConflictError, DomainError, UnprocessableError

MAX_KEY_LENGTH = 255
# An in-flight key older than this belongs to a request that died; its transaction
# rolled back, so taking the key over cannot move money twice.
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: dict
    replayed: bool


def request_fingerprint(*, scope: str, params: dict) -> str:
    canonical = json.dumps({"scope": scope, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key:
        raise DomainError(
            _("Send an Idempotency-Key header with every payment request."),
            code="idempotency_key_required",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError(_("The Idempotency-Key is too long."), code="idempotency_key_invalid")
    return key


def _claim(*, user_id: int, key: str, scope: str, fingerprint: str) -> IdempotencyKey | str:
    """The key row we now hold, or the stored result / error for an existing key."""
    token = secrets.token_hex(16)
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user_id=user_id,
                key=key,
                scope=scope,
                fingerprint=fingerprint,
                lock_token=token,
                locked_at=now,
            )
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.get(user_id=user_id, key=key)
    if existing.fingerprint != fingerprint:
        raise UnprocessableError(
            _("This Idempotency-Key was already used with different parameters."),
            code="idempotency_key_reused",
        )
    if existing.state == IdempotencyKey.State.COMPLETED:
        return existing
    if existing.locked_at > now - STALE_AFTER:
        raise ConflictError(
            _("A request with this Idempotency-Key is still in progress."),
            code="idempotency_key_in_flight",
        )
    taken = IdempotencyKey.objects.filter(
        pk=existing.pk, state=IdempotencyKey.State.IN_FLIGHT, lock_token=existing.lock_token
    ).update(lock_token=token, locked_at=now)
    if not taken:
        raise ConflictError(
            _("A request with this Idempotency-Key is still in progress."),
            code="idempotency_key_in_flight",
        )
    existing.lock_token = token
    return existing


@atomic_with_retry
def _run_and_complete(claim: IdempotencyKey, operation: Callable[[], tuple[int, dict]]):
    held = IdempotencyKey.objects.select_for_update().filter(
        pk=claim.pk, lock_token=claim.lock_token, state=IdempotencyKey.State.IN_FLIGHT
    )
    if not held.exists():
        raise ConflictError(
            _("A request with this Idempotency-Key is still in progress."),
            code="idempotency_key_in_flight",
        )
    status, body = operation()
    held.update(state=IdempotencyKey.State.COMPLETED, response_status=status, response_body=body)
    return status, body


def _complete_with_error(claim: IdempotencyKey, error: DomainError) -> tuple[int, dict]:
    body = error_body(error.code, error.message, error.fields)
    IdempotencyKey.objects.filter(pk=claim.pk, lock_token=claim.lock_token).update(
        state=IdempotencyKey.State.COMPLETED, response_status=error.status, response_body=body
    )
    return error.status, body


def run_idempotent(
    *,
    user_id: int,
    key: str | None,
    scope: str,
    params: dict,
    operation: Callable[[], tuple[int, dict]],
) -> IdempotentResult:
    """Run ``operation`` (returning ``(status, body)``) at most once per user and key."""
    key = validate_key(key)
    claim = _claim(
        user_id=user_id,
        key=key,
        scope=scope,
        fingerprint=request_fingerprint(scope=scope, params=params),
    )
    if claim.state == IdempotencyKey.State.COMPLETED:
        return IdempotentResult(claim.response_status, claim.response_body, replayed=True)
    try:
        status, body = _run_and_complete(claim, operation)
    except ConflictError as error:
        if error.code == "idempotency_key_in_flight":
            raise
        status, body = _complete_with_error(claim, error)
    except DomainError as error:
        status, body = _complete_with_error(claim, error)
    except BaseException:
        IdempotencyKey.objects.filter(pk=claim.pk, lock_token=claim.lock_token).delete()
        raise
    return IdempotentResult(status, body, replayed=False)


def purge_expired_keys() -> int:
    """Delete keys past their retention (at least 24 hours, see settings)."""
    cutoff = timezone.now() - max(settings.COMMERCE_IDEMPOTENCY_KEY_TTL, timedelta(hours=24))
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
