"""The API contract: one error shape on every 4xx path, session CSRF, schema, docs page."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.support.accounts import TEST_PASSWORD, client_for

ROOT = Path(__file__).resolve().parents[2]


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.mark.django_db
def test_unknown_api_url_is_a_json_404(api_client):
    assert_error_shape(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_pages_keep_their_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_wrong_method_is_405(auth_client):
    assert_error_shape(auth_client.put("/api/v1/wallet/", {}), 405, "method_not_allowed")


def test_unsupported_media_type_is_415(auth_client):
    response = auth_client.post("/api/v1/rooms/", "title=x", content_type="text/plain")
    assert_error_shape(response, 415, "unsupported_media_type")


def test_malformed_json_is_400(auth_client):
    response = auth_client.post("/api/v1/rooms/", "{not json", content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_a_non_object_body_is_400_not_500(api_client, db):
    response = api_client.post("/api/v1/auth/token/", [None, None], format="json")
    assert_error_shape(response, 400, "invalid")


def test_invalid_bearer_token_is_401_with_a_readable_message(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    error = assert_error_shape(api_client.get("/api/v1/wallet/"), 401, "token_not_valid")
    assert "{" not in error["message"]


def test_garbled_cursor_is_400(auth_client):
    response = auth_client.get("/api/v1/wallet/transactions/", {"cursor": "%%%garbage"})
    error = assert_error_shape(response, 400, "invalid")
    assert "cursor" in error["fields"]


def test_bad_filter_value_is_400_with_the_field(auth_client):
    response = auth_client.get("/api/v1/wallet/transactions/", {"account": "bogus"})
    assert "account" in assert_error_shape(response, 400, "invalid")["fields"]
    response = auth_client.get("/api/v1/rooms/", {"q": "x" * 500})
    assert "q" in assert_error_shape(response, 400, "invalid")["fields"]


def test_statement_filters_by_currency(auth_client):
    auth_client.post(
        "/api/v1/wallet/topups/",
        {"amount": 500, "currency": "KRW"},
        HTTP_IDEMPOTENCY_KEY="filter-topup",
    )
    krw = auth_client.get("/api/v1/wallet/transactions/", {"currency": "krw"}).json()
    usd = auth_client.get("/api/v1/wallet/transactions/", {"currency": "USD"}).json()
    assert krw["results"] and all(line["currency"] == "KRW" for line in krw["results"])
    assert usd["results"] == []


def test_throttled_answer_has_the_shape_and_retry_after(api_client, db, throttle_rates):
    throttle_rates(anon="2/min")
    statuses = [api_client.get("/api/v1/interests/").status_code for _ in range(2)]
    assert statuses == [200, 200]
    response = api_client.get("/api/v1/interests/")
    assert_error_shape(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_a_throttle_window_slides_and_refused_requests_are_not_counted(
    api_client, db, throttle_rates, monkeypatch
):
    """DRF's sliding log, whatever the cache (one round trip on Redis): a request
    counts for a minute after it was let through; a refused one never counts; the wait
    is the time until the oldest counted request leaves the window."""
    from rest_framework.throttling import SimpleRateThrottle

    now = [1_000_000.0]
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: now[0])
    throttle_rates(anon="2/min")

    def get(at: float):
        now[0] = at
        return api_client.get("/api/v1/interests/")

    assert [get(1_000_000.0).status_code, get(1_000_020.0).status_code] == [200, 200]
    refused = get(1_000_030.0)
    assert_error_shape(refused, 429, "throttled")
    assert refused["Retry-After"] == "30"  # the first request leaves at 1,000,060
    assert get(1_000_059.5).status_code == 429  # refusals are not counted...
    assert get(1_000_060.0).status_code == 200  # ...so the first one's place frees up
    assert get(1_000_060.5).status_code == 429  # the second counts until 1,000,080
    assert get(1_000_080.0).status_code == 200


def test_per_ip_throttle_counts_every_account_on_one_address(make_user, throttle_rates):
    throttle_rates(ip="3/min")
    statuses = []
    for n in range(4):
        client = client_for(make_user(f"sharer{n}"))
        statuses.append(client.get("/api/v1/wallet/").status_code)
    assert statuses == [200, 200, 200, 429]


def test_money_and_write_scopes_count_writes_only(auth_client, throttle_rates):
    throttle_rates(money="2/min", writes="1/min")
    topups = [
        auth_client.post(
            "/api/v1/wallet/topups/",
            {"amount": 100, "currency": "KRW"},
            HTTP_IDEMPOTENCY_KEY=f"scope-{n}",
        ).status_code
        for n in range(3)
    ]
    assert topups == [201, 201, 429]
    room = {"title": "Scoped", "nickname": "me"}
    assert auth_client.post("/api/v1/rooms/", room).status_code == 201
    assert_error_shape(auth_client.post("/api/v1/rooms/", room), 429, "throttled")
    # Reads are not counted against the write scope.
    assert auth_client.get("/api/v1/rooms/").status_code == 200


def test_session_auth_enforces_csrf_on_unsafe_methods(user):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=TEST_PASSWORD)
    assert client.get("/api/v1/wallet/").status_code == 200
    refused = client.post("/api/v1/rooms/", {"title": "T", "nickname": "n"}, format="json")
    assert "CSRF" in assert_error_shape(refused, 403, "permission_denied")["message"]

    page = client.get("/")  # any page sets the CSRF cookie
    token = page.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    assert token is not None
    accepted = client.post(
        "/api/v1/rooms/",
        {"title": "T", "nickname": "n"},
        format="json",
        HTTP_X_CSRFTOKEN=token.value,
    )
    assert accepted.status_code == 201, accepted.content


def test_bearer_tokens_need_no_csrf(api_client, user):
    tokens = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": TEST_PASSWORD}
    ).json()
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = client.post("/api/v1/rooms/", {"title": "T", "nickname": "n"}, format="json")
    assert response.status_code == 201, response.content


def test_logout_revokes_the_refresh_token_and_rotation_revokes_the_old_one(api_client, user):
    tokens = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": TEST_PASSWORD}
    ).json()
    rotated = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert rotated.status_code == 200
    reused = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert_error_shape(reused, 401, "token_not_valid")

    new_refresh = rotated.json()["refresh"]
    assert api_client.post("/api/v1/auth/logout/", {"refresh": new_refresh}).status_code == 200
    after = api_client.post("/api/v1/auth/token/refresh/", {"refresh": new_refresh})
    assert_error_shape(after, 401, "token_not_valid")


@pytest.mark.django_db
def test_schema_is_served_and_documents_the_error_component(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "ErrorResponse" in schema["components"]["schemas"]
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 39
    for path, method, operation in operations:
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), (method, path)
        assert "429" in responses, (method, path)
        for code, body in responses.items():
            if code.startswith("4"):
                ref = body["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (method, path, code)
                assert body["content"]["application/json"]["examples"]
        if "{" in path:
            assert "404" in responses, (method, path)


def test_swagger_ui_uses_only_local_assets(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in asset for asset in assets)
    for asset in assets:
        assert not re.match(r"^(https?:)?//", asset), asset
        assert asset.startswith("/"), asset
    assert "cdn" not in html.lower()


@pytest.mark.slow
def test_schema_validates_without_warnings(tmp_path):
    output = tmp_path / "schema.yml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert output.stat().st_size > 10_000


def test_ranked_room_lists_page_by_opaque_cursor(api_client, make_room):
    for n in range(3):
        make_room(title=f"Jazz room {n}")
    first = api_client.get("/api/v1/rooms/", {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["previous"] is None
    assert "cursor=" in first["next"] and "offset" not in first["next"]
    second = api_client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    seen = {room["id"] for room in first["results"] + second["results"]}
    assert len(seen) == 3
    back = api_client.get(second["previous"]).json()
    assert [room["id"] for room in back["results"]] == [room["id"] for room in first["results"]]
    garbled = api_client.get("/api/v1/rooms/", {"cursor": "***"})
    assert "cursor" in assert_error_shape(garbled, 400, "invalid")["fields"]


def test_a_suspicious_api_request_is_a_json_400(api_client, db, settings):
    # Too many form fields: Django refuses it before any view runs.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
    response = api_client.post(
        "/api/v1/auth/register/",
        "a=1&b=2&c=3&d=4",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error_shape(response, 400)


def test_server_errors_under_api_answer_json(rf):
    from config.api.errors import api_server_error

    response = api_server_error(rf.get("/api/v1/rooms/"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "server_error"
    assert api_server_error(rf.get("/rooms/"))["Content-Type"].startswith("text/html")
