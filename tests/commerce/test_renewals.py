"""Paid-room renewal: a lapse ends access, nobody who left or was banned is charged,
members cancel renewal (API and page), and a cancel racing the renewal is exact."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from commerce.models import Account, RoomAccess, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import cancel_renewal, purchase_room_access, set_room_price
from commerce.services.ledger import user_account
from commerce.services.rooms import renew_room_access
from community.moderation.services import check_ban_member
from community.notifications.models import Notification
from community.rooms.models import Membership
from config.errors import DomainError
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db

PRICE = 300


def wallet(user) -> int:
    return user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW").balance


def charges() -> int:
    return Transfer.objects.filter(kind=Transfer.Kind.ROOM_MEMBERSHIP).count()


def make_due(access: RoomAccess) -> None:
    RoomAccess.objects.filter(pk=access.pk).update(paid_until=timezone.now() - timedelta(hours=1))


@pytest.fixture
def member_of_paid_room(make_room, make_user, make_member, fund):
    """A member paid one month of a monthly room (300 KRW) and joined it."""

    def make(funds: int = PRICE):
        owner, member = make_user(), make_user()
        room = make_room(owner=owner)
        set_room_price(actor=owner, room_id=room.pk, kind="monthly", amount=PRICE, currency="KRW")
        fund(member, funds)
        access = purchase_room_access(user=member, room_id=room.pk)
        membership = make_member(room, member)
        assert membership.state == Membership.State.ACTIVE
        return room, member, access

    return make


def test_a_lapsed_renewal_ends_access(member_of_paid_room):
    room, member, access = member_of_paid_room(funds=PRICE)  # nothing left for month two
    api = client_for(member)
    assert api.get(f"/api/v1/rooms/{room.pk}/messages/").status_code == 200
    make_due(access)
    call_command("commerce_jobs", only="renew")
    access.refresh_from_db()
    assert not access.renews and access.lapsed_at is not None
    membership = Membership.objects.get(room=room, user=member)
    assert membership.state == Membership.State.LEFT
    room.refresh_from_db()
    assert room.member_count == 1  # the owner
    assert api.get(f"/api/v1/rooms/{room.pk}/messages/").status_code in (403, 404)
    rejoin = api.post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "again"}, format="json")
    assert rejoin.status_code == 403
    assert rejoin.json()["error"]["code"] == "payment_required"
    note = Notification.objects.get(recipient=member)
    assert note.kind == Notification.Kind.MEMBERSHIP_LAPSED and note.room_id == room.pk
    listed = api.get("/api/v1/notifications/").json()
    texts = [item["text"] for item in listed.get("results", listed)]
    assert any("renewal could not be paid" in text for text in texts)
    assert charges() == 1 and wallet(member) == 0
    assert check_ledger() == []


def test_a_member_who_left_is_never_charged(member_of_paid_room):
    room, member, access = member_of_paid_room(funds=10 * PRICE)
    assert client_for(member).post(f"/api/v1/rooms/{room.pk}/leave/").status_code in (200, 204)
    make_due(access)
    call_command("commerce_jobs", only="renew")
    access.refresh_from_db()
    assert not access.renews
    assert charges() == 1 and wallet(member) == 9 * PRICE
    call_command("commerce_jobs", only="renew")
    assert charges() == 1


def test_a_banned_member_is_never_charged(member_of_paid_room):
    room, member, access = member_of_paid_room(funds=10 * PRICE)
    membership = Membership.objects.get(room=room, user=member)
    check_ban_member(actor=room.owner, room_id=room.pk, member_id=membership.pk)
    make_due(access)
    call_command("commerce_jobs", only="renew")
    access.refresh_from_db()
    assert not access.renews
    assert charges() == 1 and wallet(member) == 9 * PRICE
    assert not Notification.objects.filter(kind=Notification.Kind.MEMBERSHIP_LAPSED).exists()


def test_a_banned_member_cannot_buy_the_room_again(member_of_paid_room, fund):
    room, member, access = member_of_paid_room(funds=PRICE)
    membership = Membership.objects.get(room=room, user=member)
    check_ban_member(actor=room.owner, room_id=room.pk, member_id=membership.pk)
    make_due(access)
    fund(member, PRICE)
    web = client_for(member, session=True)
    web.post(f"/wallet/rooms/{room.pk}/", {"idempotency_key": "buy-again"})
    assert charges() == 1 and wallet(member) == PRICE


def test_a_member_still_in_the_room_is_renewed(member_of_paid_room):
    room, member, access = member_of_paid_room(funds=10 * PRICE)
    make_due(access)
    call_command("commerce_jobs", only="renew")
    access.refresh_from_db()
    assert access.renews and access.paid_until > timezone.now() + timedelta(days=29)
    assert charges() == 2 and wallet(member) == 8 * PRICE
    assert Membership.objects.get(room=room, user=member).state == Membership.State.ACTIVE


def test_members_cancel_renewal_through_the_api(member_of_paid_room):
    room, member, access = member_of_paid_room(funds=10 * PRICE)
    api = client_for(member)
    url = f"/api/v1/wallet/rooms/{room.pk}/cancel-renewal/"
    first = api.post(url)
    assert first.status_code == 200, first.content
    assert first.json()["renews"] is False and first.json()["room"] == room.pk
    again = api.post(url)
    assert again.status_code == 200 and again.json() == first.json()
    # Access continues until the paid period ends, then nothing is charged.
    assert api.get(f"/api/v1/rooms/{room.pk}/messages/").status_code == 200
    make_due(access)
    call_command("commerce_jobs", only="renew")
    assert charges() == 1 and wallet(member) == 9 * PRICE
    # Someone without a membership of the room gets a 404, and so does a stranger room.
    assert client_for(room.owner).post(url).status_code == 404
    assert api.post("/api/v1/wallet/rooms/999999/cancel-renewal/").status_code == 404
    assert "cancel-renewal" in api.get("/api/schema/").content.decode()


def test_members_cancel_renewal_on_the_room_page(member_of_paid_room, settings):
    room, member, access = member_of_paid_room(funds=10 * PRICE)
    web = client_for(member, session=True)
    page = web.get(f"/wallet/rooms/{room.pk}/")
    assert b"Cancel renewal" in page.content
    response = web.post(f"/wallet/rooms/{room.pk}/cancel-renewal/", follow=True)
    assert b"Renewal cancelled" in response.content
    assert b"will not renew" in response.content and b"Cancel renewal" not in response.content
    access.refresh_from_db()
    assert not access.renews
    korean = web.get(f"/wallet/rooms/{room.pk}/", headers={"accept-language": "ko"})
    assert "갱신되지 않습니다".encode() in korean.content


def test_cancel_needs_a_post_and_a_monthly_membership(make_room, make_user, fund):
    owner, member = make_user(), make_user()
    room = make_room(owner=owner)
    set_room_price(actor=owner, room_id=room.pk, kind="entry", amount=PRICE, currency="KRW")
    fund(member, PRICE)
    purchase_room_access(user=member, room_id=room.pk)
    with pytest.raises(DomainError):
        cancel_renewal(user=member, room_id=room.pk)
    web = client_for(member, session=True)
    assert web.get(f"/wallet/rooms/{room.pk}/cancel-renewal/").status_code == 405


# --- a cancel racing the renewal, on PostgreSQL -------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("run", range(4))
def test_cancel_racing_the_renewal_charges_at_most_once(run, make_room, make_user, make_member):
    from commerce.services import create_topup

    owner, member = make_user(), make_user()
    room = make_room(owner=owner)
    set_room_price(actor=owner, room_id=room.pk, kind="monthly", amount=PRICE, currency="KRW")
    create_topup(user=member, amount=10 * PRICE, currency="KRW")
    access = purchase_room_access(user=member, room_id=room.pk)
    make_member(room, member)
    make_due(access)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}
    errors: list[BaseException] = []

    def cancel():
        try:
            barrier.wait()
            cancel_renewal(user=member, room_id=room.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def renew():
        try:
            barrier.wait()
            outcomes["renew"] = renew_room_access(access_id=access.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cancel), threading.Thread(target=renew)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    access.refresh_from_db()
    assert not access.renews
    if outcomes["renew"] == "renewed":  # the renewal locked first: one period charged
        assert charges() == 2 and wallet(member) == 8 * PRICE
        assert access.paid_until > timezone.now()
    else:  # the cancel locked first: nothing charged
        assert outcomes["renew"] == "skipped"
        assert charges() == 1 and wallet(member) == 9 * PRICE
    # Whatever the order, the job charges nothing more.
    assert renew_room_access(access_id=access.pk) == "skipped"
    assert charges() <= 2
    assert check_ledger() == []
