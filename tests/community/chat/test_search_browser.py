"""Search inside a room in a real browser (static/js/chat-search.js on the room page):
Korean and Japanese queries, the matches marked, a result on screen scrolls the chat to
it, an older one is shown in context."""

import pytest

from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.browser_support import page_for
from tests.support.browser import composer_entry

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def search(page, q: str):
    page.fill(".chat-search-input", q)
    page.press(".chat-search-input", "Enter")


def test_search_in_korean_and_japanese_and_jump_to_the_result(
    new_person, make_user, make_room, make_member, settings
):
    settings.CHAT_SEND_RATE = (10_000, 10)
    settings.MODERATION_FLOOD_MESSAGES = 10_000
    host, guest = make_user("host"), make_user("guest")
    room = make_room(owner=host, nickname="Captain")
    make_member(room, guest, nickname="Guest")
    captain = Membership.objects.get(room=room, user=host)
    old = send_message(membership=captain, body="오늘 회의실에서 만나요")
    for number in range(60):  # the chat loads the latest 50: the first is not on screen
        send_message(membership=captain, body=f"message {number}")
    recent = send_message(membership=captain, body="東京駅で<b>会いましょう</b>")

    page = page_for(new_person, guest)
    page.goto(f"/rooms/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    composer_entry(page, "Search").click()
    panel = page.locator(".chat-search")

    # Korean inside a word; the result is older than what the chat shows.
    search(page, "회의")
    result = panel.locator(".chat-search-results .chat-search-item")
    result.first.wait_for(timeout=10000)
    assert result.count() == 1
    assert result.locator("mark").inner_text() == "회의"
    assert result.locator(".chat-search-body").inner_text() == "오늘 회의실에서 만나요"
    assert page.locator(f'.chat-messages .chat-message[data-seq="{old.seq}"]').count() == 0
    result.click()
    hit = panel.locator(".chat-search-context .is-hit")
    hit.wait_for(timeout=10000)
    assert hit.locator(".chat-search-body").inner_text() == "오늘 회의실에서 만나요"
    # Its neighbours are there too.
    assert panel.locator(".chat-search-context-list li", has_text="message 0").count() == 1

    # Japanese, one character; the result is on screen: the chat scrolls to it.
    panel.locator("button", has_text="Back to results").click()
    search(page, "駅")
    result = panel.locator(".chat-search-results .chat-search-item")
    result.locator("mark", has_text="駅").wait_for(timeout=10000)
    assert result.count() == 1
    assert result.locator(".chat-search-body").inner_text() == "東京駅で<b>会いましょう</b>"
    assert result.locator("b").count() == 0  # text, never markup
    result.click()
    page.wait_for_selector(
        f'.chat-messages .chat-message.is-highlighted[data-seq="{recent.seq}"]', timeout=5000
    )

    # Nothing found says so.
    search(page, "없는말")
    panel.locator(".chat-search-status", has_text="No messages found.").wait_for(timeout=10000)
