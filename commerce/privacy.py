"""The ledger's part in "export my data" and "delete my account".

Ledger rows are kept when an account is deleted (money must stay explainable), but
what names the person is removed: the labels others saw them by on tips.
"""

from django.utils.translation import gettext as _

from commerce.models import IdempotencyKey, PayoutRequest, Tip
from commerce.selectors import statement_lines, wallet_balances


def anonymise_ledger_entries(*, user, delete_messages: bool = False) -> None:
    """Deletion hook: other people's statements stop naming this user."""
    deleted = _("Deleted member")
    Tip.objects.filter(recipient=user).update(recipient_label=deleted)
    # The notes they wrote with their tips are their words: gone with them.
    Tip.objects.filter(sender=user).update(sender_label=deleted, note="")
    # Stored replies may name the people this user paid.
    IdempotencyKey.objects.filter(user=user).delete()


def export_ledger(user) -> dict:
    """Export section: balances, every statement line, the notes sent with tips, payouts."""
    lines = statement_lines(user_id=user.pk).order_by("id")
    return {
        "balances": wallet_balances(user_id=user.pk),
        "statement": [
            {
                "date": line.created_at,
                "transfer": line.transfer_id,
                "kind": line.transfer.kind,
                "counterparty": line.counterparty_label(),
                "account": line.account.kind,
                "currency": line.currency,
                "gross": line.gross,
                "fee": line.statement_fee,
                "net": line.amount,
                "balance": line.running_balance,
            }
            for line in lines
        ],
        "tip_notes": [
            {"to": tip.recipient_label, "note": tip.note, "sent_at": tip.created_at}
            for tip in Tip.objects.filter(sender=user).exclude(note="").order_by("id")
        ],
        "payouts": [
            {
                "amount": payout.amount,
                "currency": payout.currency,
                "status": payout.status,
                "requested_at": payout.created_at,
            }
            for payout in PayoutRequest.objects.filter(user=user).order_by("id")
        ],
    }
