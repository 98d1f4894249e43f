import pytest
from django.contrib.auth import get_user_model

from tests.support.accounts import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def test_register_returns_the_user(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {"username": "haruto", "password": "a-good-long-passphrase", "email": "h@example.com"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "haruto"
    assert body["handle"] == "haruto"
    assert "password" not in body
    assert get_user_model().objects.get(username="haruto").check_password("a-good-long-passphrase")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "haruto", "password": "123"}, "password"),
        ({"username": "a", "password": "a-good-long-passphrase"}, "username"),
        ({"password": "a-good-long-passphrase"}, "username"),
        ({"username": "haruto", "password": "a-good-long-passphrase", "email": "nope"}, "email"),
    ],
)
def test_register_rejects_bad_input_with_one_error_shape(api_client, payload, field):
    response = api_client.post("/api/v1/auth/register/", payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert error["message"]
    assert not get_user_model().objects.exists()


def test_register_refuses_a_taken_username_case_insensitively(api_client, make_user):
    make_user("Haruto")
    response = api_client.post(
        "/api/v1/auth/register/", {"username": "haruto", "password": "a-good-long-passphrase"}
    )
    assert response.status_code == 400
    assert "username" in response.json()["error"]["fields"]


def test_token_refresh_rotation_and_logout(api_client, user):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    tokens = response.json()
    assert {"access", "refresh"} <= tokens.keys()

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.post("/api/v1/realtime/ticket/").status_code == 201
    api_client.credentials()

    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    new_refresh = refreshed.json()["refresh"]
    # Rotation blacklists the used refresh token.
    reused = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"]

    assert api_client.post("/api/v1/auth/logout/", {"refresh": new_refresh}).status_code == 200
    after_logout = api_client.post("/api/v1/auth/token/refresh/", {"refresh": new_refresh})
    assert after_logout.status_code == 401


def test_wrong_credentials_answer_401(api_client, user):
    response = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "bad"})
    assert response.status_code == 401
    assert response.json()["error"]["message"]


def test_token_endpoint_throttles_failed_logins(api_client, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "bad"})
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": TEST_PASSWORD}
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


def test_socket_ticket_requires_authentication(api_client):
    response = api_client.post("/api/v1/realtime/ticket/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
