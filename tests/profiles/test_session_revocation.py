"""A password change ends every other session and every API token (access tokens too,
at once); "log out everywhere" ends all of them, this one included, and the user's
open sockets."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from profiles.models import User
from tests.support.accounts import TEST_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-77"


def _tokens(username="alice", password=TEST_PASSWORD) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password})
    assert response.status_code == 200, response.json()
    return response.json()


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _refresh(refresh: str):
    return APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh})


def _web_session(username="alice", password=TEST_PASSWORD) -> Client:
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": username, "password": password}).status_code
        == 302
    )
    return client


def _signed_in(client: Client) -> bool:
    return client.get("/").context["user"].is_authenticated


def test_web_password_change_ends_other_sessions_and_every_token(user):
    stolen = _tokens()
    other_browser = _web_session()
    me = _web_session()

    response = me.post(
        "/accounts/password/",
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302

    assert _signed_in(me)  # this session carries on
    assert not _signed_in(other_browser)
    # The access token stops working at once, not when it expires.
    assert _bearer(stolen["access"]).get("/api/v1/me/").status_code == 401
    refused = _refresh(stolen["refresh"])
    assert refused.status_code == 401
    assert refused.json()["error"]["code"]


def test_a_refresh_token_rotated_before_the_change_is_dead_too(user):
    stolen = _tokens()
    rotated = _refresh(stolen["refresh"]).json()  # the thief keeps rotating
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {_tokens()['access']}")
    assert (
        me.post(
            "/api/v1/me/password/", {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}
        ).status_code
        == 200
    )
    assert _refresh(rotated["refresh"]).status_code == 401
    assert _bearer(rotated["access"]).get("/api/v1/me/").status_code == 401


def test_api_password_change_hands_this_client_a_new_pair(user):
    old = _tokens()
    response = _bearer(old["access"]).post(
        "/api/v1/me/password/", {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    fresh = response.json()
    assert _bearer(fresh["access"]).get("/api/v1/me/").status_code == 200
    assert _refresh(fresh["refresh"]).status_code == 200
    assert _bearer(old["access"]).get("/api/v1/me/").status_code == 401
    assert _refresh(old["refresh"]).status_code == 401
    # The new password logs in; the old one does not.
    assert _tokens(password=NEW_PASSWORD)["access"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"old_password": "wrong", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": TEST_PASSWORD, "new_password": "123"}, "new_password"),
        ({"old_password": TEST_PASSWORD}, "new_password"),
    ],
)
def test_api_password_change_refuses_bad_input_and_changes_nothing(user, payload, field):
    tokens = _tokens()
    response = _bearer(tokens["access"]).post("/api/v1/me/password/", payload)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    assert _refresh(tokens["refresh"]).status_code == 200


def test_log_out_everywhere_from_the_settings_page(user):
    phone = _tokens()
    laptop = _web_session()
    me = _web_session()
    page = me.get("/settings/account/").content.decode()
    assert "/settings/account/log-out-everywhere/" in page

    response = me.post("/settings/account/log-out-everywhere/")
    assert response.status_code == 302
    assert not _signed_in(me)
    assert not _signed_in(laptop)
    assert _bearer(phone["access"]).get("/api/v1/me/").status_code == 401
    assert _refresh(phone["refresh"]).status_code == 401
    # Logging in again works as ever.
    assert _signed_in(_web_session())


def test_log_out_everywhere_needs_a_post(user):
    me = _web_session()
    assert me.get("/settings/account/log-out-everywhere/").status_code == 405
    assert _signed_in(me)


def test_log_out_everywhere_through_the_api(user):
    phone, tablet = _tokens(), _tokens()
    browser = _web_session()
    response = _bearer(phone["access"]).post("/api/v1/auth/logout-everywhere/")
    assert response.status_code == 204
    for tokens in (phone, tablet):
        assert _bearer(tokens["access"]).get("/api/v1/me/").status_code == 401
        assert _refresh(tokens["refresh"]).status_code == 401
    assert not _signed_in(browser)
    assert APIClient().post("/api/v1/auth/logout-everywhere/").status_code == 401


def test_other_users_are_not_touched(user, make_user):
    make_user("bob")
    bobs = _tokens("bob")
    _bearer(_tokens()["access"]).post("/api/v1/auth/logout-everywhere/")
    assert _bearer(bobs["access"]).get("/api/v1/me/").status_code == 200
    assert _refresh(bobs["refresh"]).status_code == 200


def test_revoked_refresh_tokens_are_blacklisted(user):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

    _tokens(), _tokens()
    _bearer(_tokens()["access"]).post("/api/v1/auth/logout-everywhere/")
    assert BlacklistedToken.objects.filter(token__user=user).count() == 3


def test_tokens_without_a_credentials_stamp_are_refused(user):
    from rest_framework_simplejwt.tokens import RefreshToken

    bare = RefreshToken.for_user(User.objects.get(pk=user.pk))
    assert _bearer(str(bare.access_token)).get("/api/v1/me/").status_code == 401
    assert _refresh(str(bare)).status_code == 401


# The user behind a token is read through a query compiled once per process
# (profiles/tokens.py); simplejwt's checks answer the same.


def test_a_token_of_a_deactivated_account_is_refused(user):
    client = _bearer(_tokens()["access"])
    assert client.get("/api/v1/me/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_inactive"


def test_a_token_of_a_deleted_account_is_refused(user):
    client = _bearer(_tokens()["access"])
    User.objects.filter(pk=user.pk).delete()
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_not_found"


def test_a_token_with_a_numeric_user_claim_still_works(user):
    """simplejwt writes the id as a string; a token written with a number (older
    versions) names the same user."""
    from rest_framework_simplejwt.tokens import AccessToken

    access = AccessToken(_tokens()["access"])
    access["user_id"] = user.pk
    assert _bearer(str(access)).get("/api/v1/me/").json()["username"] == "alice"
