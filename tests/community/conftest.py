"""Fixtures for the community tests (rooms, chat, reactions, media, moderation,
notifications). Shared by the whole suite: tests/conftest.py (``make_room``,
``make_member``, ``room_with_two``, ``fresh_channel_layer``, ``client_for``, …) and the
browser harness (tests/support/browser.py). Plain helpers, imported by name:
``chat_support`` (sockets through the ASGI stack), ``browser_support`` (the chat page in
a browser), ``moderation_helpers``, ``media_samples``."""

import pytest

from tests.support.libretranslate import LibreTranslateServer


@pytest.fixture
def libretranslate(settings):
    """A local LibreTranslate-speaking server (tests/support/libretranslate.py), and the
    settings that make it the translation engine."""
    server = LibreTranslateServer().start()
    settings.TRANSLATION_ENGINE = "libretranslate"
    settings.LIBRETRANSLATE_URL = server.url
    settings.LIBRETRANSLATE_API_KEY = ""
    yield server
    server.stop()
