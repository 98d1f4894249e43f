"""Translation in the browser (static/js/chat-translate.js) against a local
LibreTranslate-speaking server: "Translate" renders a message in the reader's language,
"Show original" puts it back, and an edit drops the translation."""

import pytest

from community.chat.services import edit_message, send_message
from community.rooms.models import Membership
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for
from tests.support.browser import message_menu_item

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _message(page, seq: int):
    return page.locator(f'.chat-message[data-seq="{seq}"]')


def test_translate_and_show_original(new_person, make_user, make_room, make_member, libretranslate):
    host, guest = make_user("host"), make_user("guest")
    room = make_room(owner=host)
    make_member(room, guest, nickname="Guest")
    guest_membership = Membership.objects.get(room=room, user=guest)
    host_membership = Membership.objects.get(room=room, user=host)
    korean = send_message(membership=guest_membership, body="오늘 공연 정말 좋았어요")
    send_message(membership=host_membership, body="Where is the nearest station?")

    page = page_for(new_person, host)  # an English page
    page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    # Already in the reader's language: nothing to translate.
    items = _message(page, 2).locator(".chat-actions button")
    assert items.filter(has_text="Translate").count() == 0

    message_menu_item(_message(page, 1), "Translate").click()
    body = page.locator('.chat-message[data-seq="1"] .chat-body')
    page.wait_for_selector('.chat-message[data-seq="1"] .chat-translated', timeout=10000)
    assert body.inner_text() == "Today's show was really good"
    assert page.locator('.chat-message[data-seq="1"] .chat-translated').inner_text() == "Translated"

    message_menu_item(_message(page, 1), "Show original").click()
    page.wait_for_selector('.chat-message[data-seq="1"] .chat-translated', state="detached")
    assert body.inner_text() == "오늘 공연 정말 좋았어요"
    # Translated again, from the page's memory and the server's cache: one engine call.
    message_menu_item(_message(page, 1), "Translate").click()
    page.wait_for_selector('.chat-message[data-seq="1"] .chat-translated', timeout=10000)
    assert len(libretranslate.translations()) == 1

    # The author edits it: the translation no longer says what it says.
    edit_message(user_id=guest.pk, message_id=korean.pk, body="Where is the nearest station?")
    page.wait_for_function(
        "() => document.querySelector('.chat-message[data-seq=\"1\"] .chat-body')"
        ".textContent === 'Where is the nearest station?'",
        timeout=10000,
    )
    assert page.locator('.chat-message[data-seq="1"] .chat-translated').count() == 0
