"""Signing test users in: the password every test user has, and the one client helper."""

from django.test import Client
from rest_framework.test import APIClient

TEST_PASSWORD = "a-long-test-password-42"


def client_for(user, *, session: bool = False) -> APIClient | Client:
    """A test client signed in as ``user``: an API client (``force_authenticate``, no
    token) by default; with ``session=True`` a browser-like client with a session cookie
    (``force_login``), for pages, forms and the admin. Also the ``client_for`` fixture
    of tests/conftest.py."""
    if session:
        client = Client()
        client.force_login(user)
        return client
    client = APIClient()
    client.force_authenticate(user)
    return client
