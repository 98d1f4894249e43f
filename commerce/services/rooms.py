"""Paid rooms: an entry price or a monthly membership gates ``join_room``."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.fees import split_fee
from commerce.models import Account, RoomAccess, RoomPrice, Transfer
from commerce.services.ledger import (
    InsufficientFundsError,
    LegSpec,
    atomic_with_retry,
    check_may_move_money,
    pick_shard,
    system_account,
    write_transfer,
)
from commerce.services.ledger import user_account as get_user_account
from community.access import refuse_outsider, room_not_found_error
from community.notifications.services import notify_membership_lapsed
from community.rooms.models import Membership, Room
from community.rooms.selectors import forget_discover_pages
from community.rooms.services import end_lapsed_membership
from config.currencies import format_minor, validate_amount, validate_currency
from config.errors import DomainError, NotFoundError, PermissionDeniedError
from profiles.models import User


def has_room_access(*, user_id: int, room_id: int) -> bool:
    access = RoomAccess.objects.filter(user_id=user_id, room_id=room_id).first()
    return access is not None and (access.paid_until is None or access.paid_until > timezone.now())


def check_room_entry_allowed(*, room: Room, user: User) -> None:
    """Called by ``join_room``: a paid room needs a paid entry or a current membership."""
    price = RoomPrice.objects.filter(room_id=room.pk, is_active=True).first()
    if price is None or room.owner_id == user.pk:
        return
    if has_room_access(user_id=user.pk, room_id=room.pk):
        return
    raise PermissionDeniedError(
        _("This room costs %(price)s (%(kind)s). Pay to join.")
        % {"price": format_minor(price.amount, price.currency), "kind": price.get_kind_display()},
        code="payment_required",
    )


@atomic_with_retry
def set_room_price(
    *, actor: User, room_id: int, kind: str, amount: int, currency: str, is_active: bool = True
) -> RoomPrice:
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        raise room_not_found_error()
    if room.owner_id != actor.pk and not actor.is_staff:
        refuse_outsider(room, user=actor)
        raise PermissionDeniedError(_("Only the room owner can set its price."))
    if kind not in RoomPrice.Kind.values:
        raise DomainError(_("Unknown kind of price."), fields={"kind": [_("Invalid.")]})
    price, _created = RoomPrice.objects.update_or_create(
        room=room,
        defaults={
            "kind": kind,
            "amount": validate_amount(amount),
            "currency": validate_currency(currency),
            "is_active": is_active,
        },
    )
    forget_discover_pages(room_id=room.pk)  # the price is on the room's shared card
    return price


def _charge(*, payer_id: int, room: Room, price: RoomPrice) -> Transfer:
    split = split_fee(price.amount)
    wallet = get_user_account(user_id=payer_id, kind=Account.Kind.WALLET, currency=price.currency)
    earnings_kind = Account.Kind.EARNINGS_PENDING
    earnings = get_user_account(  # one of the owner's pending-earnings shards, as a tip's
        user_id=room.owner_id,
        kind=earnings_kind,
        currency=price.currency,
        shard=pick_shard(kind=earnings_kind),
    )
    legs = [
        LegSpec(account=wallet, amount=-price.amount, counterparty=room.title),
        LegSpec(
            account=earnings,
            amount=split.net,
            gross=split.gross,
            fee=split.fee,
            counterparty=room.title,
        ),
    ]
    if split.fee:
        fee_kind = Account.Kind.PLATFORM_FEE
        fee_account = system_account(
            kind=fee_kind, currency=price.currency, shard=pick_shard(kind=fee_kind)
        )
        legs.append(LegSpec(account=fee_account, amount=split.fee, counterparty="room fee"))
    kind = (
        Transfer.Kind.ROOM_ENTRY
        if price.kind == RoomPrice.Kind.ENTRY
        else Transfer.Kind.ROOM_MEMBERSHIP
    )
    return write_transfer(kind=kind, legs=legs, initiated_by_id=payer_id, description=room.title)


@atomic_with_retry
def purchase_room_access(*, user: User, room_id: int) -> RoomAccess:
    """Pay a room's price; a current access is returned as it is (never charged twice)."""
    check_may_move_money(user=user)
    room = Room.objects.filter(pk=room_id).first()
    price = RoomPrice.objects.filter(room_id=room_id, is_active=True).first()
    if room is None or price is None:
        raise NotFoundError(_("This room is not for sale."))
    if room.owner_id == user.pk:
        raise DomainError(_("You own this room."), code="own_room")
    if Membership.objects.filter(
        room_id=room_id, user_id=user.pk, state=Membership.State.BANNED
    ).exists():
        # They could not join: never charge for a room someone is banned from.
        raise PermissionDeniedError(_("You are banned from this room."), code="banned")
    now = timezone.now()
    access = RoomAccess.objects.select_for_update().filter(user=user, room=room).first()
    if access and (access.paid_until is None or access.paid_until > now):
        return access
    transfer = _charge(payer_id=user.pk, room=room, price=price)
    monthly = price.kind == RoomPrice.Kind.MONTHLY
    paid_until = now + settings.COMMERCE_MEMBERSHIP_PERIOD if monthly else None
    if access is None:
        return RoomAccess.objects.create(
            user=user,
            room=room,
            kind=price.kind,
            paid_until=paid_until,
            renews=monthly,
            last_transfer=transfer,
        )
    access.kind, access.paid_until, access.renews = price.kind, paid_until, monthly
    access.lapsed_at, access.last_transfer = None, transfer
    access.save(update_fields=["kind", "paid_until", "renews", "lapsed_at", "last_transfer"])
    return access


@atomic_with_retry
def cancel_renewal(*, user: User, room_id: int) -> RoomAccess:
    """Stop renewing the user's monthly membership; access lasts until ``paid_until``.

    Idempotent. The row lock orders it with a renewal running at the same moment: a
    renewal that locked first charges the period that was due, one that locks after
    sees ``renews`` off and charges nothing.
    """
    access = RoomAccess.objects.select_for_update().filter(user=user, room_id=room_id).first()
    if access is None or access.kind != RoomPrice.Kind.MONTHLY:
        raise NotFoundError(_("You have no membership of this room to cancel."))
    if access.renews:
        access.renews = False
        access.save(update_fields=["renews"])
    return access


@atomic_with_retry
def resume_renewal(*, user: User, room_id: int) -> RoomAccess:
    """Undo a cancelled renewal while the paid month lasts: the membership renews again
    on ``paid_until``. Idempotent. Under the same row lock as cancelling and renewing."""
    access = RoomAccess.objects.select_for_update().filter(user=user, room_id=room_id).first()
    if access is None or access.kind != RoomPrice.Kind.MONTHLY:
        raise NotFoundError(_("You have no membership of this room to renew."))
    if access.paid_until is None or access.paid_until <= timezone.now() or access.lapsed_at:
        raise DomainError(
            _("This membership has ended: pay for the room again to rejoin."),
            code="membership_ended",
        )
    if not RoomPrice.objects.filter(
        room_id=room_id, is_active=True, kind=RoomPrice.Kind.MONTHLY
    ).exists():
        raise DomainError(_("The room no longer sells memberships."), code="not_for_sale")
    if not access.renews:
        access.renews = True
        access.save(update_fields=["renews"])
    return access


def _end_renewal(access: RoomAccess, *, lapsed_at=None) -> None:
    access.renews, access.lapsed_at = False, lapsed_at or access.lapsed_at
    access.save(update_fields=["renews", "lapsed_at"])


@atomic_with_retry
def renew_room_access(*, access_id: int) -> str:
    """Renew one due monthly membership, or let it lapse. Idempotent per period.

    Only someone still in the room is charged: a member who left, was removed or
    banned (no active membership of the room and user, whichever membership row that
    is) is never charged, and their renewal ends. A renewal that cannot be paid lapses:
    the member leaves the room (as if they had left) and is told why.
    Locks: the access row, then the room (as joining and leaving do), so the member's
    state cannot change between the check and the charge.
    """
    now = timezone.now()
    access = (
        RoomAccess.objects.select_for_update().select_related("room").filter(pk=access_id).first()
    )
    if access is None or not access.renews or access.paid_until is None:
        return "skipped"
    if access.paid_until > now:
        return "not_due"
    room = Room.objects.select_for_update().get(pk=access.room_id)
    in_room = Membership.objects.filter(
        room_id=room.pk, user_id=access.user_id, state=Membership.State.ACTIVE
    ).exists()
    if not in_room or room.owner_id == access.user_id:
        _end_renewal(access)
        return "ended"
    price = RoomPrice.objects.filter(
        room_id=access.room_id, is_active=True, kind=RoomPrice.Kind.MONTHLY
    ).first()
    try:
        if price is None:
            raise InsufficientFundsError(_("The room no longer sells memberships."))
        with transaction.atomic():
            transfer = _charge(payer_id=access.user_id, room=room, price=price)
    except InsufficientFundsError:
        _end_renewal(access, lapsed_at=now)
        end_lapsed_membership(room_id=room.pk, user_id=access.user_id)
        notify_membership_lapsed(user_id=access.user_id, room=room)
        return "lapsed"
    period = settings.COMMERCE_MEMBERSHIP_PERIOD
    access.paid_until = max(access.paid_until, now) + period
    access.last_transfer = transfer
    access.save(update_fields=["paid_until", "last_transfer"])
    return "renewed"


def due_renewal_ids(*, limit: int = 500) -> list[int]:
    return list(
        RoomAccess.objects.filter(renews=True, paid_until__lte=timezone.now())
        .order_by("paid_until")
        .values_list("pk", flat=True)[:limit]
    )
