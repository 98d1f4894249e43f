"""Every ledger invariant, checked with a fixed handful of aggregate queries.

Shared by ``manage.py ledger_check`` and the admin's ledger check page.
"""

from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from commerce.models import Account, Leg, PayoutRequest, Transfer

SAMPLE = 20


@dataclass(frozen=True)
class Problem:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


def check_ledger() -> list[Problem]:
    problems: list[Problem] = []

    for row in Account.objects.values("currency").annotate(total=Sum("balance")).exclude(total=0):
        problems.append(
            Problem(
                "currency_sums_to_zero",
                f"{row['currency']} account balances sum to {row['total']}, not 0",
            )
        )
    for row in (
        Leg.objects.filter(is_posted=True)
        .values("currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    ):
        problems.append(
            Problem(
                "currency_sums_to_zero",
                f"{row['currency']} posted legs sum to {row['total']}, not 0",
            )
        )
    for row in (
        Leg.objects.values("transfer_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transfer_id")[:SAMPLE]
    ):
        problems.append(
            Problem(
                "transfer_legs_balance",
                f"transfer {row['transfer_id']} legs sum to {row['total']} {row['currency']}",
            )
        )

    outstanding = Q(legs__transfer__phase=Transfer.Phase.PENDING) & Q(
        legs__transfer__resolution__isnull=True
    )
    last_balance = (
        Leg.objects.filter(account=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    )
    accounts = Account.objects.annotate(
        posted=Coalesce(Sum("legs__amount", filter=Q(legs__is_posted=True)), 0),
        held_out=Coalesce(Sum("legs__amount", filter=outstanding & Q(legs__amount__lt=0)), 0),
        held_in=Coalesce(Sum("legs__amount", filter=outstanding & Q(legs__amount__gt=0)), 0),
    ).annotate(last_balance=Subquery(last_balance))
    mismatched = accounts.filter(
        ~Q(balance=F("posted"))
        | ~Q(pending_debits=-F("held_out"))
        | ~Q(pending_credits=F("held_in"))
        | (Q(last_balance__isnull=False) & ~Q(last_balance=F("balance")))
    ).order_by("pk")[:SAMPLE]
    for account in mismatched:
        if account.balance != account.posted:
            problems.append(
                Problem(
                    "stored_balance_matches_transfers",
                    f"account {account.pk} ({account}) stores {account.balance}, "
                    f"its posted legs sum to {account.posted}",
                )
            )
        if account.pending_debits != -account.held_out or account.pending_credits != (
            account.held_in
        ):
            problems.append(
                Problem(
                    "pending_matches_holds",
                    f"account {account.pk} stores pending {account.pending_debits}/"
                    f"{account.pending_credits}, open holds are {-account.held_out}/"
                    f"{account.held_in}",
                )
            )
        if account.last_balance is not None and account.last_balance != account.balance:
            problems.append(
                Problem(
                    "running_balance_matches",
                    f"account {account.pk} last running balance {account.last_balance} "
                    f"!= stored {account.balance}",
                )
            )

    for account in Account.objects.filter(
        allow_negative=False, balance__lt=F("pending_debits")
    ).order_by("pk")[:SAMPLE]:
        problems.append(
            Problem(
                "guarded_not_negative",
                f"account {account.pk} ({account}) has {account.available} available",
            )
        )
    for leg in Leg.objects.exclude(currency=F("account__currency")).order_by("pk")[:SAMPLE]:
        problems.append(Problem("leg_currency_matches_account", f"leg {leg.pk} is {leg.currency}"))
    for row in (
        Transfer.objects.filter(resolves__isnull=False)
        .values("resolves")
        .annotate(count=Count("pk"))
        .filter(count__gt=1)[:SAMPLE]
    ):
        problems.append(
            Problem(
                "pending_resolved_at_most_once",
                f"pending transfer {row['resolves']} resolved {row['count']} times",
            )
        )
    for transfer in (
        Transfer.objects.filter(resolves__isnull=False)
        .exclude(resolves__phase=Transfer.Phase.PENDING)
        .order_by("pk")[:SAMPLE]
    ):
        problems.append(
            Problem(
                "pending_resolved_at_most_once",
                f"transfer {transfer.pk} resolves a transfer that was not pending",
            )
        )
    problems += _reversal_problems()
    problems += _payout_problems()
    return problems


def _reversal_problems() -> list[Problem]:
    """A reversal undoes its original exactly per kind of account and owner: its legs
    and the original's sum to zero for each. Not per account: a refund debits a
    creator's pending earnings' shard 0 when the shard credited was merged into it."""
    rows = (
        Leg.objects.filter(
            Q(transfer__kind=Transfer.Kind.REVERSAL) | Q(transfer__reversal__isnull=False)
        )
        .annotate(original=Coalesce("transfer__reverses_id", "transfer_id"))
        .values("original", "account__kind", "account__user_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("original")[:SAMPLE]
    )
    return [
        Problem(
            "reversal_nets_original",
            f"transfer {row['original']} and its reversal leave {row['total']} "
            f"{row['currency']} on {row['account__kind']} of "
            f"{row['account__user_id'] or 'the platform'}",
        )
        for row in rows
    ]


def _payout_problems() -> list[Problem]:
    """Earnings leave once: a payout is never reversed back into the creator's earnings
    (it is undone only by voiding its hold), and per creator and currency the payouts
    approved or settled never exceed the earnings ever released to them."""
    problems: list[Problem] = []
    irreversible = [kind for kind in Transfer.NEVER_REVERSED_KINDS if kind != "reversal"]
    for reversal in (
        Transfer.objects.filter(kind=Transfer.Kind.REVERSAL, reverses__kind__in=irreversible)
        .select_related("reverses")
        .order_by("pk")[:SAMPLE]
    ):
        problems.append(
            Problem(
                "payouts_never_reversed",
                f"transfer {reversal.pk} reverses {reversal.reverses.get_kind_display()} "
                f"transfer {reversal.reverses_id}",
            )
        )
    paid_out = (
        PayoutRequest.objects.filter(
            user_id=OuterRef("user_id"),
            currency=OuterRef("currency"),
            status__in=[PayoutRequest.Status.APPROVED, PayoutRequest.Status.SETTLED],
        )
        .values("user_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    # What reached the available earnings other than payouts and their reversals.
    payout_leg = Q(legs__transfer__kind=Transfer.Kind.PAYOUT) | Q(
        legs__transfer__kind=Transfer.Kind.REVERSAL,
        legs__transfer__reverses__kind=Transfer.Kind.PAYOUT,
    )
    overpaid = (
        Account.objects.filter(kind=Account.Kind.EARNINGS_AVAILABLE)
        .annotate(
            released=Coalesce(Sum("legs__amount", filter=Q(legs__is_posted=True) & ~payout_leg), 0),
            paid_out=Coalesce(Subquery(paid_out), 0),
        )
        .filter(paid_out__gt=F("released"))
        .order_by("pk")[:SAMPLE]
    )
    for account in overpaid:
        problems.append(
            Problem(
                "earnings_paid_out_at_most_once",
                f"user {account.user_id} was paid {account.paid_out} {account.currency} "
                f"out of {account.released} released",
            )
        )
    return problems
