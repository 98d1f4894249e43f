import json

import pytest

from community.rooms.models import Interest
from profiles.models import StatusPost
from profiles.services import block_user, create_status_post, follow_user
from tests.community.media_samples import image_upload
from tests.support.accounts import TEST_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, user):
    client.force_login(user)
    return client


def test_pages_need_login(client, user):
    for url in ["/u/alice/", "/friends/", "/settings/profile/", "/settings/account/export/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"]


def test_profile_page_shows_profile_and_posts(web, make_user):
    bob = make_user("bob", display_name="Bob <b>Builder</b>")
    create_status_post(author=bob, body="Building <script>x</script>")
    response = web.get("/u/BOB/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Bob &lt;b&gt;Builder&lt;/b&gt;" in html
    assert "Building &lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html


def test_profile_page_of_someone_who_blocked_me_is_404(web, user, make_user):
    bob = make_user("bob")
    block_user(blocker=bob, blocked=user)
    assert web.get("/u/bob/").status_code == 404


@pytest.mark.parametrize("count", [3, 30])
def test_profile_page_query_count_is_fixed(web, make_user, count, django_assert_max_num_queries):
    bob = make_user("bob")
    bob.profile.interests.add(Interest.objects.create(slug="jazz", name_en="Jazz"))
    StatusPost.objects.bulk_create(StatusPost(author=bob, body=f"p{i}") for i in range(count))
    # + 4 at most for the posts' reaction summaries (community/reactions/selectors.py).
    with django_assert_max_num_queries(9 + 4):
        response = web.get("/u/bob/")
    assert response.content.decode().count('class="card status-post"') == min(count, 20)


def test_follow_unfollow_block_unblock_buttons(web, user, make_user):
    bob = make_user("bob")
    assert web.post("/u/bob/follow/").status_code == 302
    assert "Unfollow" in web.get("/u/bob/").content.decode()
    web.post("/u/bob/unfollow/")
    web.post("/u/bob/block/")
    page = web.get("/u/bob/").content.decode()
    assert "Unblock" in page
    assert "bob" in web.get("/settings/account/").content.decode()
    web.post("/u/bob/unblock/")
    from profiles import selectors

    assert not selectors.is_blocked(user, bob)


def test_follow_needs_post(web, make_user):
    make_user("bob")
    assert web.get("/u/bob/follow/").status_code == 405


def test_post_and_delete_a_status_from_the_profile_page(web, user):
    response = web.post("/posts/new/", {"body": "Hello page", "image": image_upload()})
    assert response.status_code == 302
    post = StatusPost.objects.get(author=user)
    assert post.image_media.kind == "image"
    assert "Hello page" in web.get("/u/alice/").content.decode()
    web.post(f"/posts/{post.pk}/delete/")
    assert not StatusPost.objects.exists()


def test_a_fake_image_shows_an_error_and_creates_nothing(web):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("a.png", b"not an image", content_type="image/png")
    response = web.post("/posts/new/", {"body": "x", "image": fake}, follow=True)
    assert "This kind of file is not supported" in response.content.decode()
    assert not StatusPost.objects.exists()


def test_edit_profile_page(web, user, make_user):
    make_user("taken")
    Interest.objects.create(slug="jazz", name_en="Jazz")
    response = web.post(
        "/settings/profile/",
        {"handle": "ＴＡＫＥＮ", "display_name": "A", "bio": "", "status_message": ""},
    )
    assert response.status_code == 200
    assert "This handle is taken." in response.content.decode()
    response = web.post(
        "/settings/profile/",
        {
            "handle": "앨리스",
            "display_name": "Alice",
            "bio": "Jazz fan",
            "status_message": "Here",
            "interests": ["jazz"],
            "languages": ["ko", "en"],
        },
    )
    assert response.status_code == 302
    user.profile.refresh_from_db()
    assert user.profile.handle == "앨리스"
    assert user.profile.languages == ["ko", "en"]
    assert [i.slug for i in user.profile.interests.all()] == ["jazz"]


def test_preferences_page_sets_language_and_time_zone(web, user, make_user):
    response = web.post("/settings/preferences/", {"locale": "ko", "timezone": "Asia/Seoul"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.locale, user.timezone) == ("ko", "Asia/Seoul")
    bob = make_user("bob")
    follow_user(follower=user, followee=bob)
    create_status_post(author=bob, body="time check")
    page = web.get("/friends/")
    assert page.wsgi_request.LANGUAGE_CODE == "ko"
    assert '<html lang="ko"' in page.content.decode()
    assert "+09:00" in page.content.decode()  # times shown in the user's time zone
    response = web.post("/settings/preferences/", {"locale": "", "timezone": "Nowhere/Land"})
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.timezone == "Asia/Seoul"


def test_friends_page_lists_the_feed(web, user, make_user, make_room, make_member):
    bob = make_user("bob")
    follow_user(follower=user, followee=bob)
    follow_user(follower=bob, followee=user)
    create_status_post(author=bob, body="bob was here")
    room = make_room(owner=make_user(), title="<b>Loud</b> jazz")
    make_member(room, bob, is_open_profile=False)
    html = web.get("/friends/").content.decode()
    assert "bob was here" in html
    assert f'<a href="/rooms/{room.pk}/">“&lt;b&gt;Loud&lt;/b&gt; jazz”</a>' in html
    assert web.get("/friends/?cursor=garbage").status_code == 302


def test_export_download(web, user):
    response = web.get("/settings/account/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["sections"]["profile"]["handle"] == "alice"


def test_delete_account_page(web, user, client):
    response = web.post(
        "/settings/account/", {"messages": "anonymise", "password": "wrong-password"}
    )
    assert response.status_code == 200
    assert "password is not correct" in response.content.decode()
    response = web.post("/settings/account/", {"messages": "delete", "password": TEST_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert client.get("/friends/").status_code == 302  # logged out
    assert not client.login(username="alice", password=TEST_PASSWORD)


def test_nav_links_for_signed_in_users(web):
    html = web.get("/").content.decode()
    assert 'href="/friends/"' in html
    assert 'href="/settings/profile/"' in html


@pytest.mark.parametrize("count", [3, 30])
def test_friends_page_query_count_is_fixed(
    web, user, make_user, make_room, make_member, count, django_assert_max_num_queries
):
    bob = make_user("bob")
    follow_user(follower=user, followee=bob)
    follow_user(follower=bob, followee=user)
    host = make_user("host")
    for i in range(count):
        StatusPost.objects.create(author=bob, body=f"post {i}")
        make_member(make_room(owner=host, title=f"room {i}"), bob, is_open_profile=False)
    # + 4 at most for the posts' reaction summaries (community/reactions/selectors.py).
    with django_assert_max_num_queries(6 + 4):
        response = web.get("/friends/")
    html = response.content.decode()
    assert html.count("feed-room-joined") + html.count('class="card status-post"') == min(
        2 * count, 20
    )
