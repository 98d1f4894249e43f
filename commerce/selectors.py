"""Reads: balances and statements, each a fixed number of queries."""

from collections import defaultdict
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from commerce.fees import fee_rate_bps, split_fee
from commerce.models import Account, Leg, PayoutRequest, RoomAccess, RoomPrice, Tip, Transfer
from community.chat.models import Message
from config.compiled_queries import CompiledQuery
from config.currencies import (
    currency_for_locale,
    exponent_of,
    fallback_currency,
    format_minor,
    minor_to_input,
    supported_currencies,
)

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
            # Spread over shards (COMMERCE_EARNINGS_SHARDS): their sum.
            row["earnings_pending"] += account.available
    return [
        {
            "currency": currency,
            "available": row["wallet"] + row["earnings_available"],
            "pending": row["earnings_pending"],
            **row,
        }
        for currency, row in sorted(by_currency.items())
    ]


# A pending-earnings line's balance over the creator's shards: each shard's last
# running balance up to the line (ledger_leg_account_id serves each probe). Only table
# and column names are formatted in; the kind and the user are parameters.
_LEG, _ACCOUNT = Leg._meta.db_table, Account._meta.db_table
_PENDING_RUNNING_BALANCE_SQL = (
    f"(SELECT COALESCE(SUM((SELECT l.balance_after FROM {_LEG} l "  # noqa: S608
    f"WHERE l.account_id = a.id AND l.id <= {_LEG}.id ORDER BY l.id DESC LIMIT 1)), 0) "
    f"FROM {_ACCOUNT} a WHERE a.kind = %s AND a.user_id = %s AND a.currency = {_LEG}.currency)"
)


def statement_lines(
    *, user_id: int, currency: str | None = None, account_kind: str | None = None
) -> QuerySet[Leg]:
    """Posted legs on the user's accounts, newest first, with the transfer they belong to.

    Each line's ``statement_fee`` is ``gross - amount``, so every line shows
    ``net == gross - fee``: a refund's fee is negative, also on reversals written
    before the ledger mirrored the fee's sign (their stored ``fee`` is positive).

    Each line's ``running_balance`` is the balance of what the line is on after it:
    ``balance_after`` (its account's), except on pending earnings, which are spread
    over shards whose own running balances mean nothing to the creator: there it is
    the sum over the shards of each one's running balance as of this line (its last
    leg up to this one, one index probe per shard), whatever page or filter the lines
    are read through. Merges between the shards move nothing out of the pending
    earnings and are not lines.
    """
    lines = Leg.objects.filter(account__user_id=user_id, is_posted=True).exclude(
        transfer__kind=Transfer.Kind.EARNINGS_MERGE
    )
    if currency:
        lines = lines.filter(currency=currency.upper())
    if account_kind:
        lines = lines.filter(account__kind=account_kind)
    reversed_ = Transfer.objects.filter(reverses_id=OuterRef("transfer_id"))
    pending_total = RawSQL(  # noqa: S611 (fixed SQL; the values are parameters)
        _PENDING_RUNNING_BALANCE_SQL,
        [Account.Kind.EARNINGS_PENDING, user_id],
        output_field=BigIntegerField(),
    )
    return (
        lines.select_related("account", "transfer__tip", "transfer__reverses__tip")
        .annotate(
            is_reversed=Exists(reversed_),
            statement_fee=F("gross") - F("amount"),
            running_balance=Case(
                When(account__kind=Account.Kind.EARNINGS_PENDING, then=pending_total),
                default=F("balance_after"),
            ),
        )
        .order_by("-id")
    )


def payout_requests(*, user_id: int) -> QuerySet[PayoutRequest]:
    return PayoutRequest.objects.filter(user_id=user_id).order_by("-id")


def platform_fee_balances() -> dict[str, int]:
    """The platform's fees per currency, in minor units: the sum of the fee account's
    shards (``COMMERCE_PLATFORM_FEE_SHARDS``; any shard left over from a larger setting
    counts too). One query."""
    rows = (
        Account.objects.filter(kind=Account.Kind.PLATFORM_FEE, user=None)
        .values("currency")
        .annotate(total=Sum("balance"))
        .order_by("currency")
    )
    return {row["currency"]: row["total"] for row in rows}


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


def tip_message_parts(messages: list[Message], viewer: Any = None) -> dict[int, dict]:
    """``payload["tip"]`` of the chat's ``tip`` messages (registered with
    ``community.chat.selectors.register_payload_part``): what the whole room sees, the
    amount and the recipient by room nickname. One query per page, none without tips.
    """
    by_tip: dict[int, Message] = {}
    for message in messages:
        key = message.client_id
        if message.kind == Message.Kind.TIP and key.startswith(Tip.CHAT_KEY_PREFIX):
            tip_id = key[len(Tip.CHAT_KEY_PREFIX) :]
            if tip_id.isdigit():
                by_tip[int(tip_id)] = message
    if not by_tip:
        return {}
    tips = (
        Tip.objects.filter(pk__in=by_tip)
        .select_related("recipient_membership")
        .only(
            "id",
            "amount",
            "currency",
            "sender_membership_id",
            "recipient_membership__id",
            "recipient_membership__nickname",
        )
        .annotate(refunded=Exists(Transfer.objects.filter(reverses_id=OuterRef("transfer_id"))))
    )
    parts = {}
    for tip in tips:
        message = by_tip[tip.pk]
        if tip.sender_membership_id != message.author_id:
            continue  # only the tipper's own message shows their tip
        recipient = tip.recipient_membership
        parts[message.pk] = {
            "amount": tip.amount,
            "currency": tip.currency,
            "exponent": exponent_of(tip.currency),
            "display": format_minor(tip.amount, tip.currency),
            "recipient": (
                {"membership_id": recipient.pk, "nickname": recipient.nickname}
                if recipient
                else None
            ),
            "refunded": tip.refunded,
        }
    return parts


ROOM_PRICE_INTERVALS = {RoomPrice.Kind.ENTRY: "once", RoomPrice.Kind.MONTHLY: "month"}


def room_price_payload(price: RoomPrice) -> dict:
    return {
        "amount": price.amount,
        "currency": price.currency,
        "display": format_minor(price.amount, price.currency),
        "interval": ROOM_PRICE_INTERVALS[price.kind],
    }


def room_access_payload(
    *, kind: str | None, paid_until, renews: bool | None, is_owner: bool = False
) -> dict | None:
    """The viewer's paid access to a room: ``active`` (may join now), ``renews`` (a
    monthly membership that charges again on ``renews_at``), ``cancelled`` (a monthly
    membership that ends on ``ends_at``)."""
    if is_owner:
        return {
            "active": True,
            "renews": False,
            "renews_at": None,
            "cancelled": False,
            "ends_at": None,
        }
    if kind is None:
        return None
    active = paid_until is None or paid_until > timezone.now()
    monthly = kind == RoomPrice.Kind.MONTHLY
    renewing = bool(renews) and active and monthly
    cancelled = active and monthly and not renews
    return {
        "active": active,
        "renews": renewing,
        "renews_at": paid_until if renewing else None,
        "cancelled": cancelled,
        "ends_at": paid_until if cancelled else None,
    }


def _room_prices(room_ids: list[int], viewer_id: int | None) -> QuerySet[RoomPrice]:
    """The rooms' active prices, each with the viewer's access (``access_*``) when
    ``viewer_id`` is given."""
    prices = RoomPrice.objects.filter(room_id__in=room_ids, is_active=True)
    if viewer_id is not None:
        mine = RoomAccess.objects.filter(room_id=OuterRef("room_id"), user_id=viewer_id)
        prices = prices.annotate(
            access_kind=Subquery(mine.values("kind")[:1]),
            access_paid_until=Subquery(mine.values("paid_until")[:1]),
            access_renews=Subquery(mine.values("renews")[:1]),
        )
    return prices


# One room's offer (its page), compiled once per process (config/compiled_queries.py):
# building the query with its three subqueries took ~0.7 ms of CPU, running it ~0.1 ms.
_ONE_ROOM_PRICE = CompiledQuery(
    RoomPrice, lambda room_id: _room_prices([room_id], None).order_by("pk")[:1], kinds=(int,)
)
_ONE_ROOM_PRICE_FOR_VIEWER = CompiledQuery(
    RoomPrice,
    lambda room_id, viewer_id: _room_prices([room_id], viewer_id).order_by("pk")[:1],
    kinds=(int, int),
)


def room_offers(rooms: list, viewer: Any) -> dict[int, dict]:
    """What each paid room among ``rooms`` costs and the viewer's access to it, in one
    query (``community.rooms.selectors.register_room_offer_loader``)."""
    signed_in = viewer is not None and viewer.is_authenticated
    if len(rooms) == 1:  # a room's page or payload: a room has one price row at most
        room_id = rooms[0].pk
        price = (
            _ONE_ROOM_PRICE_FOR_VIEWER.first(room_id, viewer.pk)
            if signed_in
            else _ONE_ROOM_PRICE.first(room_id)
        )
        prices = [price] if price is not None else []
    else:
        prices = _room_prices([room.pk for room in rooms], viewer.pk if signed_in else None)
    owners = {room.pk: room.owner_id for room in rooms}
    return {
        price.room_id: {
            "price": room_price_payload(price),
            "access": (
                room_access_payload(
                    kind=price.access_kind,
                    paid_until=price.access_paid_until,
                    renews=price.access_renews,
                    is_owner=owners.get(price.room_id) == viewer.pk,
                )
                if signed_in
                else None
            ),
        }
        for price in prices
    }


# A tip sheet's one-tap amounts, in minor units: sums people tip in each currency
# (₩1,000 / ₩5,000 / ₩10,000; ¥100 / ¥500 / ¥1,000; $1 / $5 / $10).
TIP_PRESETS = {
    "KRW": (1000, 5000, 10000),
    "JPY": (100, 500, 1000),
    "VND": (20000, 50000, 100000),
    "IDR": (1000000, 2500000, 5000000),
    "INR": (5000, 10000, 50000),
    "THB": (5000, 10000, 50000),
    "TWD": (5000, 10000, 30000),
    "CNY": (500, 1000, 5000),
    "HKD": (1000, 5000, 10000),
}


def tip_presets(currency: str) -> list[dict]:
    """``[{"amount": minor units, "display": "₩1,000", "input": "1000"}]`` for ``currency``."""
    amounts = TIP_PRESETS.get(currency) or tuple(
        units * 10 ** exponent_of(currency) for units in (1, 5, 10)
    )
    return [
        {
            "amount": amount,
            "display": format_minor(amount, currency),
            "input": minor_to_input(amount, currency),
        }
        for amount in amounts
    ]


def _money(amount: int, currency: str) -> dict:
    return {"amount": amount, "display": format_minor(amount, currency)}


def spending_currency(user) -> str:
    """The currency a tip sheet starts in: the person's own, unless their wallet holds
    none of it but holds another (a Korean wallet of a visitor set to USD): then that."""
    own = preferred_currency(user)
    wallets = {
        row["currency"]: row["wallet"] for row in wallet_balances(user_id=user.pk) if row["wallet"]
    }
    if wallets.get(own) or not wallets:
        return own
    return max(wallets, key=wallets.get)


def tip_quote(
    *,
    user_id: int,
    recipient_membership_id: int | None,
    recipient_name: str,
    currency: str,
    amount: int | None = None,
) -> dict:
    """What a tip sheet shows before anything is paid (``GET /api/v1/tips/quote/``)."""
    balance = next(
        (row["wallet"] for row in wallet_balances(user_id=user_id) if row["currency"] == currency),
        0,
    )
    quote = None
    if amount:
        split = split_fee(amount)
        quote = {
            "amount": _money(split.gross, currency),
            "fee": _money(split.fee, currency),
            "net": _money(split.net, currency),
            "enough": balance >= amount,
            "shortfall": _money(max(0, amount - balance), currency),
        }
    return {
        "recipient": {"membership_id": recipient_membership_id, "name": recipient_name},
        "currency": currency,
        "exponent": exponent_of(currency),
        "presets": tip_presets(currency),
        "balance": _money(balance, currency),
        "fee_percent": fee_schedule()["rate_percent"],
        "quote": quote,
    }
