"""Paid rooms through the API: the price and my access, an idempotent purchase, then
joining; cancelling the renewal. Money stays in minor units."""

import pytest

from commerce.models import Transfer
from commerce.services import set_room_price
from community.rooms.services import create_invite

pytestmark = pytest.mark.django_db


@pytest.fixture
def monthly_room(make_room, make_user):
    owner = make_user()
    room = make_room(owner=owner)
    set_room_price(actor=owner, room_id=room.pk, kind="monthly", amount=499, currency="USD")
    return room


def buy(client, room, key, body=None):
    return client.post(
        f"/api/v1/wallet/rooms/{room.pk}/purchase/",
        body or {},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_price_purchase_join_and_cancel(monthly_room, make_user, client_for, fund, wallet_of):
    buyer = make_user()
    fund(buyer, 1000, "USD")
    app = client_for(buyer)
    state = app.get(f"/api/v1/wallet/rooms/{monthly_room.pk}/").json()
    assert state == {
        "room": monthly_room.pk,
        "price": {"kind": "monthly", "amount": 499, "currency": "USD"},
        "has_access": False,
        "access": None,
    }
    assert (
        app.post(f"/api/v1/rooms/{monthly_room.pk}/join/", {"nickname": "buyer"}).status_code == 403
    )
    first = buy(app, monthly_room, "buy-1")
    assert first.status_code == 201
    assert first.json()["kind"] == "monthly" and first.json()["renews"] is True
    replay = buy(app, monthly_room, "buy-1")
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    again = buy(app, monthly_room, "buy-2")  # a new key while access is current
    assert again.status_code == 201 and again.json() == first.json()
    assert wallet_of(buyer, "USD") == 1000 - 499  # charged once
    assert Transfer.objects.filter(kind=Transfer.Kind.ROOM_MEMBERSHIP).count() == 1
    joined = app.post(f"/api/v1/rooms/{monthly_room.pk}/join/", {"nickname": "buyer"})
    assert joined.status_code == 201
    cancelled = app.post(f"/api/v1/wallet/rooms/{monthly_room.pk}/cancel-renewal/")
    assert cancelled.json()["renews"] is False
    state = app.get(f"/api/v1/wallet/rooms/{monthly_room.pk}/").json()
    assert state["has_access"] is True and state["access"]["renews"] is False


def test_purchase_refusals(monthly_room, make_user, make_room, client_for, fund):
    poor = client_for(make_user())
    refused = buy(poor, monthly_room, "poor")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "insufficient_funds"
    no_key = poor.post(f"/api/v1/wallet/rooms/{monthly_room.pk}/purchase/", {}, format="json")
    assert no_key.status_code == 400
    free_room = make_room()
    assert buy(poor, free_room, "free").status_code == 404
    missing = poor.post(
        "/api/v1/wallet/rooms/999999/purchase/", {}, format="json", HTTP_IDEMPOTENCY_KEY="m"
    )
    assert missing.status_code == 404
    assert poor.get("/api/v1/wallet/rooms/999999/").status_code == 404


def test_a_private_room_is_missing_unless_invited(make_room, make_user, client_for, fund):
    owner = make_user()
    room = make_room(owner=owner, visibility="private")
    set_room_price(actor=owner, room_id=room.pk, kind="entry", amount=1000, currency="KRW")
    buyer = make_user()
    fund(buyer, 5000)
    app = client_for(buyer)
    assert app.get(f"/api/v1/wallet/rooms/{room.pk}/").status_code == 404
    assert buy(app, room, "outsider").status_code == 404
    invite = create_invite(room_id=room.pk, actor=owner)
    state = app.get(f"/api/v1/wallet/rooms/{room.pk}/?invite={invite.code}")
    assert state.status_code == 200 and state.json()["price"]["amount"] == 1000
    bought = buy(app, room, "invited", {"invite": invite.code})
    assert bought.status_code == 201 and bought.json()["paid_until"] is None
