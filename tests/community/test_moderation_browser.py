"""static/js/moderation.js in a real browser on the real room page: other people's
messages get a "Report" link to the report form; your own do not. Skipped without
Playwright + Chromium."""

import pytest

from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.chat_support import fresh_channel_layer  # noqa: F401 (fixture)
from tests.community.test_chat_browser import (  # the chat's live-server harness
    CHROMIUM,
    _page_for,
    _say,
    live_server_url,  # noqa: F401 (fixture)
    playwright_api,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium executable"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


def test_report_links_in_the_live_chat(
    live_server_url,  # noqa: F811
    make_user,
    make_room,
    make_member,
    monkeypatch,
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    guest_membership = make_member(room, guest, nickname="Guest")
    host_membership = Membership.objects.get(room=room, user=host)
    theirs = send_message(membership=host_membership, body="report me")
    mine = send_message(membership=guest_membership, body="my own")

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = _page_for(browser, live_server_url, guest)
            page.goto(f"/rooms/{room.pk}/")
            page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
            # The actions row shows on hover or focus, so wait for the link to exist.
            page.wait_for_selector(
                f'.chat-message[data-id="{theirs.pk}"] a.chat-report', state="attached"
            )
            link = page.locator(f'.chat-message[data-id="{theirs.pk}"] a.chat-report')
            assert link.get_attribute("href") == f"/report/message/{theirs.pk}/"
            assert page.locator(f'.chat-message[data-id="{mine.pk}"] a.chat-report').count() == 0
            # A message arriving live gets its link too.
            host_page = _page_for(browser, live_server_url, host)
            host_page.goto(f"/rooms/{room.pk}/")
            host_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
            _say(host_page, "live one")
            page.wait_for_selector(
                '.chat-message:has-text("live one") a.chat-report', state="attached"
            )
            page.hover(f'.chat-message[data-id="{theirs.pk}"]')
            link.click()
            page.wait_for_selector("select[name=reason]")
        finally:
            browser.close()
