"""The JSON bodies money-moving operations answer with (stored for idempotent replay).

Shared by the API and the web forms, so a replay from either is the same document.
"""

from commerce.models import PayoutRequest, Tip, TopUp, Transfer
from commerce.selectors import wallet_balances
from commerce.services.tips import Recipient


def _balance_for(user_id: int, currency: str) -> dict | None:
    return next(
        (row for row in wallet_balances(user_id=user_id) if row["currency"] == currency), None
    )


def topup_body(topup: TopUp) -> dict:
    return {
        "id": topup.pk,
        "status": topup.status,
        "amount": topup.amount,
        "currency": topup.currency,
        "provider": topup.provider,
        "transfer": topup.transfer_id,
        "balance": _balance_for(topup.user_id, topup.currency),
    }


def tip_body(tip: Tip, recipient: Recipient) -> dict:
    # The recipient as the tipper may see them: an open profile shows only its
    # room nickname, never the main profile's handle.
    return {
        "id": tip.pk,
        "transfer": tip.transfer_id,
        "amount": tip.amount,
        "fee": tip.fee,
        "net": tip.amount - tip.fee,
        "currency": tip.currency,
        "message": tip.message_id,
        "recipient": {"name": recipient.label, "handle": recipient.handle},
        "created_at": tip.created_at.isoformat(),
    }


def payout_body(payout: PayoutRequest) -> dict:
    return {
        "id": payout.pk,
        "status": payout.status,
        "amount": payout.amount,
        "currency": payout.currency,
        "hold": payout.hold_id,
        "expires_at": payout.hold.expires_at.isoformat() if payout.hold.expires_at else None,
        "created_at": payout.created_at.isoformat(),
    }


def refund_body(reversal: Transfer) -> dict:
    return {
        "id": reversal.pk,
        "reverses": reversal.reverses_id,
        "created_at": reversal.created_at.isoformat(),
    }
