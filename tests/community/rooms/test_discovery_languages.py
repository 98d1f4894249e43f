"""Discovery by the viewer's languages: search and browse put rooms in a language the
viewer reads first, the language filter narrows, for-you follows profile languages."""

from profiles.models import Profile
from tests.support.accounts import client_for


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [room["title"] for room in response.json()["results"]]


def make_three(make_room):
    # Created oldest first: without a language preference the newest (English) leads.
    make_room(title="바둑 두는 방", description="go baduk", language="ko")
    make_room(title="囲碁の部屋", description="go baduk", language="ja")
    make_room(title="Go players", description="go baduk", language="en")


def test_browse_puts_the_page_language_first(make_room, api_client):
    make_three(make_room)
    assert titles(api_client.get("/api/v1/rooms/", HTTP_ACCEPT_LANGUAGE="ja"))[0] == "囲碁の部屋"
    assert titles(api_client.get("/api/v1/rooms/", HTTP_ACCEPT_LANGUAGE="ko"))[0] == "바둑 두는 방"
    assert titles(api_client.get("/api/v1/rooms/", HTTP_ACCEPT_LANGUAGE="en"))[0] == "Go players"


def test_search_ranks_rooms_in_the_viewers_languages_first(make_room, make_user):
    make_three(make_room)
    viewer = make_user("reader", locale="ja")
    client = client_for(viewer)
    ranked = titles(client.get("/api/v1/rooms/", {"q": "baduk"}, HTTP_ACCEPT_LANGUAGE="ko"))
    # Page language (ko), then the account language (ja), then the rest.
    assert ranked == ["바둑 두는 방", "囲碁の部屋", "Go players"]


def test_profile_languages_count_for_signed_in_viewers(make_room, make_user):
    make_three(make_room)
    viewer = make_user("polyglot", locale="")
    Profile.objects.filter(user=viewer).update(languages=["ja"])
    client = client_for(viewer)
    ranked = titles(client.get("/api/v1/rooms/", {"q": "baduk"}, HTTP_ACCEPT_LANGUAGE="ko"))
    assert ranked[:2] == ["바둑 두는 방", "囲碁の部屋"]


def test_language_filter_keeps_only_that_language(make_room, api_client):
    make_three(make_room)
    assert titles(api_client.get("/api/v1/rooms/", {"language": "ja"})) == ["囲碁の部屋"]


def test_search_page_ranks_by_page_language(make_room, client):
    make_three(make_room)
    page = client.get("/rooms/", {"q": "baduk"}, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert page.index("囲碁の部屋") < min(page.index("바둑 두는 방"), page.index("Go players"))


def test_interest_names_follow_the_requested_language(api_client, db):
    from community.rooms.models import Interest

    Interest.objects.create(slug="jazz", name_en="Jazz", name_ko="재즈", name_ja="ジャズ")
    Interest.objects.create(slug="go", name_en="Go (board game)")  # no translation yet
    for language, jazz in [("ko", "재즈"), ("ja", "ジャズ"), ("en", "Jazz")]:
        response = api_client.get("/api/v1/interests/", HTTP_ACCEPT_LANGUAGE=language)
        names = {item["slug"]: item["name"] for item in response.json()["results"]}
        assert names == {"jazz": jazz, "go": "Go (board game)"}
