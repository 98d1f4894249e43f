"""static/js/reactions.js in a real browser on the chat page: pick, toggle, live counts.

Two members have the room open; one reacts through the picker and the other sees the
count arrive over the socket, then both toggle.
"""

import pytest

from community.chat.services import send_message
from community.reactions.models import Reaction
from community.rooms.models import Membership
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

WAIT_MS = 15000


def _chip(page, seq: int, emoji: str):
    return page.locator(f'.chat-message[data-seq="{seq}"] .reaction-chip[data-emoji="{emoji}"]')


def _wait_for_chip(page, seq: int, emoji: str, count: int, mine: bool) -> None:
    selector = (
        f'.chat-message[data-seq="{seq}"] .reaction-chip[data-emoji="{emoji}"]'
        f'[aria-pressed="{"true" if mine else "false"}"]'
    )
    page.wait_for_function(
        """([selector, count]) => {
            const chip = document.querySelector(selector);
            return chip && chip.querySelector('.reaction-count').textContent === String(count);
        }""",
        arg=[selector, count],
        timeout=WAIT_MS,
    )


def test_reacting_in_the_browser_updates_both_members_live(
    new_person, make_user, make_room, make_member
):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    send_message(membership=Membership.objects.get(room=room, user=host), body="react to me")

    page = page_for(new_person, guest)
    host_page = page_for(new_person, host)
    for each in (page, host_page):
        each.goto(f"/chat-test/{room.pk}/")
        each.wait_for_selector("[data-chat-connection][data-state=open]", timeout=WAIT_MS)
        each.wait_for_selector('.chat-message[data-seq="1"] .reaction-add', state="attached")

    # The guest opens the full picker from the message's menu and taps 👍 (its first).
    page.hover('.chat-message[data-seq="1"]')
    page.click('.chat-message[data-seq="1"] [data-action=more-reactions]')
    picker = page.locator('.chat-message[data-seq="1"] .reaction-picker')
    assert picker.is_visible()
    picker.locator("button").first.click()
    _wait_for_chip(page, 1, "👍", 1, mine=True)
    assert not picker.is_visible()
    # The host sees it arrive live, as someone else's.
    _wait_for_chip(host_page, 1, "👍", 1, mine=False)

    # The host taps the same chip: both pages count two.
    _chip(host_page, 1, "👍").click()
    _wait_for_chip(host_page, 1, "👍", 2, mine=True)
    _wait_for_chip(page, 1, "👍", 2, mine=True)

    # The guest takes theirs back.
    _chip(page, 1, "👍").click()
    _wait_for_chip(page, 1, "👍", 1, mine=False)
    _wait_for_chip(host_page, 1, "👍", 1, mine=True)
    assert list(Reaction.objects.values_list("user__username", "emoji")) == [("host", "👍")]


def test_liking_a_room_from_its_card(new_person, make_user, make_room, make_member):
    room = make_room(title="Jazz corner")
    fan = make_user("fan")
    make_member(room, fan, nickname="Fan")
    make_room(title="Not joined")

    page = page_for(new_person, fan)
    page.goto("/rooms/")
    card = page.locator(f'.reaction-bar[data-reactions-id="{room.pk}"]')
    card.locator(".reaction-add").click()
    card.locator(".reaction-picker button").nth(1).click()  # ❤️
    page.wait_for_selector(
        f'.reaction-bar[data-reactions-id="{room.pk}"] '
        '.reaction-chip[data-emoji="❤️"][aria-pressed="true"]',
        timeout=WAIT_MS,
    )
    # Cards of rooms the fan is not in show counts only: no picker.
    assert page.locator(".reaction-bar[data-readonly=true] .reaction-add").count() == 0
    assert page.locator(".reaction-bar[data-readonly=true]").count() == 1
    assert list(Reaction.objects.values_list("room_id", "emoji")) == [(room.pk, "❤️")]
