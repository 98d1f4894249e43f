"""The main pages rendered in Korean and Japanese show no English string from the catalog,
and user text carries ``dir="auto"`` so right-to-left names and titles display correctly."""

import html
import re

import polib
import pytest

from community.rooms.models import Interest
from tests.i18n_support import LOCALE_DIR
from tests.support.accounts import TEST_PASSWORD

# Shown in their own language on purpose (the language pickers use each name natively).
NATIVE_NAMES = {"English"}
TEXT_NODE = re.compile(r">([^<>]+)<")
ATTRIBUTE = re.compile(r'\s(?:placeholder|aria-label|title|alt|content)="([^"]*)"')
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S)


def english_msgids(language: str) -> tuple[set[str], set[str]]:
    """(every msgid whose translation differs, the ones long enough to find inside text)."""
    po = polib.pofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"))
    whole, phrases = set(), set()
    for entry in po.translated_entries():
        translation = entry.msgstr_plural.get(0) if entry.msgid_plural else entry.msgstr
        for msgid in filter(None, [entry.msgid, entry.msgid_plural]):
            if translation == msgid or msgid in NATIVE_NAMES or "%" in msgid:
                continue
            whole.add(msgid)
            if " " in msgid and len(msgid) >= 12:
                phrases.add(msgid)
    return whole, phrases


def untranslated(page: str, language: str) -> list[str]:
    whole, phrases = english_msgids(language)
    page = SCRIPT_OR_STYLE.sub("", page)
    pieces = [html.unescape(p).strip() for p in TEXT_NODE.findall(page) + ATTRIBUTE.findall(page)]
    found = {piece for piece in pieces if piece in whole}
    text = html.unescape(" ".join(pieces))
    found |= {phrase for phrase in phrases if phrase in text}
    return sorted(found)


@pytest.fixture
def world(make_user, make_room, make_member, db):
    owner = make_user("hyun")
    interest = Interest.objects.create(
        slug="jazz", name_en="Jazz", name_ko="재즈", name_ja="ジャズ", room_count=1
    )
    room = make_room(
        owner=owner,
        title="재즈 카페 ジャズ喫茶",
        description="מוזיקה 음악 音楽",
        language="ko",
        interests=[interest],
        hashtags=["비밥"],
        nickname="ليلى",
    )
    other = make_room(owner=owner, title="喫茶店の話", language="ja", interests=[interest])
    member = make_user("mina", locale="")
    make_member(room, member, nickname="민지")
    visitor = make_user("visitor", locale="")
    return {"room": room, "other": other, "member": member, "visitor": visitor}


def member_pages(room) -> list[str]:
    return [
        "/",
        "/rooms/",
        "/rooms/?q=재즈",
        "/rooms/?q=nothing-matches-this",
        f"/rooms/{room.pk}/",
        f"/rooms/{room.pk}/members/",
        f"/rooms/{room.pk}/me/",
        f"/rooms/{room.pk}/invite/",
        f"/rooms/{room.pk}/leave/",
        "/rooms/new/",
        "/accounts/password_change/",
        "/no-such-page/",
        "/u/mina/",
        "/u/hyun/",
        "/friends/",
        "/settings/profile/",
        "/settings/preferences/",
        "/settings/account/",
        "/wallet/",
        "/wallet/statement/",
        "/fees/",
        f"/wallet/rooms/{room.pk}/",
        "/appeals/",
        "/appeals/new/",
        f"/report/room/{room.pk}/",
    ]


def host_pages(room) -> list[str]:
    return [
        f"/rooms/{room.pk}/",
        f"/rooms/{room.pk}/edit/",
        f"/rooms/{room.pk}/members/",
        f"/rooms/{room.pk}/requests/",
        f"/rooms/{room.pk}/moderation/",
        f"/wallet/rooms/{room.pk}/price/",
    ]


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_member_pages_have_no_untranslated_strings(client, world, language):
    client.login(username="mina", password=TEST_PASSWORD)
    for url in member_pages(world["room"]):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code in (200, 404), url
        page = response.content.decode()
        assert f'<html lang="{language}"' in page, url
        assert untranslated(page, language) == [], url


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_host_pages_have_no_untranslated_strings(client, world, language):
    client.login(username="hyun", password=TEST_PASSWORD)
    for url in host_pages(world["room"]):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        assert untranslated(response.content.decode(), language) == [], url


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_visitor_and_signed_out_pages_have_no_untranslated_strings(client, world, language):
    room = world["room"]
    for url in ["/", "/rooms/", "/accounts/login/", "/accounts/signup/"]:
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert untranslated(page, language) == [], url
    # Form errors too.
    page = client.post(
        "/accounts/login/", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    assert untranslated(page, language) == []
    client.login(username="visitor", password=TEST_PASSWORD)
    for url in [f"/rooms/{room.pk}/", f"/rooms/{room.pk}/join/"]:
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert untranslated(page, language) == [], url


def test_the_check_catches_english(client, world):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Discover rooms" in untranslated(page, "ko")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ko", ["방 둘러보기", "지금 뜨는 방", "재즈", "멤버 1명"]),
        ("ja", ["ルームを探す", "いま話題", "ジャズ", "メンバー1人"]),
    ],
)
def test_known_strings_and_interest_names_are_localised(client, world, language, expected):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for text in expected:
        assert text in page


def test_user_text_is_marked_dir_auto(client, world):
    room = world["room"]
    client.login(username="mina", password=TEST_PASSWORD)
    page = client.get(f"/rooms/{room.pk}/members/").content.decode()
    assert '<span class="member-name" dir="auto">ليلى</span>' in page
    page = client.get(f"/rooms/{room.pk}/info/").content.decode()
    assert re.search(r'<h1 dir="auto">재즈 카페 ジャズ喫茶</h1>', page)
    assert re.search(r'<p class="room-description" dir="auto">מוזיקה', page)
    page = client.get("/discover/").content.decode()
    assert re.search(r'<h3 class="card-title" dir="auto">喫茶店の話</h3>', page)


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_admin_pages_have_no_untranslated_strings(client, world, language):
    from profiles.models import User

    User.objects.create_superuser("root", "root@example.com", TEST_PASSWORD)
    client.login(username="root", password=TEST_PASSWORD)
    room = world["room"]
    for url in [
        "/admin/",
        "/admin/community/room/",
        f"/admin/community/room/{room.pk}/change/",
        "/admin/community/interest/",
        "/admin/community/moderationcase/",
        "/admin/community/reaction/",
        "/admin/profiles/user/",
        f"/admin/profiles/user/{world['member'].pk}/change/",
    ]:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert f'<html lang="{language}"' in page, url
        # Django's own admin search icon has a fixed alt="Search" (not ours to translate).
        page = page.replace('alt="Search"', 'alt=""')
        # Permission names are stored in the database in English (Django's design).
        page = re.sub(r"Can (add|change|delete|view) [^<]*", "", page)
        assert untranslated(page, language) == [], url
