"""A NUL byte anywhere in a request answers 400 in one place (config/middleware.py),
never a 500 from PostgreSQL, which cannot compare text containing NUL."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/rooms/", {"q": "jazz\x00"}),
        ("/api/v1/rooms/", {"language": "k\x00o"}),
        ("/api/v1/rooms/", {"interest": "ja\x00zz"}),
        ("/api/v1/rooms/trending/", {"language": "k\x00"}),
        ("/api/v1/rooms/trending/", {"interest": "\x00"}),
        ("/api/v1/rooms/", {"q\x00": "jazz"}),
        ("/api/v1/users/ali%00ce/", {}),
        ("/api/v1/invites/abc%00def/", {}),
    ],
)
def test_api_answers_400_in_its_error_shape(auth_client, path, query):
    response = auth_client.get(path, query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_anonymous_api_requests_get_the_same_answer(api_client):
    response = api_client.get("/api/v1/rooms/", {"q": "\x00"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/rooms/", {"q": "jazz\x00"}),
        ("/u/ali%00ce/", {}),
        ("/invite/abc%00def/", {}),
    ],
)
def test_pages_answer_a_plain_400(client, user, path, query):
    client.force_login(user)
    response = client.get(path, query)
    assert response.status_code == 400


def test_a_nul_in_a_posted_form_field_is_refused(client, user):
    # Browsers post forms URL-encoded.
    response = client.post(
        "/accounts/login/",
        "username=ali%00ce&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400


def test_ordinary_requests_pass(auth_client):
    assert auth_client.get("/api/v1/rooms/", {"q": "jazz"}).status_code == 200
