"""The posting engine: the only code that writes transfers, legs and balances.

Every balance change is one guarded single-statement UPDATE, issued in ascending
account id order (so two transfers can never wait on each other in a cycle), after
the transfer row is inserted and just before the legs are inserted: the lock window
holds one UPDATE per account and one bulk INSERT, nothing else. A guarded account's
UPDATE matches no row when the money is not there, which aborts the transfer; the
CHECK constraint on ``commerce_account`` is the backstop the database enforces.
"""

import contextlib
import contextvars
import functools
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.models import Account, Leg, Transfer
from config import metrics
from config.compiled_queries import MarkedQuery
from config.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)

MAX_ATTEMPTS = 6
# PostgreSQL serialization failure and deadlock: safe to retry the whole transaction.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


class InsufficientFundsError(UnprocessableError):
    code = "insufficient_funds"


def _is_retryable(exc: OperationalError) -> bool:
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate in RETRYABLE_SQLSTATES or "database is locked" in str(exc)


# True inside ``operation_savepoint`` until a service takes its savepoint.
_operation_savepoint_open = contextvars.ContextVar("operation_savepoint_open", default=False)


@contextlib.contextmanager
def operation_savepoint():
    """A savepoint around one operation inside the caller's transaction (the idempotency
    key's): whatever the operation did is rolled back when it raises. An
    ``atomic_with_retry`` service called directly in it runs in this savepoint instead
    of opening one of its own, which would roll back the same work: SAVEPOINT and
    RELEASE, two round trips of an API tip's fifteen (docs/performance.md, Ledger)."""
    with transaction.atomic():
        token = _operation_savepoint_open.set(True)
        try:
            yield
        finally:
            _operation_savepoint_open.reset(token)


def atomic_with_retry(func: Callable) -> Callable:
    """Run ``func`` in a transaction, retrying deadlocks and serialization failures.

    Inside an outer transaction it runs in a savepoint (so a refused operation leaves
    nothing behind; directly inside ``operation_savepoint``, in that one): only the
    outermost transaction can be retried, by whoever opened it.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            # The operation's savepoint is taken once: by this call, not by the services
            # it calls in turn, nor by the operation's next one.
            in_operation_savepoint = _operation_savepoint_open.get()
            _operation_savepoint_open.set(False)
            with transaction.atomic(savepoint=not in_operation_savepoint):
                return func(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except OperationalError as exc:
                if attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                    raise
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


def check_may_move_money(*, user) -> None:
    """A suspended account cannot pay, tip or withdraw until its suspension ends."""
    until = getattr(user, "suspended_until", None)
    if until is not None and until > timezone.now():
        raise PermissionDeniedError(
            _("Your account is suspended; payments are paused."), code="suspended"
        )


def server_bound_cursor(*, alias: str):
    """A cursor that lets PostgreSQL prepare a statement of fixed text once per
    connection (config/postgresql: ``server_bound_cursor``); elsewhere (SQLite, Django's
    own backend) a plain cursor."""
    db = connections[alias]
    return getattr(db, "server_bound_cursor", db.cursor)()


# --- Accounts --------------------------------------------------------------------------


def shard_count(*, kind: str) -> int:
    """How many sub-accounts a credit to ``kind`` is spread over (1: one row)."""
    if kind == Account.Kind.PLATFORM_FEE:
        return max(1, int(settings.COMMERCE_PLATFORM_FEE_SHARDS))
    if kind == Account.Kind.EARNINGS_PENDING:
        return max(1, int(settings.COMMERCE_EARNINGS_SHARDS))
    return 1


def _get_or_create_account(
    *, kind: str, user_id: int | None, currency: str, shard: int = 0
) -> Account:
    lookup = {"kind": kind, "user_id": user_id, "currency": currency, "shard": shard}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    if kind in Account.SHARDED_KINDS:
        # All the shards at once (the fee's migration creates its own; a creator's are
        # created by their first payment; a currency or shard added since has none yet):
        # only the first payment that misses one pays for creating them. Shard 0 comes
        # first, so it has the lowest id of its group.
        numbers = {*range(shard_count(kind=kind)), shard}
        Account.objects.bulk_create(
            [
                Account(kind=kind, user_id=user_id, currency=currency, shard=number)
                for number in sorted(numbers)
            ],
            ignore_conflicts=True,  # those that exist, or another request's
        )
        return Account.objects.get(**lookup)
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup, allow_negative=kind in Account.HOUSE_KINDS)
    except IntegrityError:
        # Created concurrently by another request: use theirs.
        return Account.objects.get(**lookup)


def user_account(*, user_id: int, kind: str, currency: str, shard: int = 0) -> Account:
    """A user's account of ``kind``; for pending earnings, one of its shards (0: the
    main one, which payouts mature from and merges move the others into)."""
    if kind not in Account.USER_KINDS:
        raise ValueError(f"{kind} is not a user account kind")
    if shard and kind not in Account.SHARDED_KINDS:
        raise ValueError(f"{kind} has no shards")
    return _get_or_create_account(kind=kind, user_id=user_id, currency=currency, shard=shard)


def system_account(*, kind: str, currency: str, shard: int = 0) -> Account:
    if kind in Account.USER_KINDS:
        raise ValueError(f"{kind} is a user account kind")
    if shard and kind not in Account.SHARDED_KINDS:
        raise ValueError(f"{kind} has no shards")
    return _get_or_create_account(kind=kind, user_id=None, currency=currency, shard=shard)


def pick_shard(*, kind: str) -> int:
    """The sub-account a credit to ``kind`` goes to: one of the platform fee's
    ``COMMERCE_PLATFORM_FEE_SHARDS`` or a creator's pending earnings'
    ``COMMERCE_EARNINGS_SHARDS``, picked at random (no coordination: two concurrent
    payments lock the same row once in that many), 0 for every other kind."""
    shards = shard_count(kind=kind)
    return random.randrange(shards) if shards > 1 else 0  # spreading rows, nothing secret


def get_accounts(*, wanted: list[tuple], currency: str) -> list[Account]:
    """The accounts for ``(kind, user_id)`` pairs (``user_id`` None: a system account;
    a sharded kind may name its shard: ``(kind, user_id, shard)``), in the order asked,
    created when missing: one SELECT when they all exist."""
    asked = []
    for kind, user_id, *rest in wanted:
        shard = rest[0] if rest else 0
        if (kind in Account.USER_KINDS) != (user_id is not None):
            raise ValueError(f"{kind} does not match user {user_id}")
        if shard and kind not in Account.SHARDED_KINDS:
            raise ValueError(f"{kind} has no shards")
        asked.append((kind, user_id, shard))
    shape = tuple(
        (kind, user_id is None, kind in Account.SHARDED_KINDS) for kind, user_id, _shard in asked
    )
    # Read where the ORM would (config/db_routing.py): the primary for a write.
    manager = Account.objects
    query = _accounts_query(vendor=connections[manager.db].vendor, shape=shape)
    values = {_CURRENCY_MARKER: currency}
    for index, (kind, user_id, shard) in enumerate(asked):
        if user_id is not None:
            values[_USER_MARKER + index] = user_id
        if user_id is None or kind in Account.SHARDED_KINDS:
            values[_SHARD_MARKER - index] = shard
    db = manager.db
    with server_bound_cursor(alias=db) as cursor:
        cursor.execute(query.sql, query.bind(values))
        rows = cursor.fetchall()
    # Only what a leg needs is loaded (ids, kind, owner, currency, shard: values no
    # backend converts); the rest, balances included, is read from the row when asked for.
    # Instances, not raw(): its per-call mapping of columns was ~half of this call.
    found = {(row[1], row[2], row[4]): Account.from_db(db, _ACCOUNT_FIELDS, row) for row in rows}
    return [
        found.get(key)
        or _get_or_create_account(kind=key[0], user_id=key[1], currency=currency, shard=key[2])
        for key in asked
    ]


# Values no row has, marking where the real ones go (config.compiled_queries.MarkedQuery).
# A shard's marker stays within its column's range: Django drops an exact lookup on an
# out-of-range integer from the SQL.
_USER_MARKER = -(2**62)
_SHARD_MARKER = 32767
_CURRENCY_MARKER = "\x00currency"


@functools.cache
def _accounts_query(*, vendor: str, shape: tuple[tuple[str, bool, bool], ...]) -> MarkedQuery:
    """``get_accounts``' query compiled once per process, database vendor and shape (the
    kinds asked, which are system accounts, which are sharded): Django building its OR
    of lookups was ~a third of a tip's client CPU (docs/performance.md, Ledger)."""
    matches = Q()
    markers = [_CURRENCY_MARKER]
    for index, (kind, system, sharded) in enumerate(shape):
        if system:
            matches |= Q(kind=kind, user_id=None, shard=_SHARD_MARKER - index)
            markers.append(_SHARD_MARKER - index)
        elif sharded:
            matches |= Q(kind=kind, user_id=_USER_MARKER + index, shard=_SHARD_MARKER - index)
            markers += [_USER_MARKER + index, _SHARD_MARKER - index]
        else:
            matches |= Q(kind=kind, user_id=_USER_MARKER + index)
            markers.append(_USER_MARKER + index)
    accounts = Account.objects.filter(matches, currency=_CURRENCY_MARKER)
    return MarkedQuery(accounts.values_list(*_ACCOUNT_FIELDS), markers=markers)


_ACCOUNT_FIELDS = ("id", "kind", "user_id", "currency", "shard")


# --- Transfers ------------------------------------------------------------------------


@dataclass(frozen=True)
class LegSpec:
    account: Account
    amount: int
    gross: int | None = None
    fee: int = 0
    counterparty: str = ""


def check_legs_balance(*, legs: Iterable[LegSpec]) -> None:
    """Legs must be non-zero, in their account's currency, and sum to zero per currency.

    PostgreSQL checks the sum again with a deferred constraint trigger at commit.
    """
    totals: dict[str, int] = defaultdict(int)
    count = 0
    for leg in legs:
        count += 1
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int) or leg.amount == 0:
            raise DomainError(_("Every leg moves a non-zero whole amount."))
        totals[leg.account.currency] += leg.amount
    if count < 2:
        raise DomainError(_("A transfer needs at least two legs."))
    unbalanced = sorted(currency for currency, total in totals.items() if total)
    if unbalanced:
        raise DomainError(
            _("Transfer legs do not sum to zero in %(currencies)s.")
            % {"currencies": ", ".join(unbalanced)},
            code="unbalanced",
        )


_UPDATE_BALANCE_SQL = (
    "UPDATE commerce_account SET balance = balance + %s, "
    "pending_debits = pending_debits + %s, pending_credits = pending_credits + %s "
    "WHERE id = %s AND (allow_negative OR balance + %s >= pending_debits + %s) "
    "RETURNING balance"
)


def _apply_account_delta(cursor, account_id: int, balance: int, debits: int, credits: int):
    """One guarded UPDATE; ``None`` when a guarded account cannot cover it."""
    cursor.execute(_UPDATE_BALANCE_SQL, [balance, debits, credits, account_id, balance, debits])
    row = cursor.fetchone()
    return None if row is None else row[0]


def _write(
    *,
    transfer: Transfer,
    legs: list[LegSpec],
    effect: Callable[[int], tuple[int, int, int]],
    is_posted: bool,
    attached: models.Model | None = None,
    outbox: type[models.Model] | None = None,
) -> None:
    """Apply each leg's (balance, pending_debits, pending_credits) effect and insert it.

    An unsaved ``transfer`` (and ``attached``, a row with a ``transfer`` foreign key, and
    an ``outbox`` row for it) is inserted first: on PostgreSQL in the same statement as
    the balances and the legs.
    """
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for leg in legs:
        delta = deltas[leg.account.pk]
        for index, value in enumerate(effect(leg.amount)):
            delta[index] += value
    if connection.vendor == "postgresql":
        _write_in_one_statement(
            transfer=transfer,
            legs=legs,
            deltas=deltas,
            is_posted=is_posted,
            attached=attached,
            outbox=outbox,
        )
        return
    if transfer.pk is None:
        transfer.save()
    if attached is not None:
        attached.transfer = transfer
        attached.save()
        if outbox is not None:
            outbox.objects.create(pk=attached.pk)
    balances: dict[int, int] = {}
    with connection.cursor() as cursor:
        for account_id in sorted(deltas):  # ascending id: no lock cycles
            balance, debits, credits = deltas[account_id]
            after = _apply_account_delta(cursor, account_id, balance, debits, credits)
            if after is None:
                raise InsufficientFundsError(_("Insufficient funds for this transfer."))
            balances[account_id] = after
    Leg.objects.bulk_create(
        [
            Leg(
                transfer=transfer,
                account_id=leg.account.pk,
                currency=leg.account.currency,
                amount=leg.amount,
                gross=leg.amount if leg.gross is None else leg.gross,
                fee=leg.fee,
                is_posted=is_posted,
                balance_after=balances[leg.account.pk],
                counterparty=leg.counterparty[:120],
            )
            for leg in legs
        ]
    )


@functools.cache
def _insert_shape(model: type[models.Model], *, name: str, transfer: str) -> tuple[tuple, str]:
    """A CTE named ``name`` inserting a row of ``model`` (and ``transfer``: the SQL of its
    transfer's id), built once per process: the fields whose values go in (its primary
    key left to the database) and the SQL. Building the column list and quoting every
    name on each tip was ~a tenth of its client CPU (docs/performance.md, Ledger)."""
    quote = connection.ops.quote_name
    fields = tuple(
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not (transfer and field.name == "transfer")
    )
    columns = [quote(field.column) for field in fields]
    placeholders = ["%s"] * len(fields)
    if transfer:
        columns.append(quote("transfer_id"))
        placeholders.append(transfer)
    sql = (
        f"{name} AS (INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608
        f"({', '.join(columns)}) VALUES ({', '.join(placeholders)}) RETURNING id)"
    )
    return fields, sql


def _insert_sql(name: str, instance: models.Model, params: list, *, db, transfer: str = "") -> str:
    """A CTE inserting ``instance``; its values, as Django's INSERT writes them on ``db``
    (``auto_now_add`` filled in on the instance too), appended to ``params``."""
    fields, sql = _insert_shape(type(instance), name=name, transfer=transfer)
    params += [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
    return sql


@functools.cache
def _outbox_sql(outbox: type[models.Model]) -> str:
    """A CTE inserting ``outbox``'s row for the attached row ``a`` (its other columns:
    their database defaults)."""
    quote = connection.ops.quote_name
    return (
        f"o AS (INSERT INTO {quote(outbox._meta.db_table)} "  # noqa: S608
        f"({quote(outbox._meta.pk.column)}) SELECT id FROM a)"
    )


def _bigint_array(values: Iterable[int]) -> str:
    """A ``bigint[]`` literal: ``{1,-2}`` (whole numbers only: ``check_legs_balance``)."""
    return "{" + ",".join(map(str, values)) + "}"


def _text_array(values: Iterable[str]) -> str:
    """A ``text[]`` literal, every element quoted (so commas, braces, spaces and the
    word NULL stay text), its double quotes and backslashes escaped."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


def _saved(instance: models.Model, pk: int) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def _write_in_one_statement(
    *,
    transfer: Transfer,
    legs: list[LegSpec],
    deltas: dict[int, list[int]],
    is_posted: bool,
    attached: models.Model | None = None,
    outbox: type[models.Model] | None = None,
) -> None:
    """The guarded UPDATEs and the legs' INSERT as ONE statement (PostgreSQL).

    Same rows, same guards, same lock order as one statement each, in one round trip
    instead of one per account plus one: the lock window of a hot account (a creator's
    earnings, the platform fee) is what bounds its throughput (bench/ledger.py). Each
    account's UPDATE carries a one-time filter on the previous one's result, so it runs
    only after that one has locked its row: rows are still locked in ascending id order,
    and nothing after a refused guard runs.

    An unsaved ``transfer`` and ``attached`` (a tip) are inserted by the same statement:
    two ORM INSERTs were a quarter of a tip's client CPU (docs/performance.md, Ledger:
    the hot creator). So is ``outbox``'s row for ``attached`` (its primary key is the
    attached row's id): written, like the payment, only if it commits. A refused guard
    rolls them all back with the rest.
    """
    # Only list indices, names and placeholders are formatted into the SQL (hence the
    # S608 waivers); every value is a parameter.
    ctes, params = [], []
    # The connection itself, not the proxy: each attribute read through the proxy looks
    # the connection up again (~40 times per tip).
    db = connections[DEFAULT_DB_ALIAS]
    transfer_id, new_ids = "%s", "NULL, NULL"
    if transfer.pk is None:
        ctes.append(_insert_sql("t", transfer, params, db=db))
        transfer_id, new_ids = "(SELECT id FROM t)", "(SELECT id FROM t), NULL"
        if attached is not None:
            ctes.append(_insert_sql("a", attached, params, db=db, transfer=transfer_id))
            new_ids = "(SELECT id FROM t), (SELECT id FROM a)"
            if outbox is not None:
                # Run although nothing reads it: PostgreSQL runs every data-modifying WITH.
                ctes.append(_outbox_sql(outbox))
    updates = []
    for index, account_id in enumerate(sorted(deltas)):
        balance, debits, credits = deltas[account_id]
        after_previous = f" AND EXISTS (SELECT 1 FROM u{index - 1})" if index else ""  # noqa: S608
        updates.append(
            f"u{index} AS (UPDATE commerce_account SET balance = balance + %s, "  # noqa: S608
            "pending_debits = pending_debits + %s, pending_credits = pending_credits + %s "
            "WHERE id = %s AND (allow_negative OR balance + %s >= pending_debits + %s)"
            f"{after_previous} RETURNING id, balance)"
        )
        params += [balance, debits, credits, account_id, balance, debits]
    updated = " UNION ALL ".join(f"SELECT id, balance FROM u{i}" for i in range(len(updates)))  # noqa: S608
    # In the order of the placeholders: the INSERT's SELECT list comes before the legs.
    params += ([] if transfer.pk is None else [transfer.pk]) + [is_posted, timezone.now()]
    # The legs as one array per column (unnest keeps their order): six parameters
    # whatever their number, so psycopg's cache of converted statements (at most 50
    # parameters) keeps this one, and the SQL text is the same for every tip. Each is
    # sent as its array literal, cast in the SQL: psycopg adapts a list element by
    # element in Python (~28 µs for the six against ~5 µs, docs/performance.md, Ledger).
    params += [
        _bigint_array(leg.account.pk for leg in legs),
        _text_array(leg.account.currency for leg in legs),
        _bigint_array(leg.amount for leg in legs),
        _bigint_array(leg.amount if leg.gross is None else leg.gross for leg in legs),
        _bigint_array(leg.fee for leg in legs),
        _text_array(leg.counterparty[:120] for leg in legs),
    ]
    sql = (
        f"WITH {', '.join(ctes + updates)}, updated AS ({updated}), "  # noqa: S608
        "inserted AS (INSERT INTO commerce_leg (transfer_id, account_id, currency, amount, "
        "gross, fee, is_posted, balance_after, counterparty, created_at) "
        f"SELECT {transfer_id}, v.account_id, v.currency, v.amount, v.gross, v.fee, %s, "
        "updated.balance, v.counterparty, %s FROM unnest(%s::bigint[], %s::text[], "
        "%s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) WITH ORDINALITY "
        "AS v(account_id, currency, amount, gross, fee, counterparty, position) "
        # Leg ids follow the legs' order, as one INSERT of the list would.
        "JOIN updated ON updated.id = v.account_id ORDER BY v.position RETURNING 1) "
        "SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM inserted), "
        f"{new_ids}"
    )
    with server_bound_cursor(alias=connection.alias) as cursor:
        cursor.execute(sql, params)
        accounts, inserted, new_transfer_id, attached_id = cursor.fetchone()
    if new_transfer_id is not None:
        _saved(transfer, new_transfer_id)
        if attached is not None:
            attached.transfer = transfer
            _saved(attached, attached_id)
    if accounts != len(deltas) or inserted != len(legs):
        # A guard refused: what the statement did is rolled back with the transaction.
        raise InsufficientFundsError(_("Insufficient funds for this transfer."))


def _posted_effect(amount: int) -> tuple[int, int, int]:
    return amount, 0, 0


def _pending_effect(amount: int) -> tuple[int, int, int]:
    return (0, -amount, 0) if amount < 0 else (0, 0, amount)


def _post_effect(amount: int) -> tuple[int, int, int]:
    return (amount, amount, 0) if amount < 0 else (amount, 0, -amount)


def _void_effect(amount: int) -> tuple[int, int, int]:
    return (0, amount, 0) if amount < 0 else (0, 0, -amount)


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("ledger writes must run inside the caller's transaction")


def write_transfer(
    *,
    kind: str,
    legs: list[LegSpec],
    pending: bool = False,
    expires_at: datetime | None = None,
    initiated_by_id: int | None = None,
    description: str = "",
    reverses: Transfer | None = None,
    describe: Callable[[Transfer], object] | None = None,
    attached: models.Model | None = None,
    outbox: type[models.Model] | None = None,
) -> Transfer:
    """Write one transfer and its legs, inside the caller's transaction.

    ``describe(transfer)`` writes the caller's rows about the transfer (a top-up's
    link, a payout) BEFORE the balance rows are locked, so the lock window holds only
    the guarded UPDATEs, the legs' INSERT and the commit. ``attached`` is an unsaved
    row about it with a ``transfer`` foreign key (a tip), saved with it: on PostgreSQL
    the transfer, that row, the balances and the legs are ONE statement. ``outbox``: a
    model whose primary key is a one-to-one to ``attached``; its row for ``attached`` is
    written with it (a transactional outbox: it exists exactly when the transfer does).
    """
    if describe is not None and attached is not None:
        raise ValueError("describe or attached, not both")
    if outbox is not None and attached is None:
        raise ValueError("an outbox row goes with an attached row")
    _require_transaction()
    check_legs_balance(legs=legs)
    transfer = Transfer(
        kind=kind,
        phase=Transfer.Phase.PENDING if pending else Transfer.Phase.POSTED,
        expires_at=expires_at if pending else None,
        initiated_by_id=initiated_by_id,
        description=description[:200],
        reverses=reverses,
    )
    if describe is not None:
        transfer.save()
        describe(transfer)
    _write(
        transfer=transfer,
        legs=legs,
        effect=_pending_effect if pending else _posted_effect,
        is_posted=not pending,
        attached=attached,
        outbox=outbox,
    )
    metrics.ledger_transfer_on_commit(kind=transfer.kind, phase=transfer.phase)
    return transfer


def _legs_as_specs(transfer: Transfer, *, negate: bool = False) -> list[LegSpec]:
    sign = -1 if negate else 1
    return [
        LegSpec(
            account=leg.account,
            amount=sign * leg.amount,
            gross=sign * leg.gross,
            # Same sign as the amount: a refunded fee is a negative fee (net = gross - fee).
            fee=sign * leg.fee,
            counterparty=leg.counterparty,
        )
        for leg in transfer.legs.select_related("account").order_by("id")
    ]


def _lock_pending(pending_id: int) -> Transfer:
    # FOR UPDATE takes a row lock only; the append-only trigger fires on UPDATE, not here.
    pending = Transfer.objects.select_for_update().filter(pk=pending_id).first()
    if pending is None or pending.phase != Transfer.Phase.PENDING:
        raise NotFoundError(_("No such pending transfer."))
    if Transfer.objects.filter(resolves_id=pending_id).exists():
        raise ConflictError(
            _("This pending transfer was already resolved."), code="already_resolved"
        )
    return pending


def write_resolution(
    *, pending_id: int, post: bool, initiated_by_id: int | None = None, description: str = ""
) -> Transfer:
    """Post or void a hold, exactly once: the hold row is locked, then checked."""
    _require_transaction()
    pending = _lock_pending(pending_id)
    if post and pending.expires_at and pending.expires_at <= timezone.now():
        raise ConflictError(_("This hold has expired."), code="hold_expired")
    specs = _legs_as_specs(pending)
    resolution = Transfer.objects.create(
        kind=pending.kind,
        phase=Transfer.Phase.POST if post else Transfer.Phase.VOID,
        resolves=pending,
        initiated_by_id=initiated_by_id,
        description=description[:200],
    )
    _write(
        transfer=resolution,
        legs=specs,
        effect=_post_effect if post else _void_effect,
        is_posted=post,
    )
    metrics.ledger_transfer_on_commit(kind=resolution.kind, phase=resolution.phase)
    return resolution


def write_reversal(
    *, transfer_id: int, initiated_by_id: int | None = None, description: str = ""
) -> Transfer:
    """Undo a posted transfer with its mirror image (never more), at most once.

    Never a payout's transfers (its hold, posting or settlement: a payout is undone by
    rejection or expiry, which void its hold), a release of earnings or a reversal.
    """
    _require_transaction()
    original = Transfer.objects.select_for_update().filter(pk=transfer_id).first()
    if original is None:
        raise NotFoundError(_("No such transfer."))
    if original.phase not in (Transfer.Phase.POSTED, Transfer.Phase.POST):
        raise DomainError(_("Only posted transfers can be reversed."), code="not_posted")
    if original.kind == Transfer.Kind.REVERSAL:
        raise DomainError(_("A reversal cannot be reversed."), code="not_reversible")
    if original.kind in Transfer.NEVER_REVERSED_KINDS:
        raise DomainError(
            _("Payouts and released earnings are never reversed by a refund."),
            code="not_reversible",
        )
    if Transfer.objects.filter(reverses_id=transfer_id).exists():
        raise ConflictError(_("This transfer was already reversed."), code="already_reversed")
    return write_transfer(
        kind=Transfer.Kind.REVERSAL,
        legs=_retarget_pending_earnings(_legs_as_specs(original, negate=True)),
        initiated_by_id=initiated_by_id,
        description=description or _("Reversal of #%(id)s") % {"id": original.pk},
        reverses=original,
    )


def _retarget_pending_earnings(specs: list[LegSpec]) -> list[LegSpec]:
    """A reversal's debit of a creator's pending earnings: the shard the payment
    credited while that shard still covers it; otherwise (merged since, or shard 0
    itself) every shard is merged into shard 0 first and shard 0 is debited, whose
    guard refuses what the pending earnings as a whole cannot cover.

    Every account of the reversal and every shard of those earnings are locked first,
    in ascending id order, so the choice cannot be overtaken (a merge emptying the
    shard) and the posting statement after it only takes locks already held. The
    reversal then nets the original per kind and owner, not per shard (``ledger_check``:
    ``reversal_nets_original``).
    """

    def is_debit(spec: LegSpec) -> bool:
        return spec.account.kind == Account.Kind.EARNINGS_PENDING and spec.amount < 0

    groups = {(spec.account.user_id, spec.account.currency) for spec in specs if is_debit(spec)}
    if not groups:
        return specs
    shards = Q()
    for user_id, currency in groups:
        shards |= Q(kind=Account.Kind.EARNINGS_PENDING, user_id=user_id, currency=currency)
    locked = {
        account.pk: account
        for account in Account.objects.select_for_update()
        .filter(shards | Q(pk__in=[spec.account.pk for spec in specs]))
        .order_by("pk")
    }
    retargeted = []
    for spec in specs:
        account = locked[spec.account.pk]
        if is_debit(spec) and (account.shard == 0 or account.available < -spec.amount):
            group = [
                other
                for other in locked.values()
                if other.kind == account.kind
                and other.user_id == account.user_id
                and other.currency == account.currency
            ]
            write_earnings_merge(shards=group)
            main = next((other for other in group if other.shard == 0), None)
            if main is None:  # shard 0 is created with the first shard: never, but refuse
                raise InsufficientFundsError(_("Insufficient funds for this transfer."))
            spec = LegSpec(
                account=main,
                amount=spec.amount,
                gross=spec.gross,
                fee=spec.fee,
                counterparty=spec.counterparty,
            )
        retargeted.append(spec)
    return retargeted


def lock_pending_earnings(*, user_id: int, currency: str) -> list[Account]:
    """Every shard of a creator's pending earnings in ``currency``, locked in ascending
    id order (shard 0 first: it is created first), inside the caller's transaction."""
    _require_transaction()
    return list(
        Account.objects.select_for_update()
        .filter(kind=Account.Kind.EARNINGS_PENDING, user_id=user_id, currency=currency)
        .order_by("pk")
    )


def write_earnings_merge(*, shards: list[Account]) -> Transfer | None:
    """Move the balance of every shard above 0 into shard 0, as one transfer of its own
    kind (never reversed), inside the caller's transaction; ``shards`` are one
    creator's pending earnings in one currency, locked by the caller
    (``lock_pending_earnings``), so their balances are exact. Updates the instances'
    balances. None when there is nothing to move.

    Shards above 0 have no holds (only payments credit them and only their reversals
    and this debit them), so each one's balance moves in full.
    """
    _require_transaction()
    main = next((account for account in shards if account.shard == 0), None)
    moving = [account for account in shards if account.shard and account.balance > 0]
    if main is None or not moving:
        return None
    total = sum(account.balance for account in moving)
    transfer = write_transfer(
        kind=Transfer.Kind.EARNINGS_MERGE,
        legs=[
            *(LegSpec(account=account, amount=-account.balance) for account in moving),
            LegSpec(account=main, amount=total),
        ],
        description=_("Pending earnings merged"),
    )
    for account in moving:
        account.balance = 0
    main.balance += total
    return transfer


# Standalone entry points: their own transaction (retried), or a savepoint when nested.
post_transfer = atomic_with_retry(write_transfer)
reverse_transfer = atomic_with_retry(write_reversal)


@atomic_with_retry
def post_pending_transfer(*, pending_id: int, initiated_by_id: int | None = None) -> Transfer:
    return write_resolution(pending_id=pending_id, post=True, initiated_by_id=initiated_by_id)


@atomic_with_retry
def void_pending_transfer(*, pending_id: int, initiated_by_id: int | None = None) -> Transfer:
    return write_resolution(pending_id=pending_id, post=False, initiated_by_id=initiated_by_id)
