"""Tips: a member pays a creator; the platform keeps its fee, in one transfer."""

from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _

from commerce.fees import split_fee
from commerce.models import Account, Tip, Transfer
from commerce.services.ledger import (
    LegSpec,
    atomic_with_retry,
    check_may_move_money,
    get_accounts,
    write_transfer,
)
from community.chat.models import Message
from community.notifications.services import notify_tip_received
from community.rooms.models import Membership
from config.currencies import validate_amount, validate_currency
from config.errors import DomainError, NotFoundError
from profiles.models import Profile, User
from profiles.text import lookalike_key


@dataclass(frozen=True)
class Recipient:
    user_id: int
    # How the tipper may see them: a room nickname keeps an open profile closed.
    label: str
    handle: str | None
    # How the recipient sees the tipper, by the same rule.
    sender_label: str
    message_id: int | None = None


def _public_label(membership: Membership) -> tuple[str, str | None]:
    if membership.is_open_profile:
        return membership.nickname, None
    handle = membership.user.profile.handle
    return f"@{handle}", handle


def _recipient_of_message(*, sender: User, message_id: int) -> Recipient:
    message = (
        Message.objects.select_related("author__user__profile")
        .filter(pk=message_id, deleted_at__isnull=True)
        .exclude(kind=Message.Kind.SYSTEM)
        .first()
    )
    if message is None or message.author is None:
        raise NotFoundError(_("No such message."))
    sender_membership = (
        Membership.objects.select_related("user__profile")
        .filter(room_id=message.room_id, user=sender, state=Membership.State.ACTIVE)
        .first()
    )
    if sender_membership is None:
        # Not a member: do not confirm the message exists.
        raise NotFoundError(_("No such message."))
    label, handle = _public_label(message.author)
    sender_label, _handle = _public_label(sender_membership)
    return Recipient(
        user_id=message.author.user_id,
        label=label,
        handle=handle,
        sender_label=sender_label,
        message_id=message.pk,
    )


def _recipient_by_handle(*, sender: User, handle: str) -> Recipient:
    key = lookalike_key(handle.strip().lstrip("@"))
    # Both profiles in one query (at most two rows: handle keys and users are unique).
    rows = list(Profile.objects.filter(Q(handle_key=key) | Q(user=sender)))
    profile = next((row for row in rows if row.handle_key == key), None)
    if profile is None:
        raise NotFoundError(_("No such member."), fields={"user": [_("Unknown handle.")]})
    sender_profile = next((row for row in rows if row.user_id == sender.pk), None)
    sender_label = f"@{sender_profile.handle}" if sender_profile else sender.username
    return Recipient(
        user_id=profile.user_id,
        label=f"@{profile.handle}",
        handle=profile.handle,
        sender_label=sender_label,
    )


@atomic_with_retry
def send_tip(
    *,
    sender: User,
    amount: int,
    currency: str,
    message_id: int | None = None,
    recipient_handle: str | None = None,
) -> tuple[Tip, Recipient]:
    check_may_move_money(user=sender)
    amount = validate_amount(amount)
    currency = validate_currency(currency)
    if (message_id is None) == (not recipient_handle):
        raise DomainError(_("Tip either a message or a member, not both."))
    if message_id is not None:
        recipient = _recipient_of_message(sender=sender, message_id=message_id)
    else:
        recipient = _recipient_by_handle(sender=sender, handle=recipient_handle)
    if recipient.user_id == sender.pk:
        raise DomainError(_("You cannot tip yourself."), code="self_tip")
    split = split_fee(amount)
    wanted = [
        (Account.Kind.WALLET, sender.pk),
        (Account.Kind.EARNINGS_PENDING, recipient.user_id),
    ]
    if split.fee:
        wanted.append((Account.Kind.PLATFORM_FEE, None))
    wallet, earnings, *fee_account = get_accounts(wanted=wanted, currency=currency)
    legs = [
        LegSpec(account=wallet, amount=-amount),
        LegSpec(account=earnings, amount=split.net, gross=split.gross, fee=split.fee),
    ]
    if fee_account:
        legs.append(LegSpec(account=fee_account[0], amount=split.fee))
    tips: list[Tip] = []

    def describe(transfer: Transfer) -> None:
        tips.append(
            Tip.objects.create(
                transfer=transfer,
                sender=sender,
                recipient_id=recipient.user_id,
                message_id=recipient.message_id,
                amount=amount,
                fee=split.fee,
                currency=currency,
                recipient_label=recipient.label,
                sender_label=recipient.sender_label,
            )
        )
        # Before the balance rows are locked: the notification's reads and writes
        # (settings, blocks, unread totals) kept a popular creator's earnings row and
        # the platform fee row locked for as long again (bench/ledger.py, hot tips).
        notify_tip_received(tip=tips[0])

    write_transfer(
        kind=Transfer.Kind.TIP,
        legs=legs,
        initiated_by_id=sender.pk,
        description=_("Tip"),
        describe=describe,
    )
    return tips[0], recipient
