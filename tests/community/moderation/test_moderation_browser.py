"""static/js/moderation.js in a real browser on the real room page: other people's
messages get a "Report" link to the report form; your own do not."""

import pytest

from community.chat.services import send_message
from community.rooms.models import Membership
from tests.community.browser_support import page_for, say

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_report_links_in_the_live_chat(new_person, make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    guest_membership = make_member(room, guest, nickname="Guest")
    host_membership = Membership.objects.get(room=room, user=host)
    theirs = send_message(membership=host_membership, body="report me")
    mine = send_message(membership=guest_membership, body="my own")

    page = page_for(new_person, guest)
    page.goto(f"/rooms/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    # The actions row shows on hover or focus, so wait for the link to exist.
    page.wait_for_selector(f'.chat-message[data-id="{theirs.pk}"] a.chat-report', state="attached")
    link = page.locator(f'.chat-message[data-id="{theirs.pk}"] a.chat-report')
    assert link.get_attribute("href") == f"/report/message/{theirs.pk}/"
    assert page.locator(f'.chat-message[data-id="{mine.pk}"] a.chat-report').count() == 0
    # A message arriving live gets its link too.
    host_page = page_for(new_person, host)
    host_page.goto(f"/rooms/{room.pk}/")
    host_page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    say(host_page, "live one")
    page.wait_for_selector('.chat-message:has-text("live one") a.chat-report', state="attached")
    page.hover(f'.chat-message[data-id="{theirs.pk}"]')
    link.click()
    page.wait_for_selector("select[name=reason]")
