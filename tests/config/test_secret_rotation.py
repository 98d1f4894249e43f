"""Rotating SECRET_KEY (docs/operations.md): the old key in SECRET_KEY_FALLBACKS keeps
people signed in until it is dropped; without it every session ends."""

import pytest

from tests.config.django_process import run_django
from tests.support.accounts import client_for

OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG"
NEW_KEY = "new-secret-key-9876543210-zyxwvutsrqponmlkjihgfedcba-GFEDCBA"


@pytest.fixture
def signed_in(settings, make_user):
    settings.SECRET_KEY = OLD_KEY
    settings.SECRET_KEY_FALLBACKS = []
    client = client_for(make_user("rotating"), session=True)
    assert client.get("/api/v1/me/").status_code == 200
    return client


@pytest.mark.django_db
def test_the_old_key_as_a_fallback_keeps_sessions(signed_in, settings):
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_KEY]
    assert signed_in.get("/api/v1/me/").status_code == 200


@pytest.mark.django_db
def test_without_the_fallback_sessions_end(signed_in, settings):
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = []
    assert signed_in.get("/api/v1/me/").status_code in (401, 403)


def test_fallbacks_are_read_from_the_environment():
    probe = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.SECRET_KEY_FALLBACKS)"
    )
    result = run_django(probe, DEBUG="1", SECRET_KEY_FALLBACKS=f"{OLD_KEY},older-key")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == repr([OLD_KEY, "older-key"])
