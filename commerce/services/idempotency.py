"""Idempotency keys for every money-moving request (Stripe's rules, scoped per user).

``run_idempotent`` is the one mechanism the API and the web forms share. The key is
claimed, the operation run and the key completed with its response in ONE
transaction:

1. Insert the key. A concurrent request with the same key waits on the unique index
   until the first one's transaction ends (at most ``IN_FLIGHT_WAIT``, then 409
   ``idempotency_key_in_flight``), then sees its outcome: a completed key replays the
   stored response; a key used with other parameters answers 422.
2. Run the operation in a savepoint. Business errors (insufficient funds, ...) roll
   the operation back and are stored and replayed like successes.
3. Mark the key completed with the response; commit.

Nothing is ever committed "in flight": anything unexpected (an exception, a killed
process, the database connection dropping or PostgreSQL restarting mid-tip) rolls the
whole transaction back on the server, key included, so the client's retry with the
same key runs at once and moves the money exactly once. (A claim committed in its own
transaction and released afterwards stayed held for minutes whenever the release had
to run on the connection that had just died.)
"""

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.models import IdempotencyKey
from commerce.services.ledger import atomic_with_retry, operation_savepoint
from config.api.errors import error_body
from config.errors import ConflictError, DomainError, ServiceUnavailableError, UnprocessableError

MAX_KEY_LENGTH = 255
# How long a duplicate request waits for the first one with its key to finish.
IN_FLIGHT_WAIT = timedelta(seconds=5)
# A committed in-flight key (left by an older release, which claimed keys in their own
# transaction) older than this belongs to a request that died: its transaction rolled
# back, so taking the key over cannot move money twice.
STALE_AFTER = timedelta(minutes=5)
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: dict
    replayed: bool


def request_fingerprint(*, scope: str, params: dict) -> str:
    canonical = json.dumps({"scope": scope, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(*, key: str | None) -> str:
    key = (key or "").strip()
    if not key:
        raise DomainError(
            _("Send an Idempotency-Key header with every payment request."),
            code="idempotency_key_required",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError(_("The Idempotency-Key is too long."), code="idempotency_key_invalid")
    return key


def _in_flight() -> ConflictError:
    return ConflictError(
        _("A request with this Idempotency-Key is still in progress."),
        code="idempotency_key_in_flight",
    )


def _set_lock_timeout(value: str | None) -> None:
    """For the rest of this transaction (undone if its savepoint rolls back)."""
    with connection.cursor() as cursor:
        if value is None:
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")
        else:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [value])


def _insert_key(**fields) -> IdempotencyKey | None:
    """The new key row, or None when the key exists (committed by another request)."""
    on_postgres = connection.vendor == "postgresql"
    try:
        with transaction.atomic():
            if on_postgres:  # wait for a concurrent holder of this key, not forever
                _set_lock_timeout(f"{int(IN_FLIGHT_WAIT.total_seconds() * 1000)}ms")
            key = IdempotencyKey.objects.create(**fields)
            if on_postgres:  # the operation's own row locks wait as they always did
                _set_lock_timeout(None)
    except IntegrityError:
        return None
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise _in_flight() from exc
        raise
    return key


def _claim(*, user_id: int, key: str, scope: str, fingerprint: str) -> IdempotencyKey:
    """The key row this transaction now holds, or the completed one to replay."""
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = _insert_key(
        user_id=user_id,
        key=key,
        scope=scope,
        fingerprint=fingerprint,
        lock_token=token,
        locked_at=now,
    )
    if claimed is not None:
        return claimed
    existing = IdempotencyKey.objects.select_for_update().get(user_id=user_id, key=key)
    if existing.fingerprint != fingerprint:
        raise UnprocessableError(
            _("This Idempotency-Key was already used with different parameters."),
            code="idempotency_key_reused",
        )
    if existing.state == IdempotencyKey.State.COMPLETED:
        return existing
    if existing.locked_at > now - STALE_AFTER:
        raise _in_flight()
    existing.lock_token, existing.locked_at = token, now
    existing.save(update_fields=["lock_token", "locked_at"])
    return existing


@atomic_with_retry
def _run_once(
    *, user_id: int, key: str, scope: str, fingerprint: str, operation
) -> IdempotentResult:
    claim = _claim(user_id=user_id, key=key, scope=scope, fingerprint=fingerprint)
    if claim.state == IdempotencyKey.State.COMPLETED:
        return IdempotentResult(claim.response_status, claim.response_body, replayed=True)
    try:
        with operation_savepoint():  # a refused operation leaves nothing behind
            status, body = operation()
    except ServiceUnavailableError:
        raise  # transient: nothing is stored, and the retry runs the operation
    except DomainError as error:
        status, body = (
            error.status,
            error_body(error.code, error.message, error.fields, error.details),
        )
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        state=IdempotencyKey.State.COMPLETED, response_status=status, response_body=body
    )
    return IdempotentResult(status, body, replayed=False)


def run_idempotent(
    *,
    user_id: int,
    key: str | None,
    scope: str,
    params: dict,
    operation: Callable[[], tuple[int, dict]],
) -> IdempotentResult:
    """Run ``operation`` (returning ``(status, body)``) at most once per user and key."""
    return _run_once(
        user_id=user_id,
        key=validate_key(key=key),
        scope=scope,
        fingerprint=request_fingerprint(scope=scope, params=params),
        operation=operation,
    )


def purge_expired_keys() -> int:
    """Delete keys past their retention (at least 24 hours, see settings)."""
    cutoff = timezone.now() - max(settings.COMMERCE_IDEMPOTENCY_KEY_TTL, timedelta(hours=24))
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
