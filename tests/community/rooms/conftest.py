"""Fixtures of the rooms tests."""

import pytest


@pytest.fixture
def owner(make_user):
    """The owner of the room under test."""
    return make_user("owner")
