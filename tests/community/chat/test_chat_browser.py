"""static/js/chat.js in a real browser against a real ASGI server (in-process uvicorn):
history with the unread divider, text-only rendering, sending, live delivery, and
reconnect with resync (no gap, no duplicate)."""

import time

import pytest

from community.chat.models import Message
from community.chat.services import send_message
from community.rooms.models import Membership, Room
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for, say, seqs

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_chat_in_a_browser(new_person, make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    guest_membership = make_member(room, guest, nickname="Guest")
    host_membership = Membership.objects.get(room=room, user=host)
    send_message(membership=host_membership, body="read already")
    send_message(membership=host_membership, body='<img src=x onerror="window.__pwned=1">')
    send_message(membership=host_membership, body="third")
    Membership.objects.filter(pk=guest_membership.pk).update(last_read_seq=1)

    page = page_for(new_person, guest)
    host_page = page_for(new_person, host)
    page.goto(f"/chat-test/{room.pk}/")
    host_page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    host_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    assert seqs(page) == [1, 2, 3]
    # The unread divider sits before the first unread message.
    assert (
        page.eval_on_selector(
            ".chat-unread-divider", "d => Number(d.nextElementSibling.dataset.seq)"
        )
        == 2
    )
    # User text is text: the markup is shown, not run.
    body = page.locator('.chat-message[data-seq="2"] .chat-body')
    assert body.inner_text() == '<img src=x onerror="window.__pwned=1">'
    assert page.locator(".chat-messages img").count() == 0
    assert page.evaluate("window.__pwned") is None
    # The reactions feature (static/js/reactions.js) drew its bar into each message.
    assert page.locator(".chat-message .reaction-bar").count() >= 3

    # Sending.
    page.fill("[data-chat-input]", "hello from the browser")
    page.press("[data-chat-input]", "Enter")
    page.wait_for_selector('.chat-message[data-seq="4"]', timeout=10000)
    assert Message.objects.get(seq=4, room=room).body == "hello from the browser"

    # Live delivery, both ways.
    host_page.wait_for_selector('.chat-message[data-seq="4"]', timeout=10000)
    say(host_page, "live from host")
    page.wait_for_selector('.chat-message[data-seq="5"]', timeout=10000)
    assert page.locator('.chat-message[data-seq="5"] .chat-author').inner_text() == (
        host_membership.nickname
    )

    # Drop the socket; messages sent meanwhile arrive after the resync, once.
    page.evaluate("window.__sockets[window.__sockets.length - 1].close()")
    page.wait_for_selector("[data-chat-connection][data-state=closed]", timeout=5000)
    say(host_page, "while away 1")
    host_page.wait_for_selector('.chat-message[data-seq="6"]', timeout=10000)
    say(host_page, "while away 2")
    page.wait_for_selector('.chat-message[data-seq="7"]', timeout=20000)
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=5000)
    host_page.wait_for_selector('.chat-message[data-seq="7"]', timeout=10000)
    say(host_page, "after reconnect")
    page.wait_for_selector('.chat-message[data-seq="8"]', timeout=10000)
    assert seqs(page) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert page.evaluate("window.__sockets.length") == 2
    # Reading to the bottom moves the read marker.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        guest_membership.refresh_from_db()
        if guest_membership.last_read_seq == 8:
            break
        time.sleep(0.2)
    assert guest_membership.last_read_seq == 8


def test_scroll_back_reply_edit_and_delete_in_a_browser(
    new_person, make_user, make_room, make_member
):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    host_membership = Membership.objects.get(room=room, user=host)
    for number in range(1, 121):
        send_message(membership=host_membership, body=f"message {number}")

    page = page_for(new_person, guest)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    assert seqs(page) == list(range(71, 121))

    # Infinite scroll back, keeping order.
    for first_seq in (21, 1):
        page.eval_on_selector("[data-chat-log]", "log => { log.scrollTop = 0; }")
        page.wait_for_selector(f'.chat-message[data-seq="{first_seq}"]', timeout=10000)
    assert seqs(page) == list(range(1, 121))
    # Nothing read yet: the divider waited until the first message was loaded.
    assert (
        page.eval_on_selector(
            ".chat-unread-divider", "d => Number(d.nextElementSibling.dataset.seq)"
        )
        == 1
    )

    # Reply to the last message.
    last = page.locator('.chat-message[data-seq="120"]')
    last.scroll_into_view_if_needed()
    last.hover()
    last.locator("[data-action=reply]").click()
    assert "message 120" in page.inner_text("[data-chat-reply-text]")
    say(page, "my reply")
    mine = page.locator('.chat-message[data-seq="121"]')
    mine.wait_for(timeout=10000)
    assert mine.locator(".chat-quote-body").inner_text() == "message 120"

    # Edit my message.
    mine.hover()
    mine.locator("[data-action=edit]").click()
    mine.locator(".chat-edit-box textarea").fill("my edited reply")
    mine.locator(".chat-edit-box button.button").click()
    page.wait_for_function(
        "() => document.querySelector('.chat-message[data-seq=\"121\"] .chat-body')"
        ".textContent === 'my edited reply'",
        timeout=10000,
    )
    assert Message.objects.get(room=room, seq=121).edits.count() == 1

    # Delete it: a tombstone stays in place.
    mine = page.locator('.chat-message[data-seq="121"]')
    mine.hover()
    mine.locator("[data-action=delete]").click()
    page.wait_for_selector('.chat-message.is-deleted[data-seq="121"]', timeout=10000)
    assert Message.objects.get(room=room, seq=121).deleted_at is not None
    # Not mine, not a host: no edit or delete on others' messages.
    assert page.locator('.chat-message[data-seq="120"] [data-action=delete]').is_hidden()

    # A live event that never arrived leaves no hole: the next one reveals the
    # gap and the client fetches what is missing.
    Message.objects.create(room=room, author=host_membership, body="lost", seq=122)
    Room.objects.filter(pk=room.pk).update(last_message_seq=122)
    say(page, "after the gap")
    page.wait_for_selector('.chat-message[data-seq="123"]', timeout=10000)
    page.wait_for_selector('.chat-message[data-seq="122"]', timeout=10000)
    assert seqs(page) == list(range(1, 124))


def test_messages_by_someone_i_blocked_fold_and_open_on_request(
    new_person, make_user, make_room, make_member
):
    """Blocking is per room, by member (the message's "Block in this room" action): an
    account block never folds an open profile. Hosts carry a badge."""
    host = make_user("host")
    room = make_room(owner=host, nickname="Hostess")
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    troll = make_user("troll")
    troll_membership = make_member(room, troll, nickname="Trolly")
    send_message(membership=troll_membership, body="<b>rude words</b>")
    send_message(membership=Membership.objects.get(room=room, user=host), body="be nice, please")

    page = page_for(new_person, guest)
    troll_page = page_for(new_person, troll)
    page.goto(f"/chat-test/{room.pk}/")
    troll_page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    troll_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    first = page.locator('.chat-message[data-seq="1"]')
    page.wait_for_selector('.chat-message[data-seq="2"]', timeout=10000)
    badge = page.locator('.chat-message[data-seq="2"] .chat-badge')
    assert badge.is_visible() and badge.inner_text() == "Owner"
    assert not first.locator(".chat-badge").is_visible()

    # Block Trolly from his message's actions (the confirm is accepted).
    page.on("dialog", lambda dialog: dialog.accept())
    first.hover()
    first.locator("[data-action=block]").click()
    page.wait_for_selector('.chat-message.is-collapsed[data-seq="1"]', timeout=10000)
    assert first.inner_text().startswith("Message from someone you blocked.")
    # Folded, the text is not in the page at all.
    assert "rude words" not in page.content()

    # Live messages arrive folded too.
    say(troll_page, "more rude words")
    page.wait_for_selector('.chat-message.is-collapsed[data-seq="3"]', timeout=10000)
    assert "more rude words" not in page.content()

    # "Show" opens one message, as text.
    first.locator("[data-action=show]").click()
    assert first.locator(".chat-body").inner_text() == "<b>rude words</b>"
    assert "is-collapsed" not in first.get_attribute("class")
    assert page.locator(".chat-messages b").count() == 0

    # Unblocking (here through the API, as another tab would) unfolds the screen.
    status = page.evaluate(
        """(url) => fetch(url, {
          method: "DELETE", credentials: "same-origin",
          headers: {
            "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value,
          },
        }).then(r => r.status)""",
        f"/api/v1/rooms/{room.pk}/members/{troll_membership.pk}/block/",
    )
    assert status == 204
    page.wait_for_selector('.chat-message[data-seq="3"]:not(.is-collapsed)', timeout=10000)
    assert page.locator('.chat-message[data-seq="3"] .chat-body').inner_text() == "more rude words"
