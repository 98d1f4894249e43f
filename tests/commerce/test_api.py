"""The wallet, statement, top-up, tip and payout API, with idempotency."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from commerce.models import Account, IdempotencyKey, Tip, Transfer
from commerce.services.idempotency import request_fingerprint
from commerce.services.ledger import user_account
from community.chat.models import Message

pytestmark = pytest.mark.django_db

TOPUPS = "/api/v1/wallet/topups/"
TIPS = "/api/v1/tips/"
PAYOUTS = "/api/v1/payouts/"


def post(client, url, data, key):
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_wallet_requires_authentication(api_client):
    assert api_client.get("/api/v1/wallet/").status_code == 401
    assert api_client.post(TOPUPS, {"amount": 1, "currency": "KRW"}).status_code == 401


def test_topup_credits_the_wallet_when_the_call_returns(auth_client, user):
    response = post(auth_client, TOPUPS, {"amount": 5000, "currency": "krw"}, "t-1")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "succeeded"
    assert response.json()["balance"]["wallet"] == 5000
    wallet = auth_client.get("/api/v1/wallet/").json()
    assert wallet["balances"] == [
        {
            "currency": "KRW",
            "available": 5000,
            "pending": 0,
            "wallet": 5000,
            "earnings_available": 0,
            "earnings_pending": 0,
            "payouts_held": 0,
        }
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "currency": "KRW"},
        {"amount": -5, "currency": "KRW"},
        {"amount": "1.5", "currency": "KRW"},
        {"amount": 100, "currency": "XXX"},
        {"currency": "KRW"},
    ],
)
def test_bad_topups_are_refused_with_the_error_shape(auth_client, body):
    response = post(auth_client, TOPUPS, body, "bad")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Transfer.objects.exists()


def test_money_calls_need_an_idempotency_key(auth_client):
    response = auth_client.post(TOPUPS, {"amount": 100, "currency": "KRW"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


def test_replay_returns_the_original_response_and_moves_money_once(auth_client, user):
    first = post(auth_client, TOPUPS, {"amount": 700, "currency": "KRW"}, "same")
    again = post(auth_client, TOPUPS, {"amount": 700, "currency": "KRW"}, "same")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Transfer.objects.filter(kind=Transfer.Kind.TOPUP).count() == 1
    assert user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW").balance == 700


def test_same_key_with_different_parameters_is_422(auth_client):
    post(auth_client, TOPUPS, {"amount": 700, "currency": "KRW"}, "k")
    response = post(auth_client, TOPUPS, {"amount": 701, "currency": "KRW"}, "k")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    # Same key on another money endpoint is a different request too.
    response = post(auth_client, PAYOUTS, {"amount": 700, "currency": "KRW"}, "k")
    assert response.status_code == 422


def test_duplicate_while_in_flight_is_409(auth_client, user):
    params = {"amount": 300, "currency": "KRW"}
    # The first request has claimed the key and is still running.
    IdempotencyKey.objects.create(
        user=user,
        key="busy",
        scope="topup",
        fingerprint=request_fingerprint(scope="topup", params=params),
        lock_token="other-process",
        locked_at=timezone.now(),
    )
    response = post(auth_client, TOPUPS, params, "busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"
    assert not Transfer.objects.exists()


def test_keys_are_scoped_per_user(make_user, client_for):
    alice, bob = make_user(), make_user()
    a = post(client_for(alice), TOPUPS, {"amount": 100, "currency": "KRW"}, "shared")
    b = post(client_for(bob), TOPUPS, {"amount": 200, "currency": "KRW"}, "shared")
    assert (a.status_code, b.status_code) == (201, 201)
    assert Transfer.objects.filter(kind=Transfer.Kind.TOPUP).count() == 2


def test_business_errors_are_replayed_too(auth_client):
    first = post(auth_client, TIPS, {"user": "nobody-here", "amount": 10, "currency": "KRW"}, "x")
    again = post(auth_client, TIPS, {"user": "nobody-here", "amount": 10, "currency": "KRW"}, "x")
    assert first.status_code == again.status_code == 404
    assert again.json() == first.json()


def test_tip_a_member_by_handle_splits_the_fee(make_user, client_for, fund, wallet_of):
    fan, creator = make_user(), make_user()
    fund(fan, 10_000)
    response = post(
        client_for(fan),
        TIPS,
        {"user": creator.profile.handle, "amount": 1005, "currency": "KRW"},
        "tip-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["fee"], body["net"]) == (1005, 100, 905)
    assert body["recipient"]["handle"] == creator.profile.handle
    assert wallet_of(fan) == 10_000 - 1005
    assert wallet_of(creator, kind=Account.Kind.EARNINGS_PENDING) == 905
    creator_wallet = client_for(creator).get("/api/v1/wallet/").json()["balances"][0]
    assert (creator_wallet["available"], creator_wallet["pending"]) == (0, 905)


def test_tip_without_funds_is_refused_and_replayed(make_user, client_for):
    fan, creator = make_user(), make_user()
    data = {"user": creator.profile.handle, "amount": 50, "currency": "KRW"}
    response = post(client_for(fan), TIPS, data, "broke")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert not Tip.objects.exists()


def test_tip_needs_exactly_one_target(auth_client):
    response = post(auth_client, TIPS, {"amount": 5, "currency": "KRW"}, "none")
    assert response.status_code == 400
    response = post(
        auth_client, TIPS, {"amount": 5, "currency": "KRW", "message": 1, "user": "x"}, "both"
    )
    assert response.status_code == 400


def test_cannot_tip_yourself(auth_client, user, fund):
    fund(user, 100)
    response = post(
        auth_client, TIPS, {"user": user.profile.handle, "amount": 5, "currency": "KRW"}, "me"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "self_tip"


def _message(room, membership, body="hello"):
    seq = room.last_message_seq + 1
    room.last_message_seq = seq
    room.save(update_fields=["last_message_seq"])
    return Message.objects.create(room=room, author=membership, body=body, seq=seq)


def test_tip_a_message_shows_the_room_nickname_not_the_main_profile(
    make_user, make_room, make_member, client_for, fund
):
    author, fan = make_user(), make_user()
    room = make_room()
    author_membership = make_member(room, author, nickname="secret-nick")
    make_member(room, fan, nickname="fan-nick")
    message = _message(room, author_membership)
    fund(fan, 1000)
    response = post(
        client_for(fan), TIPS, {"message": message.pk, "amount": 100, "currency": "KRW"}, "m1"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recipient"] == {"name": "secret-nick", "handle": None}
    assert author.profile.handle not in response.content.decode()
    statement = client_for(fan).get("/api/v1/wallet/transactions/").content.decode()
    assert "secret-nick" in statement and author.profile.handle not in statement
    # The author's statement names the tipper by their room nickname too.
    author_lines = client_for(author).get("/api/v1/wallet/transactions/").json()["results"]
    assert author_lines[0]["counterparty"] == "fan-nick"
    assert author_lines[0]["gross"] == 100 and author_lines[0]["fee"] == 10
    assert author_lines[0]["net"] == 90


def test_tip_a_message_with_a_shown_main_profile_names_the_handle(
    make_user, make_room, make_member, client_for, fund
):
    author, fan = make_user(), make_user()
    room = make_room()
    author_membership = make_member(room, author)
    author_membership.is_open_profile = False
    author_membership.save(update_fields=["is_open_profile"])
    make_member(room, fan)
    message = _message(room, author_membership)
    fund(fan, 1000)
    response = post(
        client_for(fan), TIPS, {"message": message.pk, "amount": 100, "currency": "KRW"}, "m2"
    )
    assert response.json()["recipient"]["handle"] == author.profile.handle


def test_tip_a_message_in_a_room_you_are_not_in_is_404(
    make_user, make_room, make_member, client_for, fund
):
    author, outsider = make_user(), make_user()
    room = make_room()
    message = _message(room, make_member(room, author))
    fund(outsider, 1000)
    response = post(
        client_for(outsider), TIPS, {"message": message.pk, "amount": 10, "currency": "KRW"}, "o"
    )
    assert response.status_code == 404
    assert not Tip.objects.exists()


def test_payout_holds_available_earnings(make_user, client_for, fund):
    from commerce.services.ledger import LegSpec, post_transfer, system_account

    creator = make_user()
    available = user_account(
        user_id=creator.pk, kind=Account.Kind.EARNINGS_AVAILABLE, currency="KRW"
    )
    post_transfer(
        kind=Transfer.Kind.ADJUSTMENT,
        legs=[
            LegSpec(
                account=system_account(kind=Account.Kind.PROVIDER_CLEARING, currency="KRW"),
                amount=-800,
            ),
            LegSpec(account=available, amount=800),
        ],
    )
    client = client_for(creator)
    response = post(client, PAYOUTS, {"amount": 500, "currency": "KRW"}, "p1")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "requested"
    balances = client.get("/api/v1/wallet/").json()["balances"][0]
    assert (balances["earnings_available"], balances["payouts_held"]) == (300, 500)
    too_much = post(client, PAYOUTS, {"amount": 301, "currency": "KRW"}, "p2")
    assert too_much.status_code == 422


def test_statement_lists_lines_with_running_balance(auth_client, user, fund):
    for amount in (100, 200, 300):
        fund(user, amount)
    lines = auth_client.get("/api/v1/wallet/transactions/").json()["results"]
    assert [line["net"] for line in lines] == [300, 200, 100]
    assert [line["balance"] for line in lines] == [600, 300, 100]
    assert lines[0]["kind"] == "topup" and lines[0]["account"] == "wallet"
    filtered = auth_client.get("/api/v1/wallet/transactions/?currency=USD").json()
    assert filtered["results"] == []
    bad = auth_client.get("/api/v1/wallet/transactions/?account=nope")
    assert bad.status_code == 400


@pytest.mark.parametrize("count", [3, 30])
def test_statement_api_runs_a_fixed_number_of_queries(
    auth_client, user, fund, count, django_assert_max_num_queries
):
    for _ in range(count):
        fund(user, 10)
    with django_assert_max_num_queries(4):
        response = auth_client.get("/api/v1/wallet/transactions/")
    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [3, 30])
def test_wallet_api_runs_a_fixed_number_of_queries(
    auth_client, user, fund, count, django_assert_max_num_queries
):
    for currency in ("KRW", "USD", "JPY", "EUR")[: 1 if count == 3 else 4]:
        fund(user, 10, currency)
    with django_assert_max_num_queries(2):
        auth_client.get(reverse("api:wallet"))


def test_a_suspended_account_cannot_move_money(make_user, client_for, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 1000)
    fan.suspended_until = timezone.now() + timedelta(days=1)
    fan.save(update_fields=["suspended_until"])
    client = client_for(fan)
    tip = post(client, TIPS, {"user": creator.profile.handle, "amount": 5, "currency": "KRW"}, "s1")
    topup = post(client, TOPUPS, {"amount": 5, "currency": "KRW"}, "s2")
    assert (tip.status_code, topup.status_code) == (403, 403)
    assert tip.json()["error"]["code"] == "suspended"
    assert not Tip.objects.exists()
