"""Search finds Korean and Japanese words (Hangul, hiragana, katakana, kanji) inside titles
and descriptions, full-width and half-width forms alike, on SQLite and PostgreSQL."""

import pytest


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [room["title"] for room in response.json()["results"]]


@pytest.fixture
def rooms(make_room, db):
    make_room(title="주말 등산 모임", description="북한산에서 만나요", language="ko")
    make_room(title="ジャズ喫茶の常連", description="レコードを聴きながらコーヒー", language="ja")
    make_room(title="ひらがなで話そう", description="にほんごのれんしゅう", language="ja")
    make_room(title="Café 東京", description="カフェ巡り ☕ and 🎷", language="en")
    make_room(title="شاي وكتب", description="نادي القراءة", language="ar")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("등산", ["주말 등산 모임"]),  # Hangul word inside a title
        ("북한산", ["주말 등산 모임"]),  # ... and inside a description
        ("喫茶", ["ジャズ喫茶の常連"]),  # kanji
        ("ジャズ", ["ジャズ喫茶の常連"]),  # katakana
        ("ｼﾞｬｽﾞ", ["ジャズ喫茶の常連"]),  # half-width katakana
        ("コーヒー", ["ジャズ喫茶の常連"]),  # katakana in a description
        ("れんしゅう", ["ひらがなで話そう"]),  # hiragana
        ("東京", ["Café 東京"]),
        ("CAFÉ", ["Café 東京"]),
        ("🎷", ["Café 東京"]),
        ("القراءة", ["شاي وكتب"]),  # Arabic
    ],
)
def test_search_api_finds_words_in_any_script(rooms, api_client, query, expected):
    assert titles(api_client.get("/api/v1/rooms/", {"q": query})) == expected


@pytest.mark.parametrize(
    ("query", "title"), [("등산", "주말 등산 모임"), ("喫茶", "ジャズ喫茶の常連")]
)
def test_search_page_finds_cjk(rooms, client, query, title):
    page = client.get("/rooms/", {"q": query}, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert title in page


def test_search_does_not_match_unrelated_cjk(rooms, api_client):
    assert titles(api_client.get("/api/v1/rooms/", {"q": "수영"})) == []
    assert titles(api_client.get("/api/v1/rooms/", {"q": "寿司"})) == []
