"""Language and place: the language order, the switcher, API errors in the requested
language, and money, numbers and relative times in the viewer's conventions."""

import json
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone, translation
from rest_framework import serializers

from tests.support.accounts import TEST_PASSWORD


def html_lang(response) -> str:
    text = response.content.decode()
    start = text.index("<html lang=") + len('<html lang="')
    return text[start : text.index('"', start)]


# --- language order ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [("ko-KR,ko;q=0.9,en;q=0.5", "ko"), ("ja", "ja"), ("fr-FR,fr", "en"), ("", "en")],
)
def test_accept_language_picks_the_page_language(client, db, header, expected):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)
    assert html_lang(response) == expected
    assert response["Content-Language"] == expected


def test_users_preference_beats_accept_language(client, make_user):
    make_user("minji", locale="ko")
    client.login(username="minji", password=TEST_PASSWORD)
    response = client.get("/discover/", HTTP_ACCEPT_LANGUAGE="ja")
    assert html_lang(response) == "ko"
    assert "방 둘러보기" in response.content.decode()


def test_user_without_preference_follows_accept_language(client, make_user):
    make_user("kenji", locale="")
    client.login(username="kenji", password=TEST_PASSWORD)
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="ja")) == "ja"


def test_switcher_sets_the_cookie_for_visitors(client, db):
    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "ja"
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="ko")) == "ja"


def test_switcher_saves_the_signed_in_users_language(client, make_user):
    user = make_user("sora", locale="ko")
    client.login(username="sora", password=TEST_PASSWORD)
    client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    user.refresh_from_db()
    assert user.locale == "ja"
    # Another device, no cookie, another Accept-Language: still the user's choice.
    other = client.__class__()
    other.login(username="sora", password=TEST_PASSWORD)
    assert html_lang(other.get("/", HTTP_ACCEPT_LANGUAGE="ko")) == "ja"


def test_switcher_ignores_unknown_languages(client, make_user):
    user = make_user("lee", locale="ko")
    client.login(username="lee", password=TEST_PASSWORD)
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    user.refresh_from_db()
    assert user.locale == "ko"


def test_switcher_is_on_every_page_without_inline_script(client, db):
    for url in ["/", "/rooms/", "/accounts/login/", "/accounts/signup/"]:
        text = client.get(url).content.decode()
        assert 'name="language"' in text and "/i18n/setlang/" in text, url
        assert "onchange=" not in text
        assert "js/locale.js" in text


def test_signup_remembers_the_page_language(client, db):
    from profiles.models import User

    client.post(
        "/accounts/signup/",
        {"username": "hana", "password": TEST_PASSWORD},
        HTTP_ACCEPT_LANGUAGE="ja",
    )
    assert User.objects.get(username="hana").locale == "ja"


# --- API errors in the requested language ---------------------------------------------


@pytest.mark.parametrize(
    ("language", "message"), [("ko", "방을 찾을 수 없어요."), ("ja", "ルームが見つかりません。")]
)
def test_api_service_error_in_accept_language(auth_client, language, message):
    response = auth_client.get("/api/v1/rooms/999999/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": message, "fields": {}}
    assert response["Content-Language"] == language


def test_api_accept_language_beats_the_users_preference(auth_client, user):
    user.locale = "ja"
    user.save(update_fields=["locale"])
    response = auth_client.get("/api/v1/rooms/999999/", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.json()["error"]["message"] == "방을 찾을 수 없어요."


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_api_validation_error_in_accept_language(auth_client, language):
    response = auth_client.post("/api/v1/rooms/", {}, format="json", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 400
    error = response.json()["error"]
    with translation.override(language):
        assert error["message"] == translation.gettext("Invalid input.")
        required = str(serializers.Field.default_error_messages["required"])
    assert error["message"] != "Invalid input."
    assert required != "This field is required."
    assert required in error["fields"]["title"]


def test_api_without_accept_language_is_english(auth_client):
    response = auth_client.get("/api/v1/rooms/999999/")
    assert response.json()["error"]["message"] == "Room not found."


# --- time zone, relative times, numbers, money ------------------------------------------


def test_signed_in_users_time_zone_is_active(client, make_user, settings):
    settings.DEBUG = False
    user = make_user("tzuser", timezone="Asia/Seoul")
    client.login(username="tzuser", password=TEST_PASSWORD)
    response = client.get("/")
    assert response.context["TIME_ZONE"] == "Asia/Seoul"
    assert user.timezone == "Asia/Seoul"


def test_visitors_browser_time_zone_cookie_is_used_when_valid(client, db):
    client.cookies["moim_tz"] = "Asia/Tokyo"
    assert client.get("/").context["TIME_ZONE"] == "Asia/Tokyo"
    client.cookies["moim_tz"] = "Mars/Olympus_Mons"
    assert client.get("/").context["TIME_ZONE"] == "UTC"


def render(source: str, language: str, **context) -> str:
    with translation.override(language):
        return Template(source).render(Context(context))


@pytest.mark.parametrize(
    ("language", "usd", "krw", "jpy"),
    [
        ("en", "$12.34", "₩1,234,567", "¥500"),
        ("ko", "US$12.34", "₩1,234,567", "JP¥500"),
        ("ja", "$12.34", "₩1,234,567", "￥500"),
    ],
)
def test_money_filter_uses_the_currency_exponent_and_the_locale(language, usd, krw, jpy):
    source = (
        "{% load moim_format %}{{ usd|money:'USD' }}|{{ krw|money:'KRW' }}|{{ jpy|money:'jpy' }}"
    )
    out = render(source, language, usd=1234, krw=1234567, jpy=500)
    assert out == f"{usd}|{krw}|{jpy}"


def test_money_filter_tolerates_empty_values():
    assert render("{% load moim_format %}[{{ x|money:'USD' }}]", "en", x=None) == "[]"
    assert render("{% load moim_format %}[{{ x|money:'USD' }}]", "en", x="abc") == "[]"


def test_number_filter_groups_digits():
    assert render("{% load moim_format %}{{ n|number }}", "ko", n=1234567) == "1,234,567"


@pytest.mark.parametrize(("language", "word"), [("ko", "전"), ("ja", "前")])
def test_relative_times_are_localised(language, word):
    then = timezone.now() - timedelta(hours=3)
    out = render("{% load humanize %}{{ then|naturaltime }}", language, then=then)
    assert word in out and "ago" not in out


@pytest.mark.parametrize(
    ("language", "text"),
    [("ko", "다시 로그인해 주세요."), ("ja", "もう一度ログインしてください。")],
)
def test_javascript_catalog_serves_the_scripts_strings(client, db, language, text):
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    source = response.content.decode()
    start = source.index("const newcatalog = ") + len("const newcatalog = ")
    catalog = json.JSONDecoder().raw_decode(source[start:])[0]
    assert catalog["Please log in again."] == text
