import pytest
from django.contrib.auth import get_user_model

from tests.support.accounts import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_creates_account_with_profile_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "김서연", "email": "", "password": "a-good-long-passphrase"},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="김서연")
    assert user.profile.handle == "김서연"
    assert client.get("/").context["user"] == user


def test_signup_shows_errors_in_place(client, make_user):
    make_user("taken")
    response = client.post("/accounts/signup/", {"username": "TAKEN", "password": "123"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "This username is taken." in content
    assert get_user_model().objects.filter(username__iexact="taken").count() == 1


def test_login_and_logout(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").context["user"] == user
    # Log-out is a POST with the CSRF token, never a GET.
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert not client.get("/").context["user"].is_authenticated


def test_wrong_password_is_refused_in_place(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_failed_logins_are_throttled(client, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    # Even the right password is refused during the cool-down.
    response = client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert not client.get("/").context["user"].is_authenticated


def test_password_change(client, user):
    client.force_login(user)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": TEST_PASSWORD,
            "new_password1": "another-long-passphrase",
            "new_password2": "another-long-passphrase",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase")


def test_password_change_requires_login(client):
    response = client.get("/accounts/password/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_forms_are_csrf_protected(user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 403


def test_signup_picks_interests_in_the_same_step(client):
    from community.rooms.models import Interest

    jazz = Interest.objects.create(slug="jazz", name_en="Jazz", name_ko="재즈", name_ja="ジャズ")
    Interest.objects.create(slug="books", name_en="Books")
    page = client.get("/accounts/signup/").content.decode()
    assert 'value="jazz"' in page and 'value="books"' in page
    response = client.post(
        "/accounts/signup/",
        {"username": "jisoo", "password": "a-good-long-passphrase", "interests": ["jazz"]},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="jisoo")
    assert list(user.profile.interests.all()) == [jazz]


def test_signup_with_an_unknown_interest_writes_nothing(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "jisoo", "password": "a-good-long-passphrase", "interests": ["nope"]},
    )
    assert response.status_code == 200
    assert "interests" in response.context["form"].errors
    assert not get_user_model().objects.filter(username="jisoo").exists()


def test_signup_comes_back_to_the_page_that_asked_for_an_account(client):
    # The log-in sheet (static/js/moim.js) links here with ?next= the page it opened on.
    page = client.get("/accounts/signup/?next=/rooms/%3Fq%3Djazz").content.decode()
    assert '<input type="hidden" name="next" value="/rooms/?q=jazz">' in page
    response = client.post(
        "/accounts/signup/",
        {"username": "returner", "password": "a-good-long-passphrase", "next": "/rooms/?q=jazz"},
    )
    assert response["Location"] == "/rooms/?q=jazz"
    client.logout()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "elsewhere",
            "password": "a-good-long-passphrase",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"
