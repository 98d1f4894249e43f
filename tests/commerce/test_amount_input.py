"""Amounts are typed and read in major units with the currency's own precision; the
database and the API keep minor units. The default currency is the person's own."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from commerce.models import Leg, RoomPrice, Transfer
from commerce.services import send_tip
from commerce.services.ledger import user_account
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def web_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def topup_form(client, amount, currency):
    page = client.get("/wallet/topup/")
    key = page.context["form"]["idempotency_key"].value()
    return client.post(
        "/wallet/topup/", {"amount": amount, "currency": currency, "idempotency_key": key}
    )


@pytest.mark.parametrize(
    ("typed", "currency", "minor", "shown"),
    [
        ("10", "USD", 1000, "$10.00"),
        ("10.5", "USD", 1050, "$10.50"),
        ("1,000", "KRW", 1000, "₩1,000"),
        ("1000", "JPY", 1000, "¥1,000"),
        ("$4.99", "USD", 499, "$4.99"),
    ],
)
def test_topup_is_typed_in_major_units(make_user, wallet_of, typed, currency, minor, shown):
    user = make_user(locale="en")
    client = web_for(user)
    response = topup_form(client, typed, currency)
    assert response.status_code == 302
    assert wallet_of(user, currency) == minor  # minor units in the database
    wallet = client.get("/wallet/", follow=True).content.decode()
    assert shown in wallet


@pytest.mark.parametrize(
    ("typed", "currency", "error"),
    [
        ("10.123", "USD", "USD takes at most 2 decimal places."),
        ("10.5", "KRW", "KRW has no smaller unit: enter a whole number."),
        ("0.5", "JPY", "JPY has no smaller unit: enter a whole number."),
        ("ten", "USD", "Enter an amount such as 10.50."),
        ("1,0", "KRW", "Enter an amount such as 1,000."),
        ("-5", "USD", "The amount must be positive."),
        ("1e999999", "USD", "The amount is too large."),
        ("NaN", "USD", "Enter an amount such as 10.50."),
    ],
)
def test_bad_amounts_are_a_form_error_and_move_nothing(make_user, typed, currency, error):
    user = make_user(locale="en")
    response = topup_form(web_for(user), typed, currency)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [error]
    assert not Transfer.objects.exists()


def test_amount_errors_are_translated(make_user):
    user = make_user(locale="ko")
    response = topup_form(web_for(user), "10.5", "KRW")
    assert response.status_code == 200
    (message,) = response.context["form"].errors["amount"]
    assert "KRW" in message and "has no smaller unit" not in message


def test_the_api_keeps_minor_units(make_user, client_for, wallet_of):
    user = make_user()
    response = client_for(user).post(
        "/api/v1/wallet/topups/",
        {"amount": 1050, "currency": "USD"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-minor",
    )
    assert response.status_code == 201
    assert response.json()["amount"] == 1050
    assert wallet_of(user, "USD") == 1050
    fraction = client_for(user).post(
        "/api/v1/wallet/topups/",
        {"amount": 10.5, "currency": "USD"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-fraction",
    )
    assert fraction.status_code == 400


@pytest.mark.parametrize(("currency", "selected"), [("USD", "USD"), ("JPY", "JPY"), ("", "USD")])
def test_topup_and_tip_default_to_my_currency(make_user, currency, selected):
    user = make_user(locale="en", currency=currency)
    client = web_for(user)
    for url in ("/wallet/topup/", "/wallet/tip/"):
        form = client.get(url).context["form"]
        assert form["currency"].value() == selected


def test_korean_account_without_a_choice_defaults_to_won(make_user):
    user = make_user(locale="ko")
    assert web_for(user).get("/wallet/topup/").context["form"]["currency"].value() == "KRW"


def test_tip_form_takes_major_units(make_user, fund, wallet_of):
    fan, creator = make_user(currency="USD"), make_user()
    fund(fan, 2000, "USD")
    client = web_for(fan)
    key = client.get("/wallet/tip/").context["form"]["idempotency_key"].value()
    response = client.post(
        "/wallet/tip/",
        {
            "user": creator.profile.handle,
            "amount": "2.50",
            "currency": "USD",
            "idempotency_key": key,
            "confirmed": "1",
        },
    )
    assert response.status_code == 302
    assert wallet_of(fan, "USD") == 2000 - 250
    flash = client.get("/wallet/").content.decode()
    assert "$2.50" in flash


def test_room_price_is_set_and_shown_in_major_units(make_user, make_room):
    owner = make_user(currency="USD")
    room = make_room(owner=owner)
    client = web_for(owner)
    url = f"/wallet/rooms/{room.pk}/price/"
    assert client.get(url).context["form"]["currency"].value() == "USD"
    response = client.post(
        url, {"kind": "monthly", "amount": "4.99", "currency": "USD", "is_active": "on"}
    )
    assert response.status_code == 302
    price = RoomPrice.objects.get(room=room)
    assert (price.amount, price.currency) == (499, "USD")
    assert client.get(url).context["form"]["amount"].value() == "4.99"
    too_precise = client.post(
        url, {"kind": "monthly", "amount": "4.999", "currency": "USD", "is_active": "on"}
    )
    assert too_precise.status_code == 200
    assert too_precise.context["form"].errors["amount"]
    buyer = make_user(locale="en")
    page = web_for(buyer).get(f"/wallet/rooms/{room.pk}/").content.decode()
    assert "$4.99" in page


def test_fee_examples_are_money_in_my_currency(make_user):
    page = web_for(make_user(locale="en", currency="USD")).get("/fees/").content.decode()
    assert "$12.34" in page and "$1.23" in page and "minor units" not in page


# --- Payouts while earnings are in the hold ---------------------------------------------


@pytest.fixture
def creator_in_hold(make_user, fund):
    fan, creator = make_user(), make_user(locale="en", timezone="Asia/Seoul")
    fund(fan, 50_000)
    send_tip(sender=fan, amount=10_000, currency="KRW", recipient_handle=creator.profile.handle)
    return creator


def test_payout_in_the_hold_says_how_much_and_until_when_on_the_web(creator_in_hold):
    client = web_for(creator_in_hold)
    page = client.get("/wallet/payout/")
    text = page.content.decode()
    assert "₩9,000 of your earnings is in the refund hold until" in text
    key = page.context["form"]["idempotency_key"].value()
    response = client.post(
        "/wallet/payout/", {"amount": "5,000", "currency": "KRW", "idempotency_key": key}
    )
    assert response.status_code == 200
    (error,) = response.context["form"].non_field_errors()
    assert "Only ₩0 is available for payout now." in error
    assert "₩9,000 of your earnings is in the refund hold until" in error
    assert "You can request ₩5,000 from" in error
    release = timezone.localtime(
        Leg.objects.get(account__user=creator_in_hold, account__kind="earnings_pending").created_at
        + timedelta(days=7),
        timezone=timezone.get_fixed_timezone(9 * 60),
    )
    assert str(release.day) in error and str(release.year) in error


def test_payout_in_the_hold_api_error_body_has_the_figures(creator_in_hold, client_for):
    response = client_for(creator_in_hold).post(
        "/api/v1/payouts/",
        {"amount": 5000, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="payout-hold",
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert "₩9,000" in error["message"]
    details = error["details"]
    assert details["currency"] == "KRW"
    assert (details["available"], details["held"]) == (0, 9000)
    credited = Leg.objects.get(
        account__user=creator_in_hold, account__kind="earnings_pending"
    ).created_at
    assert details["held_until"] == (credited + timedelta(days=7)).isoformat()
    assert details["available_on"] == (credited + timedelta(days=7)).isoformat()
    # More than will ever be released: no date to promise.
    more = client_for(creator_in_hold).post(
        "/api/v1/payouts/",
        {"amount": 50_000, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="payout-hold-2",
    )
    assert more.json()["error"]["details"]["available_on"] is None


def test_payout_without_any_earnings_says_so(make_user, client_for):
    response = client_for(make_user()).post(
        "/api/v1/payouts/",
        {"amount": 100, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="payout-none",
    )
    assert response.status_code == 422
    assert "details" not in response.json()["error"]


# --- Statement on phones ----------------------------------------------------------------


def test_statement_cells_are_labelled_for_stacked_rows(make_user, fund):
    user = make_user(locale="en", password=TEST_PASSWORD)
    fund(user, 1234, "USD")
    page = web_for(user).get("/wallet/statement/").content.decode()
    for label in ("Date", "Gross", "Platform fee", "Net", "Balance"):
        assert f'data-label="{label}"' in page
    assert user_account(user_id=user.pk, kind="wallet", currency="USD").balance == 1234


def test_payout_and_statement_pages_run_a_constant_number_of_queries(make_user, fund):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fan, creator = make_user(), make_user(locale="en")
    fund(fan, 100_000)
    fund(fan, 10_000, "USD")
    client = web_for(creator)

    def queries(url) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    send_tip(sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle)
    before = {url: queries(url) for url in ("/wallet/payout/", "/wallet/statement/")}
    for _ in range(5):
        send_tip(sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle)
    send_tip(sender=fan, amount=100, currency="USD", recipient_handle=creator.profile.handle)
    after = {url: queries(url) for url in ("/wallet/payout/", "/wallet/statement/")}
    assert after["/wallet/statement/"] == before["/wallet/statement/"]
    # One more currency in the hold adds its two look-ups; more tips add nothing.
    assert after["/wallet/payout/"] == before["/wallet/payout/"] + 2


def test_an_account_from_before_currencies_starts_in_the_currency_it_holds(make_user, fund):
    user = make_user(locale="")  # no currency chosen: an account from before
    fund(user, 5000, "KRW")
    assert web_for(user).get("/wallet/tip/").context["form"]["currency"].value() == "KRW"


def test_statement_lines_are_in_the_viewers_language(make_user, fund):
    user = make_user(locale="ko")
    fund(user, 5000)  # written while English was active
    page = web_for(user).get("/wallet/statement/").content.decode()
    assert "Top-up via" not in page and "충전" in page
