"""Fixtures of the rooms tests."""

import pytest

from community.rooms import selectors


@pytest.fixture
def owner(make_user):
    """The owner of the room under test."""
    return make_user("owner")


@pytest.fixture
def discover_cache_kept(monkeypatch):
    """The shared discover and room-page caches kept for minutes instead of seconds, so
    a query-count pin measured after its warm-up request never finds them expired on a
    slow host."""
    monkeypatch.setattr(selectors, "DISCOVER_CACHE_SECONDS", 600)
