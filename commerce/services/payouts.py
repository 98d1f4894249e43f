"""Creator earnings: pending → available after the hold; payouts are holds staff review."""

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.currencies import validate_amount, validate_currency
from commerce.models import Account, Leg, PayoutRequest, Transfer
from commerce.services.ledger import (
    LegSpec,
    atomic_with_retry,
    check_may_move_money,
    system_account,
    write_resolution,
    write_transfer,
)
from commerce.services.ledger import user_account as get_user_account
from community.notifications.services import notify_payout_settled
from config.errors import ConflictError, NotFoundError
from profiles.models import User

# --- Maturation -------------------------------------------------------------------------


def maturable_amount(*, account: Account, now=None) -> int:
    """What may move from pending to available now.

    Credits wait out the hold; debits (refunds, earlier releases) count at once. So the
    amount is the balance minus the credits still inside the hold, never below zero.
    """
    cutoff = (now or timezone.now()) - settings.COMMERCE_EARNINGS_HOLD
    recent = Leg.objects.filter(
        account=account, is_posted=True, amount__gt=0, created_at__gt=cutoff
    ).aggregate(total=Sum("amount"))["total"]
    return max(0, account.balance - account.pending_debits - (recent or 0))


@atomic_with_retry
def mature_account_earnings(*, account_id: int) -> int:
    # The row lock makes two concurrent runs release the same credits once.
    account = Account.objects.select_for_update().get(
        pk=account_id, kind=Account.Kind.EARNINGS_PENDING
    )
    amount = maturable_amount(account=account)
    if amount <= 0:
        return 0
    available = get_user_account(
        user_id=account.user_id, kind=Account.Kind.EARNINGS_AVAILABLE, currency=account.currency
    )
    write_transfer(
        kind=Transfer.Kind.MATURATION,
        legs=[LegSpec(account=account, amount=-amount), LegSpec(account=available, amount=amount)],
        description=_("Earnings released after the hold"),
    )
    return amount


def mature_all_earnings() -> int:
    """Release every creator's matured earnings; returns the number of accounts moved."""
    moved = 0
    ids = Account.objects.filter(kind=Account.Kind.EARNINGS_PENDING, balance__gt=0).values_list(
        "pk", flat=True
    )
    for account_id in list(ids):
        if mature_account_earnings(account_id=account_id):
            moved += 1
    return moved


# --- Payouts ----------------------------------------------------------------------------


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
    return payouts[0]


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
