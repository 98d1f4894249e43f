"""Tips from a message or a member: the quote, the tip, and its `tip` message in the chat."""

import pytest

from commerce.models import Tip, Transfer
from community.chat.models import Message
from community.chat.services import send_message
from community.moderation.services import check_add_room_filter
from tests.support.accounts import client_for

TIPS = "/api/v1/tips/"
QUOTE = "/api/v1/tips/quote/"


@pytest.fixture
def tip_room(make_user, make_room, make_member, fund):
    """A room where Haruto (funded) tips Minji, whose main profile stays closed."""
    minji, haruto = make_user("minji_main"), make_user("haruto_main")
    room = make_room()
    minji_member = make_member(room, minji, nickname="Minji")
    haruto_member = make_member(room, haruto, nickname="Haruto")
    message = send_message(membership=minji_member, body="Played a new song tonight")
    fund(haruto, 20_000)
    return {
        "room": room,
        "minji": minji,
        "haruto": haruto,
        "minji_member": minji_member,
        "haruto_member": haruto_member,
        "message": message,
    }


def post_tip(client, data, key):
    return client.post(TIPS, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_tip_from_a_message_appears_in_the_chat_naming_both_by_nickname(
    tip_room, django_capture_on_commit_callbacks
):
    haruto = client_for(tip_room["haruto"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post_tip(
            haruto,
            {
                "message": tip_room["message"].pk,
                "amount": 1000,
                "currency": "KRW",
                "note": "Loved it!",
            },
            "tip-sheet-1",
        )
    assert response.status_code == 201, response.content
    assert response.json()["recipient"] == {"name": "Minji", "handle": None}
    tip_message = Message.objects.get(room=tip_room["room"], kind=Message.Kind.TIP)
    assert tip_message.author_id == tip_room["haruto_member"].pk
    assert tip_message.body == "Loved it!"
    assert tip_message.reply_to_id == tip_room["message"].pk
    assert Tip.objects.get().room_message_id == tip_message.pk
    # Every member reads it in the history: the amount and the recipient's nickname.
    history = client_for(tip_room["minji"]).get(f"/api/v1/rooms/{tip_room['room'].pk}/messages/")
    payload = next(m for m in history.json()["results"] if m["kind"] == "tip")
    assert payload["author"]["nickname"] == "Haruto"
    assert payload["tip"] == {
        "amount": 1000,
        "currency": "KRW",
        "exponent": 0,
        "display": "₩1,000",
        "recipient": {"membership_id": tip_room["minji_member"].pk, "nickname": "Minji"},
        "refunded": False,
    }
    # Open profiles stay closed: no handle or username anywhere in it.
    text = history.content.decode()
    for secret in ("minji_main", "haruto_main", tip_room["minji"].profile.handle):
        assert secret not in text


def test_a_tip_from_the_member_list_uses_the_membership(
    tip_room, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_tip(
            client_for(tip_room["haruto"]),
            {"membership": tip_room["minji_member"].pk, "amount": 5000, "currency": "KRW"},
            "member-tip",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["fee"], body["net"]) == (5000, 500, 4500)
    tip_message = Message.objects.get(kind=Message.Kind.TIP)
    assert tip_message.body == "" and tip_message.reply_to_id is None
    tip = Tip.objects.get()
    assert (tip.sender_membership_id, tip.recipient_membership_id) == (
        tip_room["haruto_member"].pk,
        tip_room["minji_member"].pk,
    )


def test_a_retried_tip_pays_and_posts_once(tip_room, django_capture_on_commit_callbacks, wallet_of):
    haruto = client_for(tip_room["haruto"])
    data = {"membership": tip_room["minji_member"].pk, "amount": 1000, "currency": "KRW"}
    with django_capture_on_commit_callbacks(execute=True):
        first = post_tip(haruto, data, "same-key")
    with django_capture_on_commit_callbacks(execute=True):
        again = post_tip(haruto, data, "same-key")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert Tip.objects.count() == 1
    assert Message.objects.filter(kind=Message.Kind.TIP).count() == 1
    assert wallet_of(tip_room["haruto"]) == 19_000


def test_the_tip_event_is_broadcast_to_the_room(
    tip_room, django_capture_on_commit_callbacks, layer_listener
):
    listener = layer_listener(tip_room["room"].group_name)
    with django_capture_on_commit_callbacks(execute=True):
        post_tip(
            client_for(tip_room["haruto"]),
            {"message": tip_room["message"].pk, "amount": 1000, "currency": "KRW"},
            "live",
        )
    event = listener.next_event()
    assert event["type"] == "message.created"
    assert event["message"]["kind"] == "tip"
    assert event["message"]["tip"]["recipient"]["nickname"] == "Minji"
    assert event["message"]["tip"]["amount"] == 1000


def test_outsiders_cannot_tip_or_quote_a_member(tip_room, make_user, fund):
    outsider = make_user()
    fund(outsider, 5000)
    client = client_for(outsider)
    member = tip_room["minji_member"].pk
    response = post_tip(client, {"membership": member, "amount": 100, "currency": "KRW"}, "o")
    assert response.status_code == 404
    assert client.get(QUOTE, {"membership": member}).status_code == 404
    # The same answer as a member that does not exist.
    assert client.get(QUOTE, {"membership": 999_999}).status_code == 404
    assert not Tip.objects.exists()


def test_a_blocked_note_is_refused_before_any_money_moves(tip_room, wallet_of):
    check_add_room_filter(
        actor=tip_room["room"].owner,
        room_id=tip_room["room"].pk,
        kind="word",
        text="scam",
        action="block",
    )
    response = post_tip(
        client_for(tip_room["haruto"]),
        {
            "membership": tip_room["minji_member"].pk,
            "amount": 100,
            "currency": "KRW",
            "note": "scam",
        },
        "bad-note",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "message_blocked"
    assert not Transfer.objects.filter(kind=Transfer.Kind.TIP).exists()
    assert wallet_of(tip_room["haruto"]) == 20_000


def test_a_tip_by_handle_takes_no_note(tip_room):
    response = post_tip(
        client_for(tip_room["haruto"]),
        {"user": tip_room["minji"].profile.handle, "amount": 100, "currency": "KRW", "note": "hi"},
        "handle-note",
    )
    assert response.status_code == 400
    assert not Tip.objects.exists()


def test_a_refused_tip_posts_nothing(tip_room, make_user, django_capture_on_commit_callbacks):
    broke = make_user()
    from community.rooms.services import join_room

    join_room(room_id=tip_room["room"].pk, user=broke, nickname="Broke")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_tip(
            client_for(broke),
            {"membership": tip_room["minji_member"].pk, "amount": 100, "currency": "KRW"},
            "broke",
        )
    assert response.status_code == 422
    assert not Message.objects.filter(kind=Message.Kind.TIP).exists()


@pytest.mark.parametrize(
    ("currency", "presets"),
    [
        ("KRW", ["₩1,000", "₩5,000", "₩10,000"]),
        ("USD", ["$1.00", "$5.00", "$10.00"]),
        ("JPY", ["¥100", "¥500", "¥1,000"]),
    ],
)
def test_the_quote_offers_presets_in_my_currency(tip_room, make_user, currency, presets):
    newcomer = make_user(currency=currency)
    from community.rooms.services import join_room

    join_room(room_id=tip_room["room"].pk, user=newcomer, nickname="Newcomer")
    response = client_for(newcomer).get(QUOTE, {"message": tip_room["message"].pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["recipient"] == {"membership_id": tip_room["minji_member"].pk, "name": "Minji"}
    assert body["currency"] == currency
    assert [preset["display"] for preset in body["presets"]] == presets
    assert body["quote"] is None


def test_the_quote_shows_fee_net_and_what_is_missing(tip_room):
    client = client_for(tip_room["haruto"])
    params = {"membership": tip_room["minji_member"].pk, "currency": "KRW"}
    enough = client.get(QUOTE, {**params, "amount": 10_000}).json()
    assert enough["balance"] == {"amount": 20_000, "display": "₩20,000"}
    assert enough["quote"]["fee"] == {"amount": 1000, "display": "₩1,000"}
    assert enough["quote"]["net"] == {"amount": 9000, "display": "₩9,000"}
    assert enough["quote"]["enough"] is True
    short = client.get(QUOTE, {**params, "amount": 25_000}).json()["quote"]
    assert short["enough"] is False
    assert short["shortfall"] == {"amount": 5000, "display": "₩5,000"}
    # Quoting moves no money.
    assert not Transfer.objects.filter(kind=Transfer.Kind.TIP).exists()


def test_the_quote_refuses_a_tip_to_myself(tip_room):
    response = client_for(tip_room["minji"]).get(QUOTE, {"message": tip_room["message"].pk})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "self_tip"


def test_others_react_to_a_tip(tip_room, make_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_tip(
            client_for(tip_room["haruto"]),
            {"membership": tip_room["minji_member"].pk, "amount": 1000, "currency": "KRW"},
            "react",
        )
    tip_message = Message.objects.get(kind=Message.Kind.TIP)
    response = client_for(tip_room["minji"]).post(
        f"/api/v1/messages/{tip_message.pk}/reactions/", {"emoji": "❤️"}, format="json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("count", [2, 12])
def test_history_with_tips_runs_a_fixed_number_of_queries(
    tip_room, count, django_capture_on_commit_callbacks, django_assert_num_queries
):
    haruto = client_for(tip_room["haruto"])
    for number in range(count):
        with django_capture_on_commit_callbacks(execute=True):
            post_tip(
                haruto,
                {"membership": tip_room["minji_member"].pk, "amount": 100, "currency": "KRW"},
                f"many-{number}",
            )
    minji = client_for(tip_room["minji"])
    url = f"/api/v1/rooms/{tip_room['room'].pk}/messages/"
    minji.get(url)  # warm the session, the token and the room's cached page
    # The room and one query for all the tips on it; the messages, their reactions and
    # read counts come from the room's cached page (community.chat.selectors.history_page).
    with django_assert_num_queries(2):
        response = minji.get(url)
    assert sum(1 for m in response.json()["results"] if m["kind"] == "tip") == count


def test_a_refunded_tip_says_so_in_the_chat(tip_room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_tip(
            client_for(tip_room["haruto"]),
            {"membership": tip_room["minji_member"].pk, "amount": 1000, "currency": "KRW"},
            "refund-me",
        )
    transfer = Tip.objects.get().transfer_id
    minji = client_for(tip_room["minji"])
    refund = minji.post(
        "/api/v1/refunds/", {"transfer": transfer}, format="json", HTTP_IDEMPOTENCY_KEY="r1"
    )
    assert refund.status_code == 201, refund.content
    history = minji.get(f"/api/v1/rooms/{tip_room['room'].pk}/messages/").json()["results"]
    assert next(m for m in history if m["kind"] == "tip")["tip"]["refunded"] is True


def test_the_sheet_starts_in_the_currency_my_wallet_holds(tip_room, make_user, fund):
    visitor = make_user(currency="USD")
    from community.rooms.services import join_room

    join_room(room_id=tip_room["room"].pk, user=visitor, nickname="Visitor")
    client = client_for(visitor)
    params = {"membership": tip_room["minji_member"].pk}
    # Nothing in the wallet: my own currency.
    assert client.get(QUOTE, params).json()["currency"] == "USD"
    fund(visitor, 5000, "KRW")
    body = client.get(QUOTE, params).json()
    assert (body["currency"], body["balance"]["amount"]) == ("KRW", 5000)
    fund(visitor, 100, "USD")
    assert client.get(QUOTE, params).json()["currency"] == "USD"


def test_a_tipper_who_left_before_the_post_keeps_the_paid_tip_without_a_message(
    tip_room, django_capture_on_commit_callbacks
):
    from community.rooms.services import leave_room

    with django_capture_on_commit_callbacks() as callbacks:
        response = post_tip(
            client_for(tip_room["haruto"]),
            {"membership": tip_room["minji_member"].pk, "amount": 1000, "currency": "KRW"},
            "then-leave",
        )
    assert response.status_code == 201
    leave_room(room_id=tip_room["room"].pk, user=tip_room["haruto"])
    for callback in callbacks:
        callback()
    tip = Tip.objects.get()
    assert tip.room_message_id is None
    assert not Message.objects.filter(kind=Message.Kind.TIP).exists()
