"""Tips: a member pays a creator; the platform keeps its fee, in one transfer."""

import functools
import logging
import time
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.fees import split_fee
from commerce.models import Account, Tip, TipNotificationOutbox, Transfer
from commerce.services.ledger import (
    LegSpec,
    atomic_with_retry,
    check_may_move_money,
    get_accounts,
    pick_shard,
    server_bound_cursor,
    write_transfer,
)
from community.chat.models import Message
from community.chat.services import check_tip_note, post_tip_message
from community.notifications.models import Notification
from community.notifications.services import notify_tip_received
from community.rooms.models import Membership
from config import metrics
from config.celery import app as celery_app
from config.compiled_queries import MarkedQuery
from config.currencies import validate_amount, validate_currency
from config.errors import DomainError, NotFoundError
from profiles.models import Profile, User
from profiles.text import lookalike_key

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    # How the tipper may see them: a room nickname keeps an open profile closed.
    label: str
    handle: str | None
    # How the recipient sees the tipper, by the same rule.
    sender_label: str
    message_id: int | None = None
    # A tip given in a room: both sides' memberships (the tip is shown in its chat).
    room_id: int | None = None
    sender_membership_id: int | None = None
    membership_id: int | None = None


def _public_label(membership: Membership) -> tuple[str, str | None]:
    """A member as others in the room see them: the room nickname, and the main
    profile's handle only when they chose to show it (never for an open profile)."""
    if membership.is_open_profile:
        return membership.nickname, None
    return membership.nickname, membership.user.profile.handle


def _active_membership(*, room_id: int, user: User) -> Membership | None:
    return (
        Membership.objects.select_related("user__profile")
        .filter(room_id=room_id, user=user, state=Membership.State.ACTIVE)
        .first()
    )


def _room_recipient(
    *, sender_membership: Membership, membership: Membership, message_id: int | None
) -> Recipient:
    label, handle = _public_label(membership)
    sender_label, _handle = _public_label(sender_membership)
    return Recipient(
        user_id=membership.user_id,
        label=label,
        handle=handle,
        sender_label=sender_label,
        message_id=message_id,
        room_id=membership.room_id,
        sender_membership_id=sender_membership.pk,
        membership_id=membership.pk,
    )


def _recipient_of_message(*, sender: User, message_id: int) -> Recipient:
    message = (
        Message.objects.select_related("author__user__profile")
        .filter(pk=message_id, deleted_at__isnull=True)
        .exclude(kind=Message.Kind.SYSTEM)
        .first()
    )
    if message is None or message.author is None:
        raise NotFoundError(_("No such message."))
    sender_membership = _active_membership(room_id=message.room_id, user=sender)
    if sender_membership is None:
        # Not a member: do not confirm the message exists.
        raise NotFoundError(_("No such message."))
    return _room_recipient(
        sender_membership=sender_membership, membership=message.author, message_id=message.pk
    )


def recipient_of_membership(*, sender: User, membership_id: int) -> Recipient:
    """A current member of a room the sender is in, named as the room shows them."""
    membership = (
        Membership.objects.select_related("user__profile")
        .filter(pk=membership_id, state=Membership.State.ACTIVE)
        .first()
    )
    sender_membership = (
        _active_membership(room_id=membership.room_id, user=sender) if membership else None
    )
    if membership is None or sender_membership is None:
        # Not in the room: the same answer as no such member.
        raise NotFoundError(_("No such member."), fields={"membership": [_("Not found.")]})
    return _room_recipient(
        sender_membership=sender_membership, membership=membership, message_id=None
    )


def find_recipient(
    *,
    sender: User,
    message_id: int | None = None,
    membership_id: int | None = None,
    recipient_handle: str | None = None,
) -> Recipient:
    """Whom a tip goes to: a message's author, a room member, or a handle (exactly one)."""
    targets = [message_id is not None, membership_id is not None, bool(recipient_handle)]
    if sum(targets) != 1:
        raise DomainError(_("Tip either a message or a member, not both."))
    if message_id is not None:
        recipient = _recipient_of_message(sender=sender, message_id=message_id)
    elif membership_id is not None:
        recipient = recipient_of_membership(sender=sender, membership_id=membership_id)
    else:
        recipient = _recipient_by_handle(sender=sender, handle=recipient_handle)
    if recipient.user_id == sender.pk:
        raise DomainError(_("You cannot tip yourself."), code="self_tip")
    return recipient


def _recipient_by_handle(*, sender: User, handle: str) -> Recipient:
    key = lookalike_key(handle.strip().lstrip("@"))
    # Both profiles in one query (at most two rows: handle keys and users are unique).
    # Read where the ORM would (config/db_routing.py); rows of (user_id, handle, key).
    db = Profile.objects.db
    query = _profiles_query(vendor=connections[db].vendor)
    with server_bound_cursor(alias=db) as cursor:
        cursor.execute(query.sql, query.bind({_KEY_MARKER: key, _USER_MARKER: sender.pk}))
        rows = cursor.fetchall()
    profile = next((row for row in rows if row[2] == key), None)
    if profile is None:
        raise NotFoundError(_("No such member."), fields={"user": [_("Unknown handle.")]})
    sender_profile = next((row for row in rows if row[0] == sender.pk), None)
    sender_label = f"@{sender_profile[1]}" if sender_profile else sender.username
    return Recipient(
        user_id=profile[0],
        label=f"@{profile[1]}",
        handle=profile[1],
        sender_label=sender_label,
    )


# Values no row has, marking where the real ones go (config.compiled_queries.MarkedQuery).
_KEY_MARKER = "\x00handle_key"
_USER_MARKER = -(2**62) + 21


@functools.cache
def _profiles_query(*, vendor: str) -> MarkedQuery:
    """``_recipient_by_handle``'s query compiled once per process and vendor: building
    it was ~1 ms of client CPU per tip (docs/performance.md, Ledger: the hot creator)."""
    return MarkedQuery(
        Profile.objects.filter(Q(handle_key=_KEY_MARKER) | Q(user_id=_USER_MARKER)).values_list(
            "user_id", "handle", "handle_key"
        ),
        markers=[_KEY_MARKER, _USER_MARKER],
    )


@atomic_with_retry
def send_tip(
    *,
    sender: User,
    amount: int,
    currency: str,
    message_id: int | None = None,
    recipient_handle: str | None = None,
    membership_id: int | None = None,
    note: str = "",
) -> tuple[Tip, Recipient]:
    """Tip a message's author, a room member or a handle.

    A tip given in a room (``message_id`` or ``membership_id``) appears in its chat:
    on commit the tipper's ``tip`` message (with ``note``, screened like a message
    before any money moves) is posted there; a handle's tip is private.
    """
    check_may_move_money(user=sender)
    amount = validate_amount(amount)
    currency = validate_currency(currency)
    recipient = find_recipient(
        sender=sender,
        message_id=message_id,
        membership_id=membership_id,
        recipient_handle=recipient_handle,
    )
    if recipient.room_id is not None:
        note = check_tip_note(room_id=recipient.room_id, user_id=sender.pk, note=note)
    elif (note or "").strip():
        raise DomainError(
            _("A note goes with a tip in a room."), fields={"note": [_("Tip a room member.")]}
        )
    split = split_fee(amount)
    # One of the creator's pending-earnings shards and one of the fee's, at random:
    # every tip to a creator locked their one earnings row, every tip the one fee row
    # (docs/performance.md, Ledger: the platform fee's shards; the creator's earnings
    # shards). A refund reverses the legs onto the accounts they were posted to (the
    # earnings' shard 0 instead once that shard was merged: ledger.write_reversal).
    earnings_kind = Account.Kind.EARNINGS_PENDING
    wanted = [
        (Account.Kind.WALLET, sender.pk),
        (earnings_kind, recipient.user_id, pick_shard(kind=earnings_kind)),
    ]
    if split.fee:
        fee_kind = Account.Kind.PLATFORM_FEE
        wanted.append((fee_kind, None, pick_shard(kind=fee_kind)))
    wallet, earnings, *fee_account = get_accounts(wanted=wanted, currency=currency)
    legs = [
        LegSpec(account=wallet, amount=-amount),
        LegSpec(account=earnings, amount=split.net, gross=split.gross, fee=split.fee),
    ]
    if fee_account:
        legs.append(LegSpec(account=fee_account[0], amount=split.fee))
    tip = Tip(
        sender=sender,
        recipient_id=recipient.user_id,
        message_id=recipient.message_id,
        amount=amount,
        fee=split.fee,
        currency=currency,
        recipient_label=recipient.label,
        sender_label=recipient.sender_label,
        sender_membership_id=recipient.sender_membership_id,
        recipient_membership_id=recipient.membership_id,
        note=note,
    )
    # The transfer, the tip and its row in the notification outbox are written with the
    # balances and legs (one statement on PostgreSQL).
    write_transfer(
        kind=Transfer.Kind.TIP,
        legs=legs,
        initiated_by_id=sender.pk,
        description=_("Tip"),
        attached=tip,
        outbox=TipNotificationOutbox,
    )
    # The recipient hears of the tip from the outbox's relay, never inside the payment:
    # the notification's reads and writes were half of a tip's time, with a popular
    # creator's earnings row and the platform fee row locked or about to be
    # (bench/ledger.py, hot tips). The outbox row commits or rolls back with the payment,
    # so a paid tip is notified even when the broker is down at commit, and a rolled-back
    # one never is. With a broker, beat runs the relay every second (no publish per tip:
    # it was a fifth of the tip's client CPU); with eager tasks (no broker: `make run`)
    # there is no beat, so the relay runs once the tip commits (taking any tip an earlier
    # run failed to deliver too).
    if celery_app.conf.task_always_eager:
        transaction.on_commit(_relay_now, robust=True)
    if recipient.room_id is not None:
        # After the payment commits (the outermost transaction: the idempotency key's),
        # never inside it: the room lock a chat message takes stays out of the ledger's
        # transaction, and a rolled-back tip shows nothing. Robust: a failure to post is
        # logged and leaves the paid tip as it is.
        transaction.on_commit(lambda: announce_tip(tip_id=tip.pk), robust=True)
    return tip, recipient


def _relay_now() -> None:
    from commerce import tasks

    tasks.relay_tip_notifications.delay()


def notify_tip(*, tip_id: int) -> Notification | None:
    """Notify a paid tip's recipient (their notification, then their ``/ws/me/`` events
    after this commits). Idempotent: the notification is keyed by the tip, so a repeat
    (a retried or redelivered task, the outbox's relay) notifies nobody again. Re-reads
    the tip: muted kinds and blocks are those of when the task runs."""
    tip = Tip.objects.filter(pk=tip_id).first()
    if tip is None:
        return None
    with transaction.atomic():
        return notify_tip_received(tip=tip)


# Tips taken off the outbox per transaction (their notifications show when it commits:
# at ~7 ms of worker CPU each, 25 add at most ~0.2 s to beat's second), and how long one
# relay run goes on taking batches (beat starts one every second; concurrent runs skip
# each other's rows).
RELAY_BATCH = 25
RELAY_BUDGET_SECONDS = 5.0


def deliver_tip_notifications(
    *,
    batch: int | None = None,
    budget_seconds: float | None = None,
) -> int:
    """The outbox's relay: notify the recipients of paid tips still in the outbox and
    take them off it, ``batch`` at a time until none is left or ``budget_seconds`` have
    passed; returns how many were taken off.

    Each batch is one transaction: its outbox rows are locked (``SKIP LOCKED``: two
    relays share the work), every tip is notified in a savepoint, then the rows are
    deleted. Delivery is at least once: a database fault or a crash rolls the batch
    back, notifications and deletions together, and the next run delivers it again;
    a repeat notifies nobody twice (the notification is keyed by the tip). A tip whose
    notification fails otherwise (a bug, not the database) is logged and taken off,
    as a failed task was dropped, so it cannot hold up the others every second.
    """
    batch = batch or RELAY_BATCH
    budget = RELAY_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    delivered = 0
    deadline = time.monotonic() + budget
    metrics.tip_outbox_relay_ran()
    while True:
        with transaction.atomic():
            pending = TipNotificationOutbox.objects.select_for_update(skip_locked=True)
            rows = list(pending.order_by("tip_id").values_list("tip_id", "created_at")[:batch])
            if not rows:
                return delivered
            ids = [tip_id for tip_id, _created_at in rows]
            tips = Tip.objects.in_bulk(ids)
            for tip_id in ids:
                if tip_id in tips:
                    _notify_from_outbox(tips[tip_id])
            TipNotificationOutbox.objects.filter(tip_id__in=ids).delete()
            now = timezone.now()
            metrics.tip_notifications_relayed_on_commit(
                delays=[(now - created_at).total_seconds() for _tip_id, created_at in rows]
            )
        delivered += len(ids)
        if len(ids) < batch or time.monotonic() >= deadline:
            return delivered


def _notify_from_outbox(tip: Tip) -> None:
    try:
        with transaction.atomic():
            notify_tip_received(tip=tip)
    except (OperationalError, InterfaceError):
        raise  # the whole batch is rolled back and delivered again by a later run
    except Exception:
        logger.exception("tip %s: the recipient's notification failed; not retried", tip.pk)


def announce_tip(*, tip_id: int) -> Tip | None:
    """Post a room tip's ``tip`` message in its chat (idempotent: the message is keyed
    by the tip) and link it to the tip. Runs after the payment committed."""
    tip = Tip.objects.select_related("sender_membership").filter(pk=tip_id).first()
    if tip is None or tip.sender_membership is None:
        return None
    if tip.room_message_id is not None:
        return tip
    with transaction.atomic():
        message = post_tip_message(
            room_id=tip.sender_membership.room_id,
            tipper_membership_id=tip.sender_membership_id,
            tip_key=tip.chat_key,
            note=tip.note,
            reply_to_id=tip.message_id,
        )
        if message is not None:
            tip.room_message = message
            tip.save(update_fields=["room_message"])
    return tip
