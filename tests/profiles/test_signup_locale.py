"""Sign-up takes the browser's time zone and the person's currency; both are one source
for every page afterwards and can be changed in the settings (and through the API)."""

import zoneinfo

import pytest
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format

from commerce.models import Leg
from commerce.services import create_topup
from profiles.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-good-long-passphrase"


def sign_up(client=None, **extra):
    client = client or Client()
    data = {"username": "newcomer", "email": "", "password": PASSWORD}
    data.update(extra.pop("data", {}))
    response = client.post("/accounts/signup/", data, **extra)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client, User.objects.get(username="newcomer")


def test_signup_form_has_the_hidden_browser_timezone_field(client):
    page = client.get("/accounts/signup/").content.decode()
    assert 'type="hidden" name="timezone"' in page and "data-browser-timezone" in page


def test_signup_keeps_the_browsers_time_zone():
    _client, user = sign_up(data={"timezone": "America/New_York"})
    assert user.timezone == "America/New_York"


@pytest.mark.parametrize("sent", ["Mars/Olympus_Mons", "../../etc/passwd", "x" * 64, "localtime"])
def test_an_unknown_browser_zone_falls_back_to_the_cookie_then_utc(sent):
    _client, user = sign_up(data={"timezone": sent})
    assert user.timezone == "UTC"
    User.objects.all().delete()
    client = Client()
    client.cookies["moim_tz"] = "Asia/Tokyo"
    _client, user = sign_up(client, data={"timezone": sent})
    assert user.timezone == "Asia/Tokyo"


def test_one_time_zone_on_every_page_after_signup():
    client, user = sign_up(data={"timezone": "America/New_York"})
    create_topup(user=user, amount=1000, currency="USD")
    for url in ("/wallet/", "/wallet/statement/", "/"):
        page = client.get(url).content.decode()
        assert 'data-time-zone="America/New_York"' in page  # chat.js formats with it
    line = Leg.objects.get(account__user=user)
    new_york = zoneinfo.ZoneInfo("America/New_York")
    with translation.override("en"):
        shown = date_format(line.created_at.astimezone(new_york), "SHORT_DATETIME_FORMAT")
    assert shown in client.get("/wallet/statement/").content.decode()


@pytest.mark.parametrize(
    ("accept_language", "currency"),
    [
        ("en-US,en;q=0.9", "USD"),
        ("ko-KR,ko;q=0.9,en;q=0.8", "KRW"),
        ("ja", "JPY"),
        ("de-DE,de;q=0.9", "EUR"),
        ("en-GB,en;q=0.9", "USD"),  # GBP is not taken: the language's own country
        ("", "USD"),
        ("zz-ZZ, *", "USD"),
    ],
)
def test_the_signup_currency_comes_from_the_browsers_locale(accept_language, currency):
    client = Client(HTTP_ACCEPT_LANGUAGE=accept_language)
    form = client.get("/accounts/signup/").context["form"]
    assert form["currency"].value() == currency
    _client, user = sign_up(client)
    assert user.currency == currency


def test_the_currency_chosen_at_signup_wins_and_is_changeable_in_settings():
    client, user = sign_up(
        Client(HTTP_ACCEPT_LANGUAGE="ko-KR"), data={"currency": "JPY", "timezone": "Asia/Seoul"}
    )
    assert user.currency == "JPY"
    assert client.get("/wallet/topup/").context["form"]["currency"].value() == "JPY"
    assert client.get("/settings/preferences/").context["form"]["currency"].value() == "JPY"
    response = client.post(
        "/settings/preferences/", {"locale": "ko", "timezone": "Asia/Seoul", "currency": "EUR"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.currency == "EUR"
    assert client.get("/wallet/tip/").context["form"]["currency"].value() == "EUR"
    bad = client.post(
        "/settings/preferences/", {"locale": "ko", "timezone": "Asia/Seoul", "currency": "XXX"}
    )
    assert bad.status_code == 200 and bad.context["form"].errors["currency"]


def test_api_register_takes_time_zone_and_currency(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {"username": "appuser", "password": PASSWORD, "timezone": "Asia/Tokyo"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ja-JP",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["timezone"], body["currency"], body["email_verified"]) == (
        "Asia/Tokyo",
        "JPY",
        False,
    )


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"timezone": "Mars/Base"}, "timezone"), ({"currency": "XYZ"}, "currency")],
)
def test_api_register_refuses_an_unknown_zone_or_currency(api_client, extra, field):
    response = api_client.post(
        "/api/v1/auth/register/",
        {"username": "appuser", "password": PASSWORD, **extra},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_api_me_reads_and_changes_the_currency(make_user, client_for):
    user = make_user(locale="ko")
    app = client_for(user)
    assert app.get("/api/v1/me/").json()["currency"] == "KRW"
    assert app.patch("/api/v1/me/", {"currency": "usd"}, format="json").json()["currency"] == (
        "USD"
    )
    bad = app.patch("/api/v1/me/", {"currency": "ZZZ"}, format="json")
    assert bad.status_code == 400 and "currency" in bad.json()["error"]["fields"]
