"""The room's notice in a real browser (static/js/chat-notice.js in the chat's pinned bar): a host
pins a member's message from its actions, every member sees it live with who set it (by
room nickname) and when, jumps to it, and it goes when the message is deleted."""

import pytest

from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.browser_support import page_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A call from the page (session + CSRF), as the chat's own requests are made.
PAGE_CALL = """async ([method, url]) => {
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const response = await fetch(url, {method, credentials: "same-origin",
    headers: {"X-CSRFToken": csrf}});
  return response.status;
}"""


def test_a_host_pins_a_message_and_everyone_sees_the_notice(
    new_person, make_user, make_room, make_member
):
    host, guest = make_user("host"), make_user("guest")
    room = make_room(owner=host, nickname="Captain")
    guest_membership = make_member(room, guest, nickname="Guest")
    plan = send_message(membership=guest_membership, body="금요일 8시 <b>홍대입구역</b> 9번 출구")
    send_message(membership=Membership.objects.get(room=room, user=host), body="좋아요!")

    host_page = page_for(new_person, host)
    guest_page = page_for(new_person, guest)
    for page in (host_page, guest_page):
        page.goto(f"/rooms/{room.pk}/")
        page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    # Members cannot pin; hosts have the action on each message.
    guest_message = guest_page.locator(f'.chat-message[data-seq="{plan.seq}"]')
    pin = {"name": "Pin as the room's notice", "include_hidden": True}
    assert guest_message.get_by_role("menuitem", **pin).count() == 0
    host_message = host_page.locator(f'.chat-message[data-seq="{plan.seq}"]')
    host_message.focus()
    host_message.press("Enter")  # the message's menu (hover or long-press open it too)
    host_message.get_by_role("menuitem", name="Pin as the room's notice").click()

    for page in (host_page, guest_page):
        notice = page.locator("[data-chat-notice]")
        notice.locator(".chat-notice-meta", has_text="Set by Captain").wait_for(timeout=10000)
        body = notice.locator(".chat-notice-body")
        assert body.inner_text() == "금요일 8시 <b>홍대입구역</b> 9번 출구"
        assert notice.locator("b").count() == 0  # text, never markup
        assert notice.locator("time").get_attribute("datetime")
        # Nobody's account shows: the setter is their room nickname.
        assert "host" not in notice.locator(".chat-notice-meta").inner_text()

    # The notice jumps to its message.
    guest_page.locator(".chat-notice-meta button", has_text="Go to message").click()
    guest_page.wait_for_selector(
        f'.chat-message.is-highlighted[data-seq="{plan.seq}"]', timeout=5000
    )

    # A reload shows the same notice, drawn by the server.
    guest_page.reload()
    guest_page.locator(".chat-notice-meta", has_text="Set by Captain").wait_for()

    # Deleting the pinned message takes the notice down, live.
    guest_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    status = host_page.evaluate(PAGE_CALL, ["DELETE", f"/api/v1/messages/{plan.pk}/"])
    assert status == 204
    guest_page.wait_for_selector("[data-chat-notice]", state="hidden", timeout=10000)
