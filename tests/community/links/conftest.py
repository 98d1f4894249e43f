"""Fixtures of the link preview tests: a local web server the fetcher may reach."""

import pytest

from tests.support.web_pages import WebPages


@pytest.fixture
def web():
    """The tests' own web site on loopback (tests/support/web_pages.py)."""
    pages = WebPages().start()
    yield pages
    pages.stop()


@pytest.fixture
def previews_on(settings, web, media_dir, eager_tasks):
    """Link previews turned on, with ``web`` (and only it) reachable despite being on
    loopback and another port than 80/443."""
    settings.LINK_PREVIEWS_ENABLED = True
    settings.LINK_PREVIEW_ALLOWED_ADDRESSES = [web.address]
    settings.LINK_PREVIEW_TIMEOUT_SECONDS = 2
    return web


@pytest.fixture
def moderator_client(client, make_user):
    """The admin, signed in as a superuser moderator."""
    moderator = make_user("moderator")
    moderator.is_staff = moderator.is_superuser = True
    moderator.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(moderator)
    return client
