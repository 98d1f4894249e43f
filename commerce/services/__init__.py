"""Commerce writes. Each operation owns its transaction and retries deadlocks."""

from commerce.services.ledger import (
    InsufficientFundsError,
    post_pending_transfer,
    void_pending_transfer,
)
from commerce.services.payouts import (
    approve_payout,
    mature_all_earnings,
    reject_payout,
    request_payout,
    settle_payout,
)
from commerce.services.refunds import may_reverse_any_transfer, refund_transfer
from commerce.services.rooms import (
    cancel_renewal,
    purchase_room_access,
    resume_renewal,
    set_room_price,
)
from commerce.services.tips import find_recipient, recipient_of_membership, send_tip
from commerce.services.topups import create_topup, handle_webhook

__all__ = [
    "InsufficientFundsError",
    "approve_payout",
    "cancel_renewal",
    "create_topup",
    "find_recipient",
    "handle_webhook",
    "mature_all_earnings",
    "may_reverse_any_transfer",
    "post_pending_transfer",
    "purchase_room_access",
    "recipient_of_membership",
    "refund_transfer",
    "reject_payout",
    "request_payout",
    "resume_renewal",
    "send_tip",
    "set_room_price",
    "settle_payout",
    "void_pending_transfer",
]
