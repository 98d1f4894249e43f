"""Reads: balances and statements, each a fixed number of queries."""

from collections import defaultdict

from django.db.models import Exists, F, OuterRef, QuerySet

from commerce.fees import fee_rate_bps
from commerce.models import Account, Leg, PayoutRequest, RoomAccess, RoomPrice, Transfer
from config.currencies import currency_for_locale, fallback_currency, supported_currencies

STATEMENT_ACCOUNT_KINDS = Account.USER_KINDS


def wallet_balances(*, user_id: int) -> list[dict]:
    """Per currency: ``available`` to spend or withdraw, ``pending`` earnings in their hold.

    ``available`` is the wallet after holds plus available earnings after payout holds;
    the parts are listed too, so nothing is hidden inside a sum.
    """
    by_currency: dict[str, dict] = defaultdict(
        lambda: {"wallet": 0, "earnings_available": 0, "earnings_pending": 0, "payouts_held": 0}
    )
    for account in Account.objects.filter(user_id=user_id).order_by("currency", "kind"):
        row = by_currency[account.currency]
        if account.kind == Account.Kind.WALLET:
            row["wallet"] = account.available
        elif account.kind == Account.Kind.EARNINGS_AVAILABLE:
            row["earnings_available"] = account.available
            row["payouts_held"] = account.pending_debits
        elif account.kind == Account.Kind.EARNINGS_PENDING:
            row["earnings_pending"] = account.available
    return [
        {
            "currency": currency,
            "available": row["wallet"] + row["earnings_available"],
            "pending": row["earnings_pending"],
            **row,
        }
        for currency, row in sorted(by_currency.items())
    ]


def statement_lines(
    *, user_id: int, currency: str | None = None, account_kind: str | None = None
) -> QuerySet[Leg]:
    """Posted legs on the user's accounts, newest first, with the transfer they belong to.

    Each line's ``statement_fee`` is ``gross - amount``, so every line shows
    ``net == gross - fee``: a refund's fee is negative, also on reversals written
    before the ledger mirrored the fee's sign (their stored ``fee`` is positive).
    """
    lines = Leg.objects.filter(account__user_id=user_id, is_posted=True)
    if currency:
        lines = lines.filter(currency=currency.upper())
    if account_kind:
        lines = lines.filter(account__kind=account_kind)
    reversed_ = Transfer.objects.filter(reverses_id=OuterRef("transfer_id"))
    return (
        lines.select_related("account", "transfer__tip", "transfer__reverses__tip")
        .annotate(is_reversed=Exists(reversed_), statement_fee=F("gross") - F("amount"))
        .order_by("-id")
    )


def payout_requests(*, user_id: int) -> QuerySet[PayoutRequest]:
    return PayoutRequest.objects.filter(user_id=user_id).order_by("-id")


def fee_schedule() -> dict:
    bps = fee_rate_bps()
    return {"rate_bps": bps, "rate_percent": bps / 100}


def active_room_price(*, room_id: int) -> RoomPrice | None:
    return RoomPrice.objects.filter(room_id=room_id, is_active=True).first()


def room_access_of(*, user_id: int, room_id: int) -> RoomAccess | None:
    return RoomAccess.objects.filter(user_id=user_id, room_id=room_id).first()


def preferred_currency(user) -> str:
    """The currency ``user`` tops up and tips in by default: their own (``User.currency``);
    for an account from before it existed, the currency their wallet holds most of, else
    their language's."""
    code = getattr(user, "currency", "") or ""
    if code in supported_currencies():
        return code
    if getattr(user, "pk", None):
        held = (
            Account.objects.filter(user_id=user.pk, kind=Account.Kind.WALLET, balance__gt=0)
            .order_by("-balance")
            .values_list("currency", flat=True)
            .first()
        )
        if held in supported_currencies():
            return held
    return currency_for_locale(getattr(user, "locale", "")) or fallback_currency()
