"""The session engine (config/sessions.py): Django's database sessions read through a
compiled query, with the same answers."""

import datetime as dt

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone


def signed_in(client: Client) -> bool:
    page = client.get("/discover/")
    assert page.status_code == 200
    return "data-moim-badge" in page.content.decode()  # the signed-in header only


def test_a_signed_in_session_is_read(client, user):
    client.force_login(user)
    assert signed_in(client)
    assert client.session[SESSION_KEY] == str(user.pk)


def test_an_expired_session_signs_nobody_in(client, user):
    client.force_login(user)
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(1))
    assert not signed_in(client)
    assert client.session.get(SESSION_KEY) is None


def test_an_unknown_or_odd_session_key_signs_nobody_in(client, user):
    for key in ("x" * 32, "'; select 1; --abcdef", "9" * 40):
        client.cookies["sessionid"] = key
        assert not signed_in(client)


def test_a_session_written_by_djangos_own_engine_is_read(client, user):
    """Sessions saved before the engine changed stay valid: same table, same encoding."""
    store = DjangoSessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    client.cookies["sessionid"] = store.session_key
    assert signed_in(client)
