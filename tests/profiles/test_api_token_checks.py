"""An API token's signature and claims are checked once per process; its expiry, the
user's stamp (password change, "log out everywhere") and the account on every request."""

import time
from datetime import timedelta

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend

from profiles.models import User
from profiles.tokens import refresh_token_for

pytestmark = pytest.mark.django_db


def _bearer(access) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """The tokens simplejwt decoded (signature and claims checked), in order."""
    seen: list[str] = []
    decode = TokenBackend.decode

    def counting(self, token, verify=True):
        seen.append(token.decode() if isinstance(token, bytes) else token)
        return decode(self, token, verify=verify)

    monkeypatch.setattr(TokenBackend, "decode", counting)
    return seen


def test_a_token_is_decoded_once_then_reused(user, make_user, decodes):
    access = str(refresh_token_for(user).access_token)
    for _ in range(3):
        assert _bearer(access).get("/api/v1/me/").json()["username"] == "alice"
    other = str(refresh_token_for(make_user("bob")).access_token)
    assert _bearer(other).get("/api/v1/me/").json()["username"] == "bob"
    assert decodes == [access, other]


def test_a_tampered_token_is_never_kept(user, decodes):
    access = str(refresh_token_for(user).access_token)
    assert _bearer(access).get("/api/v1/me/").status_code == 200
    header, payload, signature = access.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    for _ in range(2):
        response = _bearer(forged).get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_not_valid"
    assert decodes == [access, forged, forged]


def test_a_kept_token_is_refused_once_it_expires(user):
    access = refresh_token_for(user).access_token
    access.set_exp(lifetime=timedelta(seconds=1))
    client = _bearer(access)
    assert client.get("/api/v1/me/").status_code == 200  # checked and kept
    time.sleep(1.2)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_a_kept_token_ends_with_a_password_change_and_with_the_account(user):
    client = _bearer(refresh_token_for(user).access_token)
    assert client.get("/api/v1/me/").status_code == 200
    user.set_password("a-brand-new-passphrase-77")
    user.save()
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"

    fresh = _bearer(refresh_token_for(user).access_token)
    assert fresh.get("/api/v1/me/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert fresh.get("/api/v1/me/").status_code == 401


def test_a_change_of_the_token_settings_checks_kept_tokens_again(user, settings, decodes):
    access = str(refresh_token_for(user).access_token)
    client = _bearer(access)
    assert client.get("/api/v1/me/").status_code == 200
    with override_settings(SIMPLE_JWT={**settings.SIMPLE_JWT, "LEEWAY": 5}):
        assert client.get("/api/v1/me/").status_code == 200
    assert decodes == [access, access]
