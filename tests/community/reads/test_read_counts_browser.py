"""Read counts in the browser (static/js/chat-reads.js): the count next to each message
goes down live as another member's browser reads the room."""

import pytest

from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


ALL_ONE = (
    "() => [...document.querySelectorAll('.chat-unread-count')].every(b => b.textContent === '1')"
)


def _read_to_the_bottom(page) -> None:
    """The reader looks at the end of the room (chat.js reads on a scroll near the bottom;
    a short room has nothing to scroll)."""
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    page.eval_on_selector("[data-chat-log]", "log => log.dispatchEvent(new Event('scroll'))")


def _count(page, seq: int) -> str | None:
    badge = page.locator(f'.chat-message[data-seq="{seq}"] .chat-unread-count')
    return badge.inner_text() if badge.count() else None


def test_counts_go_down_as_a_second_browser_reads(
    new_person, make_user, make_room, make_member, settings
):
    settings.READ_COUNTS_BROADCAST_SECONDS = 0  # every read announced (no trailing task)
    host, ann, bob = make_user("host"), make_user("ann"), make_user("bob")
    room = make_room(owner=host)
    make_member(room, ann, nickname="Ann")
    make_member(room, bob, nickname="Bob")
    host_membership = Membership.objects.get(room=room, user=host)
    for body in ("one", "two", "three"):
        send_message(membership=host_membership, body=body)

    host_page = page_for(new_person, host)
    host_page.goto(f"/chat-test/{room.pk}/")
    host_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    assert [_count(host_page, seq) for seq in (1, 2, 3)] == ["2", "2", "2"]
    badge = host_page.locator('.chat-message[data-seq="1"] .chat-unread-count')
    assert badge.get_attribute("title") == "2 members have not read this yet"

    # Ann opens the room: her chat reads to the bottom, and the host's counts fall.
    ann_page = page_for(new_person, ann)
    ann_page.goto(f"/chat-test/{room.pk}/")
    _read_to_the_bottom(ann_page)
    host_page.wait_for_function(ALL_ONE, timeout=15000)
    assert [_count(host_page, seq) for seq in (1, 2, 3)] == ["1", "1", "1"]
    # Ann's own page shows the same counts: nobody's name, only how many.
    ann_page.wait_for_selector('.chat-message[data-seq="3"] .chat-unread-count', timeout=10000)
    assert "Bob" not in ann_page.locator(".chat-messages").inner_text()

    # Bob reads too: everyone has read, the counts disappear.
    bob_page = page_for(new_person, bob)
    bob_page.goto(f"/chat-test/{room.pk}/")
    _read_to_the_bottom(bob_page)
    host_page.wait_for_selector(".chat-unread-count", state="detached", timeout=15000)
    # A new message starts at two again (everyone but its author).
    host_page.fill("[data-chat-input]", "four")
    host_page.press("[data-chat-input]", "Enter")
    host_page.wait_for_selector('.chat-message[data-seq="4"] .chat-unread-count', timeout=10000)
    assert _count(host_page, 4) in ("2", "1", None)  # the others' open pages read it at once
