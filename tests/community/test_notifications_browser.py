"""badge.js and mentions.js in a real browser against the in-process ASGI server: the
nav badge and the page title change without a reload, and a mention of me is
highlighted as text. Skipped without Playwright + Chromium."""

import pytest

from tests.community.chat_support import fresh_channel_layer  # noqa: F401 (fixture)
from tests.community.test_chat_browser import (  # noqa: F401 (fixture)
    CHROMIUM,
    _page_for,
    _say,
    live_server_url,
    playwright_api,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium executable"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


def test_badge_title_and_mention_highlight(
    live_server_url,  # noqa: F811 (the fixture imported above)
    make_user,
    make_room,
    make_member,
    monkeypatch,
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    host = make_user("host")
    room = make_room(owner=host, nickname="Captain")
    guest = make_user("guest")
    make_member(room, guest, nickname="Blue <b>Note</b>")

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = _page_for(browser, live_server_url, guest)
            host_page = _page_for(browser, live_server_url, host)
            page.goto(f"/chat-test/{room.pk}/")
            host_page.goto(f"/chat-test/{room.pk}/")
            page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
            host_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
            badge = page.locator("[data-badge-count]")
            page.wait_for_function("() => document.title === 'Moim'", timeout=10000)
            assert badge.is_hidden()

            # Sent through the host's page: the server's channel layer is in-process.
            _say(host_page, "hi @Blue <b>Note</b> look")
            node = page.locator('.chat-message[data-seq="1"]')
            node.wait_for(timeout=10000)
            assert "mentions-me" in node.get_attribute("class")
            # Highlighted as text: the nickname's markup is not parsed.
            assert node.locator("mark.chat-mention").inner_text() == "@Blue <b>Note</b>"
            assert node.locator(".chat-body b").count() == 0
            assert node.locator(".chat-body").inner_text() == "hi @Blue <b>Note</b> look"

            # The badge and the title follow without a reload.
            page.wait_for_function(
                "() => document.querySelector('[data-badge-count]').textContent === '1'",
                timeout=10000,
            )
            assert badge.is_visible()
            _say(host_page, "and @blue <b>note</b> again")
            page.wait_for_function(
                "() => document.querySelector('[data-badge-count]').textContent === '2'",
                timeout=10000,
            )
            assert page.title().startswith("(")
        finally:
            browser.close()
