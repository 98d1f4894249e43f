"""Refunds are reversals: the original transfer stays, its mirror image undoes it."""

from django.utils.translation import gettext as _

from commerce.models import Tip, Transfer
from commerce.services.ledger import atomic_with_retry, write_reversal
from config.errors import NotFoundError, PermissionDeniedError
from profiles.models import User


@atomic_with_retry
def refund_transfer(*, actor: User, transfer_id: int) -> Transfer:
    """Staff may reverse any posted transfer; a creator may refund a tip they received
    while it is still pending (after that the money may have been paid out)."""
    if not actor.is_staff:
        tip = Tip.objects.filter(transfer_id=transfer_id).only("recipient_id").first()
        if tip is None:
            raise NotFoundError(_("No such transfer."))
        if tip.recipient_id != actor.pk:
            raise PermissionDeniedError(_("Only the recipient or staff can refund a tip."))
    return write_reversal(
        transfer_id=transfer_id,
        initiated_by_id=actor.pk,
        description=_("Refund of #%(id)s") % {"id": transfer_id},
    )
