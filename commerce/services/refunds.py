"""Refunds are reversals: the original transfer stays, its mirror image undoes it.

Who may reverse what is decided here, once, for every surface (the web refund, the
admin action): staff holding the explicit ``commerce.reverse_transfer`` permission
reverse any reversible transfer; a creator refunds a tip they received. Being staff or
a site moderator grants nothing. What may be reversed at all (never a payout's
transfers, a release of earnings or a reversal; each at most once) is the ledger's
rule, in :func:`commerce.services.ledger.write_reversal`.
"""

from django.utils.translation import gettext as _

from commerce.models import Tip, Transfer
from commerce.services.ledger import atomic_with_retry, write_reversal
from config.errors import NotFoundError
from profiles.models import User

REVERSE_PERMISSION = "commerce.reverse_transfer"


def may_reverse_any_transfer(*, user: User) -> bool:
    """Staff holding ``commerce.reverse_transfer`` (superusers hold every permission)."""
    return bool(user.is_active and user.is_staff and user.has_perm(REVERSE_PERMISSION))


def authorize_reversal(*, actor: User, transfer_id: int) -> None:
    """Raise unless ``actor`` may reverse the transfer (the one authorisation check)."""
    if may_reverse_any_transfer(user=actor):
        return
    # A creator refunds a tip they received; other people's transfers are not even
    # confirmed to exist (the same answer as a missing one).
    if not Tip.objects.filter(transfer_id=transfer_id, recipient_id=actor.pk).exists():
        raise NotFoundError(_("No such transfer."))


@atomic_with_retry
def refund_transfer(*, actor: User, transfer_id: int) -> Transfer:
    """Reverse one transfer for ``actor``, at most once.

    A refund of a tip takes the money back from the creator's pending earnings; when
    those cannot cover it (released, perhaps paid out) it is refused for want of funds.
    """
    authorize_reversal(actor=actor, transfer_id=transfer_id)
    return write_reversal(
        transfer_id=transfer_id,
        initiated_by_id=actor.pk,
        description=_("Refund of #%(id)s") % {"id": transfer_id},
    )
