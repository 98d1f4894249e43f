"""Paid rooms people can join: the price on cards, the room page and the room payload;
Join opens a checkout; hosts set the price from the room's settings; renewal cancels."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from commerce.models import RoomAccess
from commerce.services import purchase_room_access, set_room_price
from community.rooms.models import Membership
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def monthly_room(make_room, make_user):
    owner = make_user("owner_main")
    # Web-public: signed-out visitors see it (and its price) too.
    room = make_room(owner=owner, title="Night owls", is_web_public=True)
    set_room_price(actor=owner, room_id=room.pk, kind="monthly", amount=3000, currency="KRW")
    return room


@pytest.fixture
def entry_room(make_room, make_user):
    owner = make_user()
    room = make_room(owner=owner, title="Vinyl club")
    set_room_price(actor=owner, room_id=room.pk, kind="entry", amount=5000, currency="KRW")
    return room


def web(user):
    return client_for(user, session=True)


# --- the room payload --------------------------------------------------------------------


def test_the_room_payload_has_the_price_and_my_access(monthly_room, make_user, fund):
    url = f"/api/v1/rooms/{monthly_room.pk}/"
    body = APIClient().get(url).json()  # signed out: the price, no access
    assert body["price"] == {
        "amount": 3000,
        "currency": "KRW",
        "display": "₩3,000",
        "interval": "month",
    }
    assert body["access"] is None
    fan = make_user()
    fund(fan, 10_000)
    assert client_for(fan).get(url).json()["access"] is None
    purchase_room_access(user=fan, room_id=monthly_room.pk)
    access = client_for(fan).get(url).json()["access"]
    assert access["active"] is True and access["renews"] is True
    assert access["renews_at"] and access["cancelled"] is False and access["ends_at"] is None


def test_a_free_room_has_no_price(make_room):
    room = make_room(is_web_public=True)
    body = APIClient().get(f"/api/v1/rooms/{room.pk}/").json()
    assert body["price"] is None and body["access"] is None


def test_cancelling_renewal_shows_in_the_payload(monthly_room, make_user, fund):
    fan = make_user()
    fund(fan, 10_000)
    api = client_for(fan)
    api.post(
        f"/api/v1/wallet/rooms/{monthly_room.pk}/purchase/",
        {},
        format="json",
        HTTP_IDEMPOTENCY_KEY="buy",
    )
    cancel = api.post(f"/api/v1/wallet/rooms/{monthly_room.pk}/cancel-renewal/")
    assert cancel.status_code == 200
    assert cancel.json()["renews"] is False
    access = api.get(f"/api/v1/rooms/{monthly_room.pk}/").json()["access"]
    assert access["active"] is True and access["renews"] is False
    assert access["cancelled"] is True and access["ends_at"]
    # Cancelling again answers the same.
    assert api.post(f"/api/v1/wallet/rooms/{monthly_room.pk}/cancel-renewal/").status_code == 200


def test_an_expired_access_is_not_active(monthly_room, make_user, fund):
    fan = make_user()
    fund(fan, 10_000)
    access = purchase_room_access(user=fan, room_id=monthly_room.pk)
    RoomAccess.objects.filter(pk=access.pk).update(paid_until=timezone.now(), renews=False)
    body = client_for(fan).get(f"/api/v1/rooms/{monthly_room.pk}/").json()
    assert body["access"]["active"] is False


def test_the_owner_always_has_access(monthly_room):
    access = client_for(monthly_room.owner).get(f"/api/v1/rooms/{monthly_room.pk}/").json()
    assert access["access"]["active"] is True


@pytest.mark.parametrize("count", [3, 20])
def test_room_lists_with_prices_run_a_fixed_number_of_queries(
    count, make_room, make_user, fund, django_assert_num_queries
):
    viewer = make_user()
    fund(viewer, 1_000_000)
    for number in range(count):
        owner = make_user()
        room = make_room(owner=owner, title=f"Paid room {number}")
        if number % 2 == 0:
            set_room_price(
                actor=owner, room_id=room.pk, kind="monthly", amount=1000, currency="KRW"
            )
            if number % 4 == 0:
                purchase_room_access(user=viewer, room_id=room.pk)
    client = client_for(viewer)
    client.get("/api/v1/rooms/")  # warm the token
    # The rooms, interests, hashtags, viewer blocks, likes, and ONE query for the prices
    # and my access to them (commerce.selectors.room_offers), whatever the page's length.
    with django_assert_num_queries(6):
        response = client.get("/api/v1/rooms/")
    results = response.json()["results"]
    assert sum(1 for room in results if room["price"]) == (count + 1) // 2
    assert (
        sum(1 for room in results if room["access"] and room["access"]["active"])
        == (count + 3) // 4
    )


# --- pages -----------------------------------------------------------------------------------


def test_cards_and_the_room_page_show_price_and_terms(monthly_room, entry_room, make_user):
    client = web(make_user())
    search = client.get("/rooms/").content.decode()
    assert "₩3,000 a month" in search
    assert "₩5,000 once" in search
    page = client.get(f"/rooms/{monthly_room.pk}/info/").content.decode()
    assert "₩3,000 a month" in page
    assert "renewed from your wallet until you cancel" in page
    # Join opens the checkout, not a red error.
    assert f'href="/wallet/rooms/{monthly_room.pk}/"' in page
    assert "Join for ₩3,000 a month" in page


def test_join_on_a_paid_room_opens_the_checkout(entry_room, make_user):
    client = web(make_user())
    response = client.get(f"/rooms/{entry_room.pk}/join/")
    assert response.status_code == 302
    assert response["Location"] == f"/wallet/rooms/{entry_room.pk}/"


def test_checkout_short_of_money_links_a_top_up_that_comes_back(entry_room, make_user, fund):
    fan = make_user()
    fund(fan, 2000)
    client = web(fan)
    checkout = client.get(f"/wallet/rooms/{entry_room.pk}/")
    page = checkout.content.decode()
    assert "₩5,000 once" in page
    assert "₩2,000" in page  # the wallet
    assert "Your wallet is ₩3,000 short." in page
    topup_url = checkout.context["topup_url"]
    assert topup_url.startswith("/wallet/topup/?")
    assert "amount=3000" in topup_url and "currency=KRW" in topup_url
    assert f"next=%2Fwallet%2Frooms%2F{entry_room.pk}%2F" in topup_url
    # The top-up form is filled in, and it returns to the checkout.
    form = client.get(topup_url).context["form"]
    assert (form["amount"].value(), form["currency"].value()) == ("3000", "KRW")
    topped = client.post(
        topup_url,
        {"amount": "3000", "currency": "KRW", "idempotency_key": form["idempotency_key"].value()},
    )
    assert topped.status_code == 302
    assert topped["Location"] == f"/wallet/rooms/{entry_room.pk}/"
    assert "Pay ₩5,000 and join" in client.get(f"/wallet/rooms/{entry_room.pk}/").content.decode()


def test_checkout_pays_once_then_joins(entry_room, make_user, fund, wallet_of):
    fan = make_user()
    fund(fan, 6000)
    client = web(fan)
    key = client.get(f"/wallet/rooms/{entry_room.pk}/").context["form"]["idempotency_key"].value()
    paid = client.post(f"/wallet/rooms/{entry_room.pk}/", {"idempotency_key": key})
    assert paid.status_code == 302
    assert paid["Location"] == f"/rooms/{entry_room.pk}/join/"
    # A double submit replays: charged once.
    client.post(f"/wallet/rooms/{entry_room.pk}/", {"idempotency_key": key})
    assert wallet_of(fan) == 1000
    join = client.get(f"/rooms/{entry_room.pk}/join/")
    assert join.status_code == 200
    joined = client.post(
        f"/rooms/{entry_room.pk}/join/", {"nickname": "Vinyl fan", "is_open_profile": "on"}
    )
    assert joined.status_code == 302
    assert Membership.objects.filter(room=entry_room, user=fan, state="active").exists()


def test_a_top_up_never_returns_to_another_site(make_user):
    client = web(make_user())
    form = client.get("/wallet/topup/?next=https://evil.example/").context["form"]
    response = client.post(
        "/wallet/topup/?next=https://evil.example/",
        {"amount": "1000", "currency": "KRW", "idempotency_key": form["idempotency_key"].value()},
    )
    assert response["Location"] == "/wallet/"


def test_members_cancel_renewal_from_the_room_page(monthly_room, make_user, fund, make_member):
    fan = make_user()
    fund(fan, 10_000)
    purchase_room_access(user=fan, room_id=monthly_room.pk)
    make_member(monthly_room, fan)
    client = web(fan)
    page = client.get(f"/rooms/{monthly_room.pk}/info/").content.decode()
    assert "Your membership renews on" in page
    response = client.post(
        f"/wallet/rooms/{monthly_room.pk}/cancel-renewal/", {"next": f"/rooms/{monthly_room.pk}/"}
    )
    assert response["Location"] == f"/rooms/{monthly_room.pk}/"
    page = client.get(f"/rooms/{monthly_room.pk}/info/").content.decode()
    assert "will not renew" in page
    assert RoomAccess.objects.get(user=fan).renews is False


def test_hosts_find_the_price_in_the_room_settings(monthly_room, make_room, make_user):
    owner = monthly_room.owner
    client = web(owner)
    assert (
        f"/wallet/rooms/{monthly_room.pk}/price/"
        in client.get(f"/rooms/{monthly_room.pk}/edit/").content.decode()
    )
    page = client.get(f"/rooms/{monthly_room.pk}/info/").content.decode()
    assert "Change the price" in page
    free = make_room(owner=owner)
    assert "Charge for this room" in client.get(f"/rooms/{free.pk}/info/").content.decode()
    # Members who do not own the room see no price settings.
    other = make_user()
    assert (
        f"/wallet/rooms/{free.pk}/price/"
        not in web(other).get(f"/rooms/{free.pk}/info/").content.decode()
    )


def test_a_cancelled_renewal_can_be_resumed_while_the_month_lasts(monthly_room, make_user, fund):
    fan = make_user()
    fund(fan, 10_000)
    purchase_room_access(user=fan, room_id=monthly_room.pk)
    api = client_for(fan)
    base = f"/api/v1/wallet/rooms/{monthly_room.pk}"
    api.post(f"{base}/cancel-renewal/")
    resumed = api.post(f"{base}/resume-renewal/")
    assert resumed.status_code == 200, resumed.content
    assert resumed.json()["renews"] is True
    assert api.post(f"{base}/resume-renewal/").status_code == 200  # idempotent
    access = api.get(f"/api/v1/rooms/{monthly_room.pk}/").json()["access"]
    assert access["renews"] is True and access["cancelled"] is False
    # Once the month is over there is nothing to resume: buy again.
    api.post(f"{base}/cancel-renewal/")
    RoomAccess.objects.filter(user=fan).update(paid_until=timezone.now())
    ended = api.post(f"{base}/resume-renewal/")
    assert ended.status_code == 400
    assert ended.json()["error"]["code"] == "membership_ended"


def test_resume_needs_a_monthly_membership(entry_room, make_user, fund):
    fan = make_user()
    fund(fan, 10_000)
    purchase_room_access(user=fan, room_id=entry_room.pk)
    response = client_for(fan).post(f"/api/v1/wallet/rooms/{entry_room.pk}/resume-renewal/")
    assert response.status_code == 404


def test_members_keep_their_membership_from_the_room_page(
    monthly_room, make_user, fund, make_member
):
    fan = make_user()
    fund(fan, 10_000)
    purchase_room_access(user=fan, room_id=monthly_room.pk)
    make_member(monthly_room, fan)
    client = web(fan)
    room_url = f"/rooms/{monthly_room.pk}/"
    client.post(f"/wallet/rooms/{monthly_room.pk}/cancel-renewal/", {"next": room_url})
    # Members read the room's page (its price and their renewal) at room info; the room's
    # own address is their chat.
    info_url = f"/rooms/{monthly_room.pk}/info/"
    assert "Keep my membership" in client.get(info_url).content.decode()
    response = client.post(f"/wallet/rooms/{monthly_room.pk}/resume-renewal/", {"next": room_url})
    assert response["Location"] == room_url
    assert "Your membership renews on" in client.get(info_url).content.decode()
    assert RoomAccess.objects.get(user=fan).renews is True
