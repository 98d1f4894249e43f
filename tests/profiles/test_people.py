"""People search, follow suggestions, the discoverability setting and the block
confirmation: what a person finds, and what they must never find (a room nickname tied
to an account, someone who blocked them, someone who asked not to be listed)."""

import pytest

from profiles.models import Block, Follow, Profile
from profiles.services import block_user, follow_user
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    viewer = make_user("viewer", display_name="Viewer")
    return {
        "viewer": viewer,
        "minji": make_user("minji_kim", display_name="김민지 Minji"),
        "haruto": make_user("haruto", display_name="山田はると"),
        "mina": make_user("mina", display_name="Mina Park"),
    }


def handles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["handle"] for row in response.json()["results"]]


def test_search_matches_handles_and_names_case_and_cjk_inside_words(people):
    api = client_for(people["viewer"])
    assert handles(api.get("/api/v1/people/", {"q": "MINJI"})) == ["minji_kim"]
    assert handles(api.get("/api/v1/people/", {"q": "민지"})) == ["minji_kim"]
    assert handles(api.get("/api/v1/people/", {"q": "はると"})) == ["haruto"]
    assert handles(api.get("/api/v1/people/", {"q": "@haruto"})) == ["haruto"]
    # The handle matched whole comes first, then handles starting with it.
    assert handles(api.get("/api/v1/people/", {"q": "min"})) == ["mina", "minji_kim"]
    assert handles(api.get("/api/v1/people/", {"q": "mina"}))[0] == "mina"
    assert handles(api.get("/api/v1/people/", {"q": "  "})) == []
    # Never the viewer themself.
    assert handles(api.get("/api/v1/people/", {"q": "viewer"})) == []
    row = api.get("/api/v1/people/", {"q": "haruto"}).json()["results"][0]
    assert set(row) == {
        "handle",
        "display_name",
        "avatar",
        "status_message",
        "following",
        "follows_you",
    }


def test_search_respects_discoverability_and_blocks_both_ways(people):
    api = client_for(people["viewer"])
    Profile.objects.filter(user=people["mina"]).update(discoverable=False)
    assert handles(api.get("/api/v1/people/", {"q": "min"})) == ["minji_kim"]
    block_user(blocker=people["minji"], blocked=people["viewer"])
    assert handles(api.get("/api/v1/people/", {"q": "min"})) == []
    Block.objects.all().delete()
    block_user(blocker=people["viewer"], blocked=people["haruto"])
    assert handles(api.get("/api/v1/people/", {"q": "haruto"})) == []


def test_a_room_nickname_never_finds_the_account(people, make_room, make_member):
    room = make_room(owner=people["mina"], nickname="SecretFox")
    make_member(room, people["haruto"], nickname="NightOwl")
    api = client_for(people["viewer"])
    assert handles(api.get("/api/v1/people/", {"q": "SecretFox"})) == []
    assert handles(api.get("/api/v1/people/", {"q": "NightOwl"})) == []


def test_search_needs_an_account_and_a_sane_limit(people, api_client):
    assert api_client.get("/api/v1/people/", {"q": "min"}).status_code in (401, 403)
    api = client_for(people["viewer"])
    assert handles(api.get("/api/v1/people/", {"q": "m", "limit": 1})) == ["mina"]
    for bad in ("0", "51", "lots"):
        response = api.get("/api/v1/people/", {"q": "m", "limit": bad})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_limit"


def test_search_query_count_is_fixed(people, make_user, django_assert_num_queries):
    api = client_for(people["viewer"])
    with django_assert_num_queries(1):  # the user is forced (no session): the page
        api.get("/api/v1/people/", {"q": "a"})
    for number in range(5):
        make_user(f"another{number}", display_name=f"Ana {number}")
    with django_assert_num_queries(1):
        assert len(handles(api.get("/api/v1/people/", {"q": "a"}))) >= 7


def test_suggestions_come_from_follows_and_main_profile_rooms_only(
    people, make_user, make_room, make_member
):
    viewer, minji, haruto, mina = (people[k] for k in ("viewer", "minji", "haruto", "mina"))
    friend_of_friend = make_user("sora", display_name="Sora")
    fan = make_user("fan", display_name="Fan")
    follow_user(follower=viewer, followee=minji)
    follow_user(follower=minji, followee=friend_of_friend)
    follow_user(follower=fan, followee=viewer)
    # Both show their main profile in a public room: a suggestion.
    room = make_room(owner=viewer, nickname="V", is_open_profile=False)
    make_member(room, haruto, nickname="H", is_open_profile=False)
    # An open profile in the same room: never a suggestion (it would name the nickname).
    make_member(room, mina, nickname="M")
    api = client_for(viewer)
    response = api.get("/api/v1/people/suggestions/")
    rows = {row["handle"]: row for row in response.json()["results"]}
    assert list(rows) == ["fan", "sora", "haruto"]
    assert rows["fan"]["follows_you"] is True
    assert rows["sora"]["followed_by_count"] == 1
    assert rows["haruto"]["shared_room_count"] == 1
    # Already followed people are not suggested; nor people who chose not to be found.
    Profile.objects.filter(user=friend_of_friend).update(discoverable=False)
    follow_user(follower=viewer, followee=fan)
    assert handles(api.get("/api/v1/people/suggestions/")) == ["haruto"]


def test_an_open_profile_viewer_gets_no_suggestions_from_that_room(people, make_room, make_member):
    room = make_room(owner=people["haruto"], nickname="H", is_open_profile=False)
    make_member(room, people["viewer"], nickname="Quiet")  # an open profile
    assert handles(client_for(people["viewer"]).get("/api/v1/people/suggestions/")) == []


def test_discoverable_is_a_setting_in_the_api_and_the_preferences_page(people):
    api = client_for(people["viewer"])
    assert api.get("/api/v1/me/").json()["discoverable"] is True
    response = api.patch("/api/v1/me/", {"discoverable": False}, format="json")
    assert response.status_code == 200 and response.json()["discoverable"] is False
    web = client_for(people["viewer"], session=True)
    page = web.get("/settings/preferences/").content.decode()
    assert 'name="discoverable"' in page
    web.post("/settings/preferences/", {"timezone": "UTC", "locale": "", "discoverable": "on"})
    assert Profile.objects.get(user=people["viewer"]).discoverable is True


def test_people_page_searches_and_suggests(people):
    follow_user(follower=people["mina"], followee=people["viewer"])
    web = client_for(people["viewer"], session=True)
    page = web.get("/people/").content.decode()
    assert "/u/mina/" in page and "Follows you" in page
    page = web.get("/people/", {"q": "민지"}).content.decode()
    assert "김민지 Minji" in page and "/u/minji_kim/follow/" in page
    # Following from the list comes back to the list; an outside "next" does not.
    response = web.post("/u/minji_kim/follow/", {"next": "/people/?q=%EB%AF%BC%EC%A7%80"})
    assert response["Location"] == "/people/?q=%EB%AF%BC%EC%A7%80"
    response = web.post("/u/minji_kim/unfollow/", {"next": "https://evil.example/"})
    assert response["Location"] == "/u/minji_kim/"
    page = web.get("/people/", {"q": "<b>nobody</b>"}).content.decode()
    assert "Nobody matches “&lt;b&gt;nobody&lt;/b&gt;”" in page
    assert 'href="/rooms/"' in page
    # The nav links to it.
    assert 'href="/people/"' in web.get("/friends/").content.decode()


def test_friends_page_suggests_and_says_what_to_do_when_empty(people):
    web = client_for(people["viewer"], session=True)
    page = web.get("/friends/").content.decode()
    assert "Find people to follow" in page and "People you might know" not in page
    follow_user(follower=people["haruto"], followee=people["viewer"])
    page = web.get("/friends/").content.decode()
    assert "People you might know" in page and "/u/haruto/" in page


def test_block_asks_first_and_says_what_it_does(people):
    web = client_for(people["viewer"], session=True)
    follow_user(follower=people["viewer"], followee=people["mina"])
    profile = web.get("/u/mina/").content.decode()
    assert 'href="/u/mina/block/"' in profile
    page = web.get("/u/mina/block/").content.decode()
    assert "Block Mina Park (@mina)?" in page
    assert "They are not told." in page
    assert not Block.objects.exists()
    response = web.post("/u/mina/block/")
    assert response.status_code == 302
    assert Block.objects.filter(blocker=people["viewer"], blocked=people["mina"]).exists()
    assert not Follow.objects.exists()
    # Already blocked: back to the profile, which offers Unblock.
    assert web.get("/u/mina/block/")["Location"] == "/u/mina/"
