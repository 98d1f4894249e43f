"""The layout's fixed links ({% layout_url %}, config/templatetags/layout.py) are
reversed once per process: they must still follow the script prefix the site is
served under and the URLconf in use."""

import re

import pytest
from django.test import Client, override_settings
from django.urls import get_script_prefix, set_script_prefix

pytestmark = pytest.mark.django_db


def test_the_layout_links_follow_the_script_prefix(client_for, make_user):
    client = client_for(make_user(), session=True)
    plain = client.get("/discover/").content.decode()
    assert 'href="/discover/"' in plain and 'action="/i18n/setlang/"' in plain
    # Served under /moim/ (the ASGI and WSGI handlers set the prefix per request; the
    # test client does not): the same links with the prefix, then without it again.
    before = get_script_prefix()
    set_script_prefix("/moim/")
    try:
        prefixed = client.get("/discover/").content.decode()
    finally:
        set_script_prefix(before)
    assert 'href="/moim/discover/"' in prefixed and 'href="/discover/"' not in prefixed
    assert 'action="/moim/i18n/setlang/"' in prefixed
    assert 'href="/discover/"' in client.get("/discover/").content.decode()


@override_settings(ROOT_URLCONF="tests.config.layout_urls")
def test_the_layout_links_follow_the_urlconf():
    page = Client().get("/elsewhere/discover/").content.decode()
    assert 'href="/elsewhere/manifest.webmanifest"' in page
    assert 'href="/elsewhere/accounts/login/"' in page
    assert 'action="/elsewhere/i18n/setlang/"' in page


def test_the_layout_static_files_follow_the_static_url():
    assert 'href="/static/css/moim.css"' in Client().get("/discover/").content.decode()
    with override_settings(STATIC_URL="/assets/"):
        page = Client().get("/discover/").content.decode()
    assert 'href="/assets/css/moim.css"' in page and 'src="/assets/js/moim.js"' in page
    assert "/static/" not in page
    assert 'href="/static/css/moim.css"' in Client().get("/discover/").content.decode()


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_the_language_switcher_selects_the_current_language(language):
    page = Client().get("/discover/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    options = re.findall(r'<option value="(\w+)" lang="\w+"( selected)?>([^<]+)</option>', page)
    assert [(code, name) for code, _selected, name in options] == [
        ("en", "English"),
        ("ko", "한국어"),
        ("ja", "日本語"),
    ]
    assert [code for code, selected, _name in options if selected] == [language]


def test_the_room_language_picker_selects_the_filter_in_use():
    def selected(url: str) -> list[str]:
        page = Client().get(url).content.decode()
        picker = page.split('id="room-language"', 1)[1].split("</select>", 1)[0]
        assert '<option value="zh-hant">' in picker or 'value="zh-hant" selected' in picker
        return re.findall(r'<option value="([\w-]+)" selected>', picker)

    assert selected("/discover/") == []
    assert selected("/rooms/?language=ko") == ["ko"]
    assert selected("/rooms/?language=zh-hant") == ["zh-hant"]
    assert selected("/rooms/?language=%22%3E%3Cx") == []  # not a language: none selected
