"""Creator earnings: pending → available after the hold; payouts are holds staff review."""

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.models import Account, Leg, PayoutRequest, Transfer
from commerce.services.ledger import (
    InsufficientFundsError,
    LegSpec,
    atomic_with_retry,
    check_may_move_money,
    lock_pending_earnings,
    system_account,
    write_earnings_merge,
    write_resolution,
    write_transfer,
)
from commerce.services.ledger import user_account as get_user_account
from community.notifications.services import notify_payout_settled
from config.currencies import format_minor, validate_amount, validate_currency
from config.errors import ConflictError, NotFoundError
from profiles.models import User

# --- Maturation -------------------------------------------------------------------------


def _new_credits(*, accounts: list[Account], since):
    """Posted credits to ``accounts`` (one creator's pending-earnings shards) since
    ``since``: payments, not merges (a merge's credit is money credited earlier)."""
    return Leg.objects.filter(
        account__in=accounts, is_posted=True, amount__gt=0, created_at__gt=since
    ).exclude(transfer__kind=Transfer.Kind.EARNINGS_MERGE)


def maturable_amount(*, accounts: list[Account], now=None) -> int:
    """What may move from pending to available now, over every shard of one creator's
    pending earnings in one currency (``accounts``, their balances current).

    Credits wait out the hold; debits (refunds, earlier releases) count at once. So the
    amount is the balance minus the credits still inside the hold, never below zero.
    """
    cutoff = (now or timezone.now()) - settings.COMMERCE_EARNINGS_HOLD
    recent = _new_credits(accounts=accounts, since=cutoff).aggregate(total=Sum("amount"))["total"]
    held = sum(account.balance - account.pending_debits for account in accounts)
    return max(0, held - (recent or 0))


@atomic_with_retry
def mature_account_earnings(*, account_id: int) -> int:
    """Release the matured part of the pending earnings ``account_id`` is a shard of.

    Every shard is locked (ascending ids; two concurrent runs release the same credits
    once) and merged into shard 0 first, which the release then debits.
    """
    account = (
        Account.objects.filter(pk=account_id, kind=Account.Kind.EARNINGS_PENDING)
        .only("user_id", "currency")
        .first()
    )
    if account is None:
        raise Account.DoesNotExist(f"no pending earnings account {account_id}")
    shards = lock_pending_earnings(user_id=account.user_id, currency=account.currency)
    amount = maturable_amount(accounts=shards)
    if amount <= 0:
        return 0
    write_earnings_merge(shards=shards)
    main = next((shard for shard in shards if shard.shard == 0), None)
    if main is None:
        main = get_user_account(
            user_id=account.user_id,
            kind=Account.Kind.EARNINGS_PENDING,
            currency=account.currency,
        )
    available = get_user_account(
        user_id=account.user_id, kind=Account.Kind.EARNINGS_AVAILABLE, currency=account.currency
    )
    write_transfer(
        kind=Transfer.Kind.MATURATION,
        legs=[LegSpec(account=main, amount=-amount), LegSpec(account=available, amount=amount)],
        description=_("Earnings released after the hold"),
    )
    return amount


def mature_all_earnings() -> int:
    """Release every creator's matured earnings; returns the number of accounts moved."""
    moved = 0
    for account_id in _pending_main_ids(Q(balance__gt=0)):
        if mature_account_earnings(account_id=account_id):
            moved += 1
    return moved


def _pending_main_ids(condition: Q) -> list[int]:
    """Shard 0 of each creator's pending earnings (per currency) with a shard matching
    ``condition``."""
    groups = Account.objects.filter(
        condition,
        kind=Account.Kind.EARNINGS_PENDING,
        user_id=OuterRef("user_id"),
        currency=OuterRef("currency"),
    )
    return list(
        Account.objects.filter(kind=Account.Kind.EARNINGS_PENDING, shard=0)
        .filter(Exists(groups))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- Merging the pending earnings' shards -------------------------------------------------


def earnings_merge_ids() -> list[int]:
    """Shard 0 of every creator's pending earnings whose other shards hold money."""
    return _pending_main_ids(Q(shard__gt=0, balance__gt=0))


@atomic_with_retry
def merge_earnings_shards(*, account_id: int) -> int:
    """Move the shards of the pending earnings ``account_id`` belongs to into shard 0;
    returns the amount moved (0: nothing to move; running it again moves nothing)."""
    account = (
        Account.objects.filter(pk=account_id, kind=Account.Kind.EARNINGS_PENDING)
        .only("user_id", "currency")
        .first()
    )
    if account is None:
        return 0
    shards = lock_pending_earnings(user_id=account.user_id, currency=account.currency)
    moving = sum(shard.balance for shard in shards if shard.shard)
    return moving if write_earnings_merge(shards=shards) is not None else 0


# --- Payouts ----------------------------------------------------------------------------


def earnings_hold(*, user_id: int, currency: str, amount: int, now=None) -> dict | None:
    """Why a payout of ``amount`` cannot be paid yet, when earnings in the hold are the
    reason: what is available now, what is held, when the hold ends for all of it
    (``held_until``) and when ``amount`` can be requested (``available_on``, None when
    even the held earnings are not enough)."""
    now = now or timezone.now()
    accounts = list(
        Account.objects.filter(
            user_id=user_id,
            currency=currency,
            kind__in=[Account.Kind.EARNINGS_AVAILABLE, Account.Kind.EARNINGS_PENDING],
        )
    )
    # Pending earnings are spread over shards: what is held is their sum.
    pending = [account for account in accounts if account.kind == Account.Kind.EARNINGS_PENDING]
    available = sum(
        account.available for account in accounts if account.kind == Account.Kind.EARNINGS_AVAILABLE
    )
    held = sum(account.available for account in pending)
    if held <= 0:
        return None
    hold = settings.COMMERCE_EARNINGS_HOLD
    credits = list(
        _new_credits(accounts=pending, since=now - hold)
        .order_by("created_at")
        .values_list("amount", "created_at")
    )
    # Credits past their hold but not yet released by the hourly job count as free now.
    running = available + max(0, held - sum(credit for credit, _at in credits))
    available_on = now if running >= amount else None
    for credit, created_at in credits:
        if available_on is not None:
            break
        running += credit
        if running >= amount:
            available_on = created_at + hold
    held_until = credits[-1][1] + hold if credits else now
    return {
        "currency": currency,
        "available": available,
        "held": held,
        "held_until": held_until,
        "available_on": available_on,
    }


def _payout_refused(*, user: User, currency: str, amount: int) -> InsufficientFundsError:
    hold = earnings_hold(user_id=user.pk, currency=currency, amount=amount)
    if hold is None:
        return InsufficientFundsError(
            _("Insufficient funds: you have no earnings available for payout."),
            code="insufficient_funds",
        )
    from django.utils.formats import date_format

    def when(moment) -> str:
        return date_format(timezone.localtime(moment), "DATETIME_FORMAT")

    figures = {
        "available": format_minor(hold["available"], currency),
        "held": format_minor(hold["held"], currency),
        "held_until": when(hold["held_until"]),
    }
    message = (
        _(
            "Only %(available)s is available for payout now. %(held)s of your earnings is "
            "in the refund hold until %(held_until)s at the latest."
        )
        % figures
    )
    if hold["available_on"] is not None:
        message += " " + _("You can request %(amount)s from %(date)s.") % {
            "amount": format_minor(amount, currency),
            "date": when(hold["available_on"]),
        }
    return InsufficientFundsError(
        message,
        code="insufficient_funds",
        fields={"amount": [message]},
        details={
            "currency": currency,
            "available": hold["available"],
            "held": hold["held"],
            "held_until": hold["held_until"].isoformat(),
            "available_on": hold["available_on"].isoformat() if hold["available_on"] else None,
        },
    )


@atomic_with_retry
def request_payout(*, user: User, amount: int, currency: str) -> PayoutRequest:
    """Hold ``amount`` of available earnings until staff approve or reject the payout."""
    check_may_move_money(user=user)
    amount = validate_amount(amount)
    currency = validate_currency(currency)
    available = get_user_account(
        user_id=user.pk, kind=Account.Kind.EARNINGS_AVAILABLE, currency=currency
    )
    clearing = system_account(kind=Account.Kind.PAYOUT_CLEARING, currency=currency)
    payouts: list[PayoutRequest] = []

    def describe(hold: Transfer) -> None:
        payouts.append(
            PayoutRequest.objects.create(user=user, amount=amount, currency=currency, hold=hold)
        )

    try:
        with transaction.atomic():  # a savepoint: the figures below read on after it
            _write_payout_hold(user, amount, currency, available, clearing, describe)
    except InsufficientFundsError:
        raise _payout_refused(user=user, currency=currency, amount=amount) from None
    return payouts[0]


def _write_payout_hold(user, amount, currency, available, clearing, describe) -> None:
    write_transfer(
        kind=Transfer.Kind.PAYOUT,
        pending=True,
        expires_at=timezone.now() + settings.COMMERCE_PAYOUT_HOLD_EXPIRY,
        legs=[
            LegSpec(account=available, amount=-amount, counterparty=_("Payout")),
            LegSpec(account=clearing, amount=amount, counterparty=f"payout user {user.pk}"),
        ],
        initiated_by_id=user.pk,
        description=_("Payout request"),
        describe=describe,
    )


def _lock_payout(payout_id: int, *expected: str) -> PayoutRequest:
    payout = PayoutRequest.objects.select_for_update().filter(pk=payout_id).first()
    if payout is None:
        raise NotFoundError(_("No such payout."))
    if payout.status not in expected:
        raise ConflictError(
            _("This payout is %(status)s.") % {"status": payout.get_status_display()},
            code="payout_state",
        )
    return payout


@atomic_with_retry
def approve_payout(*, payout_id: int, reviewer: User) -> PayoutRequest:
    payout = _lock_payout(payout_id, PayoutRequest.Status.REQUESTED)
    write_resolution(pending_id=payout.hold_id, post=True, initiated_by_id=reviewer.pk)
    payout.status, payout.reviewed_by = PayoutRequest.Status.APPROVED, reviewer
    payout.save(update_fields=["status", "reviewed_by", "updated_at"])
    return payout


@atomic_with_retry
def reject_payout(*, payout_id: int, reviewer: User) -> PayoutRequest:
    payout = _lock_payout(payout_id, PayoutRequest.Status.REQUESTED)
    write_resolution(pending_id=payout.hold_id, post=False, initiated_by_id=reviewer.pk)
    payout.status, payout.reviewed_by = PayoutRequest.Status.REJECTED, reviewer
    payout.save(update_fields=["status", "reviewed_by", "updated_at"])
    return payout


@atomic_with_retry
def settle_payout(*, payout_id: int, reviewer: User) -> PayoutRequest:
    """The provider paid the creator: the money leaves the ledger through clearing."""
    payout = _lock_payout(payout_id, PayoutRequest.Status.APPROVED)
    payout_clearing = system_account(kind=Account.Kind.PAYOUT_CLEARING, currency=payout.currency)
    provider_clearing = system_account(
        kind=Account.Kind.PROVIDER_CLEARING, currency=payout.currency
    )
    payout.settlement = write_transfer(
        kind=Transfer.Kind.PAYOUT_SETTLEMENT,
        legs=[
            LegSpec(account=payout_clearing, amount=-payout.amount),
            LegSpec(account=provider_clearing, amount=payout.amount),
        ],
        initiated_by_id=reviewer.pk,
        description=_("Payout %(id)s sent") % {"id": payout.pk},
    )
    payout.status = PayoutRequest.Status.SETTLED
    payout.save(update_fields=["status", "settlement", "updated_at"])
    notify_payout_settled(payout=payout)
    return payout


@atomic_with_retry
def expire_pending_transfer(*, pending_id: int) -> bool:
    transfer = Transfer.objects.filter(pk=pending_id).only("expires_at").first()
    if transfer is None or transfer.expires_at is None or transfer.expires_at > timezone.now():
        return False
    payout = PayoutRequest.objects.select_for_update().filter(hold_id=pending_id).first()
    if payout is not None and payout.status != PayoutRequest.Status.REQUESTED:
        return False
    try:
        with transaction.atomic():
            write_resolution(pending_id=pending_id, post=False, description=_("Hold expired"))
    except ConflictError:
        return False  # resolved meanwhile
    if payout is not None:
        payout.status = PayoutRequest.Status.EXPIRED
        payout.save(update_fields=["status", "updated_at"])
    return True


def expired_pending_ids(*, limit: int = 500) -> list[int]:
    return list(
        Transfer.objects.filter(
            Q(phase=Transfer.Phase.PENDING),
            expires_at__lte=timezone.now(),
            resolution__isnull=True,
        )
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
