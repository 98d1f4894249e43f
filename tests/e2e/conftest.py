"""End-to-end fixtures on top of the browser harness (tests/support/browser.py, for the
whole suite): the real ASGI app under uvicorn, driven by headless Chromium."""

import pytest

from tests.support.accounts import TEST_PASSWORD


@pytest.fixture
def password():
    return TEST_PASSWORD
