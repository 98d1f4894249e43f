"""badge.js and mentions.js in a real browser against the in-process ASGI server: the
nav badge and the page title change without a reload, and a mention of me is
highlighted as text."""

import pytest

from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for, say

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_badge_title_and_mention_highlight(new_person, make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host, nickname="Captain")
    guest = make_user("guest")
    make_member(room, guest, nickname="Blue <b>Note</b>")

    page = page_for(new_person, guest)
    host_page = page_for(new_person, host)
    page.goto(f"/chat-test/{room.pk}/")
    host_page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    host_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    badge = page.locator("[data-badge-count]")
    page.wait_for_function("() => document.title === 'Moim'", timeout=10000)
    assert badge.is_hidden()

    # Sent through the host's page: the server's channel layer is in-process.
    say(host_page, "hi @Blue <b>Note</b> look")
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
    say(host_page, "and @blue <b>note</b> again")
    page.wait_for_function(
        "() => document.querySelector('[data-badge-count]').textContent === '2'",
        timeout=10000,
    )
    assert page.title().startswith("(")
