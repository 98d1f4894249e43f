"""One log-in failure policy (django-axes) on the web form, /admin/login/ and the API
token endpoint, keyed on the username and the client address from NUM_PROXIES."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests.support.accounts import TEST_PASSWORD, client_for

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


@pytest.fixture
def limit(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    return 3


@pytest.fixture
def staff(make_user):
    admin = make_user("boss")
    get_user_model().objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    return admin


def _admin_login(client, password, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": "boss", "password": password}, **extra
    )


def test_admin_login_is_locked_out_after_the_limit(client, staff, limit):
    for _ in range(limit):
        _admin_login(client, WRONG)
    response = _admin_login(client, TEST_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_admin_login_guesses_under_the_limit_still_let_the_owner_in(client, staff, limit):
    for _ in range(limit - 1):
        assert _admin_login(client, WRONG).status_code == 200
    response = _admin_login(client, TEST_PASSWORD)
    assert response.status_code == 302
    # A success clears the count: the next mistakes start again from zero.
    client.logout()
    for _ in range(limit - 1):
        assert _admin_login(client, WRONG).status_code == 200


def test_failures_on_one_form_count_on_every_other(staff, limit):
    web, admin, api = Client(), Client(), APIClient()
    web.post("/accounts/login/", {"username": "boss", "password": WRONG})
    _admin_login(admin, WRONG)
    api.post("/api/v1/auth/token/", {"username": "boss", "password": WRONG})
    assert _admin_login(admin, TEST_PASSWORD).status_code == 429
    response = api.post("/api/v1/auth/token/", {"username": "boss", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert (
        web.post("/accounts/login/", {"username": "boss", "password": TEST_PASSWORD}).status_code
        == 429
    )


def test_the_username_counts_case_insensitively(client, user, limit):
    for name in ("alice", "ALICE", "Alice"):
        client.post("/accounts/login/", {"username": name, "password": WRONG})
    response = client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 429


def test_another_address_is_not_locked_out(user, limit):
    attacker, owner = Client(REMOTE_ADDR="203.0.113.9"), Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(limit):
        attacker.post("/accounts/login/", {"username": "alice", "password": WRONG})
    assert (
        attacker.post(
            "/accounts/login/", {"username": "alice", "password": TEST_PASSWORD}
        ).status_code
        == 429
    )
    response = owner.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 302


def test_a_forged_forwarded_for_does_not_reset_the_count(user, limit, settings):
    settings.NUM_PROXIES = 0
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    for n in range(limit):
        client.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": WRONG},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": TEST_PASSWORD},
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_behind_one_proxy_the_address_it_appended_counts(user, limit, settings):
    settings.NUM_PROXIES = 1
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")
    # The attacker writes a different left-hand address each time; the proxy appends
    # the real one, which is what counts.
    for n in range(limit):
        proxy.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": WRONG},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9",
        )
    locked = proxy.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": TEST_PASSWORD},
        HTTP_X_FORWARDED_FOR="192.0.2.200, 203.0.113.9",
    )
    assert locked.status_code == 429
    # Someone else behind the same proxy is another client.
    other = proxy.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": TEST_PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert other.status_code == 200


def test_api_ip_throttle_ignores_a_forged_forwarded_for(api_client, throttle_rates, settings):
    settings.NUM_PROXIES = 0
    throttle_rates(ip="2/min")
    for n in range(2):
        assert (
            api_client.get("/api/v1/rooms/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code == 200
        )
    response = api_client.get("/api/v1/rooms/", HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429


def test_api_ip_throttle_behind_one_proxy_uses_the_appended_address(
    api_client, throttle_rates, settings
):
    settings.NUM_PROXIES = 1
    throttle_rates(ip="2/min")
    for n in range(2):
        api_client.get("/api/v1/rooms/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.9")
    assert (
        api_client.get("/api/v1/rooms/", HTTP_X_FORWARDED_FOR="10.0.0.7, 203.0.113.9").status_code
        == 429
    )
    assert api_client.get("/api/v1/rooms/", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 200


def test_guessing_the_current_password_on_the_change_form_counts(client, user, limit):
    client.force_login(user)
    for _ in range(limit - 1):
        response = client.post(
            "/accounts/password/",
            {
                "old_password": WRONG,
                "new_password1": "x-new-pass-1234",
                "new_password2": "x-new-pass-1234",
            },
        )
        assert response.status_code == 200
    response = client.post(
        "/accounts/password/",
        {
            "old_password": WRONG,
            "new_password1": "x-new-pass-1234",
            "new_password2": "x-new-pass-1234",
        },
    )
    assert response.status_code == 429
    # Locked out: even the right current password is refused, and logging in too.
    response = client.post(
        "/accounts/password/",
        {
            "old_password": TEST_PASSWORD,
            "new_password1": "x-new-pass-1234",
            "new_password2": "x-new-pass-1234",
        },
    )
    assert response.status_code != 302
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    assert (
        Client()
        .post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
        .status_code
        == 429
    )


def test_guessing_the_current_password_through_the_api_counts(user, limit):
    client = client_for(user)
    for _ in range(limit):
        client.post(
            "/api/v1/me/password/", {"old_password": WRONG, "new_password": "x-new-pass-1234"}
        )
    response = client.post(
        "/api/v1/me/password/", {"old_password": TEST_PASSWORD, "new_password": "x-new-pass-1234"}
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
