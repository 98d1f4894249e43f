"""Wallet pages: balance, top-up, tip, payout, statement (HTML and CSV), fee page."""

import pytest
from django.test import Client

from commerce.fees import split_fee
from commerce.models import Account, Transfer
from commerce.services.ledger import user_account
from tests.commerce.conftest import pending_earnings
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(user):
    client = client_for(user, session=True)
    return client


def test_wallet_pages_need_login(client):
    for url in ("/wallet/", "/wallet/topup/", "/wallet/tip/", "/wallet/statement/"):
        assert client.get(url).status_code == 302


def test_fee_page_is_public_and_states_the_rule(client):
    page = client.get("/fees/")
    assert page.status_code == 200
    assert b"10.0%" in page.content and b"rounded down" in page.content


@pytest.mark.parametrize(
    "gross,fee,net",
    [(1, 0, 1), (9, 0, 9), (10, 1, 9), (15, 1, 14), (19, 1, 18), (20, 2, 18), (1005, 100, 905)],
)
def test_fee_rounds_down_and_never_loses_a_unit(gross, fee, net):
    split = split_fee(gross)
    assert (split.fee, split.net) == (fee, net)
    assert split.fee + split.net == gross


def test_fee_rate_comes_from_settings(settings):
    settings.COMMERCE_PLATFORM_FEE_BPS = 250
    assert split_fee(1000).fee == 25
    assert split_fee(39).fee == 0  # 0.975 rounds down


def test_topup_form_is_csrf_protected_and_idempotent(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/wallet/topup/")
    assert b"csrfmiddlewaretoken" in page.content
    forged = client.post("/wallet/topup/", {"amount": 100, "currency": "KRW"})
    assert forged.status_code == 403
    token = client.cookies["csrftoken"].value
    data = {"amount": 100, "currency": "KRW", "idempotency_key": "form-1"}
    data["csrfmiddlewaretoken"] = token
    assert client.post("/wallet/topup/", data).status_code == 302
    assert client.post("/wallet/topup/", data).status_code == 302  # double submit
    assert Transfer.objects.filter(kind=Transfer.Kind.TOPUP).count() == 1
    wallet = client.get("/wallet/")
    assert "₩100" in wallet.content.decode()


def test_tip_form_shows_errors_in_place(web, user, make_user, fund):
    creator = make_user()
    data = {"user": creator.profile.handle, "amount": 50, "currency": "KRW"}
    page = web.post("/wallet/tip/", {**data, "idempotency_key": "w1", "confirmed": "1"})
    assert page.status_code == 200
    assert b"Insufficient funds" in page.content
    fund(user, 100)
    assert (
        web.post("/wallet/tip/", {**data, "idempotency_key": "w2", "confirmed": "1"}).status_code
        == 302
    )
    assert pending_earnings(creator.pk) == 45


def test_payout_form_holds_earnings(web):
    page = web.post("/wallet/payout/", {"amount": 5, "currency": "KRW", "idempotency_key": "p"})
    assert b"Insufficient funds" in page.content


@pytest.mark.parametrize("count", [3, 30])
def test_statement_page_runs_a_fixed_number_of_queries(
    web, user, fund, count, django_assert_max_num_queries
):
    for _ in range(count):
        fund(user, 10)
    with django_assert_max_num_queries(6):
        page = web.get("/wallet/statement/")
    assert page.content.count(b"<tr>") == count + 1
    with django_assert_max_num_queries(8):
        assert web.get("/wallet/").status_code == 200


def test_statement_pages_older_lines(web, user, fund):
    for _ in range(55):
        fund(user, 1)
    first = web.get("/wallet/statement/")
    assert first.content.count(b"<tr>") == 51
    assert first.context["next_before"]
    older = web.get(f"/wallet/statement/?before={first.context['next_before']}")
    assert older.content.count(b"<tr>") == 6


def test_statement_csv_has_gross_fee_net_and_running_balance(web, user, fund, make_user):
    fund(user, 1000)
    creator = make_user()
    web.post(
        "/wallet/tip/",
        {
            "user": creator.profile.handle,
            "amount": 300,
            "currency": "KRW",
            "idempotency_key": "c",
            "confirmed": "1",
        },
    )
    response = web.get("/wallet/statement.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0] == (
        "date,transfer,kind,description,counterparty,account,currency,gross,fee,net,balance"
    )
    assert rows[1].endswith(",wallet,KRW,1000,0,1000,1000")
    assert rows[2].endswith(",wallet,KRW,-300,0,-300,700")


def test_creator_refunds_a_tip_from_the_statement(make_user, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 1000)
    fan_web = client_for(fan, session=True)
    fan_web.post(
        "/wallet/tip/",
        {
            "user": creator.profile.handle,
            "amount": 200,
            "currency": "KRW",
            "idempotency_key": "r",
            "confirmed": "1",
        },
    )
    tip_transfer = Transfer.objects.get(kind=Transfer.Kind.TIP)
    creator_web = client_for(creator, session=True)
    page = creator_web.get("/wallet/statement/")
    assert f"/wallet/refund/{tip_transfer.pk}/".encode() in page.content
    # Only the recipient may refund it.
    fan_web.post(f"/wallet/refund/{tip_transfer.pk}/")
    assert not Transfer.objects.filter(reverses=tip_transfer).exists()
    assert creator_web.get(f"/wallet/refund/{tip_transfer.pk}/").status_code == 405
    creator_web.post(f"/wallet/refund/{tip_transfer.pk}/")
    assert Transfer.objects.filter(reverses=tip_transfer).count() == 1
    assert user_account(user_id=fan.pk, kind=Account.Kind.WALLET, currency="KRW").balance == 1000
    assert b"Refunded" in creator_web.get("/wallet/statement/").content


def test_owner_sets_a_room_price_on_a_page(make_room, make_user):
    from commerce.models import RoomPrice

    owner = make_user()
    room = make_room(owner=owner)
    owner_web = client_for(owner, session=True)
    url = f"/wallet/rooms/{room.pk}/price/"
    data = {"kind": "monthly", "amount": 500, "currency": "KRW", "is_active": "on"}
    assert owner_web.post(url, data).status_code == 302
    price = RoomPrice.objects.get(room=room)
    assert (price.kind, price.amount, price.is_active) == ("monthly", 500, True)
    stranger = client_for(make_user(), session=True)
    assert stranger.get(url).status_code == 403
    assert stranger.post(url, {**data, "amount": 1}).status_code == 403
    assert RoomPrice.objects.get(room=room).amount == 500


def test_a_refused_form_comes_back_with_a_fresh_key(web, user, make_user, fund):
    creator = make_user()
    data = {"user": creator.profile.handle, "amount": 50, "currency": "KRW"}
    refused = web.post("/wallet/tip/", {**data, "idempotency_key": "first", "confirmed": "1"})
    fresh_key = refused.context["form"]["idempotency_key"].value()
    assert fresh_key and fresh_key != "first"
    fund(user, 100)
    assert (
        web.post(
            "/wallet/tip/", {**data, "idempotency_key": fresh_key, "confirmed": "1"}
        ).status_code
        == 302
    )
    assert Transfer.objects.filter(kind=Transfer.Kind.TIP).count() == 1
