"""Paid rooms: an entry price or a monthly membership gates join_room."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from commerce.models import Account, RoomAccess, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import purchase_room_access, set_room_price
from community.rooms.models import Membership
from config.errors import DomainError, PermissionDeniedError

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_room(make_room, make_user):
    owner = make_user()
    room = make_room(owner=owner)
    set_room_price(actor=owner, room_id=room.pk, kind="entry", amount=1000, currency="KRW")
    return room


def test_only_the_owner_sets_a_price(make_room, make_user):
    room = make_room()
    with pytest.raises(PermissionDeniedError):
        set_room_price(actor=make_user(), room_id=room.pk, kind="entry", amount=5, currency="KRW")


def test_joining_a_paid_room_needs_payment(paid_room, make_user, make_member, fund, wallet_of):
    member = make_user()
    with pytest.raises(PermissionDeniedError) as caught:
        make_member(paid_room, member)
    assert caught.value.code == "payment_required"
    assert not Membership.objects.filter(room=paid_room, user=member).exists()
    fund(member, 1500)
    purchase_room_access(user=member, room_id=paid_room.pk)
    membership = make_member(paid_room, member)
    assert membership.state == Membership.State.ACTIVE
    assert wallet_of(member) == 500
    assert wallet_of(paid_room.owner, kind=Account.Kind.EARNINGS_PENDING) == 900
    # Paying again is never charged twice.
    purchase_room_access(user=member, room_id=paid_room.pk)
    assert wallet_of(member) == 500
    assert check_ledger() == []


def test_the_owner_joins_free_and_cannot_buy(paid_room):
    with pytest.raises(DomainError):
        purchase_room_access(user=paid_room.owner, room_id=paid_room.pk)


def test_buying_without_funds_grants_nothing(paid_room, make_user):
    member = make_user()
    with pytest.raises(DomainError) as caught:
        purchase_room_access(user=member, room_id=paid_room.pk)
    assert caught.value.code == "insufficient_funds"
    assert not RoomAccess.objects.exists()


def test_monthly_membership_renews_then_lapses(make_room, make_user, make_member, fund, wallet_of):
    owner, member = make_user(), make_user()
    room = make_room(owner=owner)
    set_room_price(actor=owner, room_id=room.pk, kind="monthly", amount=300, currency="KRW")
    fund(member, 700)
    access = purchase_room_access(user=member, room_id=room.pk)
    assert access.renews and access.paid_until > timezone.now()
    make_member(room, member)

    RoomAccess.objects.filter(pk=access.pk).update(paid_until=timezone.now() - timedelta(hours=1))
    call_command("commerce_jobs", only="renew")
    access.refresh_from_db()
    assert access.renews and access.paid_until > timezone.now() + timedelta(days=29)
    assert wallet_of(member) == 100
    assert Transfer.objects.filter(kind=Transfer.Kind.ROOM_MEMBERSHIP).count() == 2
    # Running the job again in the same period charges nothing.
    call_command("commerce_jobs", only="renew")
    assert wallet_of(member) == 100

    RoomAccess.objects.filter(pk=access.pk).update(paid_until=timezone.now() - timedelta(hours=1))
    call_command("commerce_jobs", only="renew")
    access.refresh_from_db()
    assert not access.renews and access.lapsed_at is not None
    assert wallet_of(member) == 100
    # A lapsed member who left cannot come back without paying.
    Membership.objects.filter(room=room, user=member).update(state=Membership.State.LEFT)
    with pytest.raises(PermissionDeniedError):
        make_member(room, member)
    assert check_ledger() == []


def test_room_access_page_pays_with_a_csrf_form(client, paid_room, make_user, fund):
    member = make_user()
    fund(member, 2000)
    client.force_login(member)
    url = f"/wallet/rooms/{paid_room.pk}/"
    page = client.get(url)
    assert b"csrfmiddlewaretoken" in page.content and b"idempotency_key" in page.content
    response = client.post(url, {"idempotency_key": "room-pay-1"})
    assert response.status_code == 302
    client.post(url, {"idempotency_key": "room-pay-1"})
    assert RoomAccess.objects.filter(user=member, room=paid_room).count() == 1
    assert Transfer.objects.filter(kind=Transfer.Kind.ROOM_ENTRY).count() == 1
