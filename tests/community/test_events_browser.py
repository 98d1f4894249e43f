"""The events added to the web app, in a real browser against the in-process ASGI
server: a pinned announcement and slow mode reach the members' chat, and a request to
join reaches the host on whatever page they are (badge.js). Skipped without Playwright
+ Chromium."""

import pytest

from community.rooms.models import Room
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

# A host tool called from the host's page, as the room tools would (session + CSRF).
HOST_CALL = """async ([method, url, body]) => {
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const response = await fetch(url, {method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
    body: JSON.stringify(body)});
  return response.status;
}"""


def test_room_events_and_join_requests_show_live(new_person, make_user, make_room, make_member):
    host, guest, asker = make_user("host"), make_user("guest"), make_user("asker")
    room = make_room(owner=host, nickname="Captain")
    make_member(room, guest, nickname="Guest")
    gated = make_room(owner=host, title="Gated", join_policy=Room.JoinPolicy.APPROVAL)

    host_page = page_for(new_person, host)
    guest_page = page_for(new_person, guest)
    for page in (host_page, guest_page):
        page.goto(f"/chat-test/{room.pk}/")
        page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)

    base = f"/api/v1/rooms/{room.pk}"
    call = ["PUT", f"{base}/announcement/", {"body": "Be <b>kind</b>"}]
    assert host_page.evaluate(HOST_CALL, call) == 200
    notice = guest_page.locator("[data-chat-error]")
    notice.filter(has_text="Be <b>kind</b>").wait_for(timeout=10000)
    assert notice.locator("b").count() == 0  # text, never markup
    call = ["POST", f"{base}/slow-mode/", {"seconds": 30}]
    assert host_page.evaluate(HOST_CALL, call) == 200
    notice.filter(has_text="30 seconds").wait_for(timeout=10000)

    # Someone asks to join the host's other room: the host sees it where they are.
    asker_page = page_for(new_person, asker)
    asker_page.goto(f"/rooms/{gated.pk}/join/")
    asker_page.fill("input[name=nickname]", "Shy <i>Fox</i>")
    asker_page.click(f'form[action="/rooms/{gated.pk}/join/"] button[type=submit]')
    request = host_page.locator(".join-request-notice")
    request.wait_for(timeout=10000)
    assert "Shy <i>Fox</i>" in request.inner_text()
    link = request.locator("a")
    assert link.get_attribute("href") == f"/rooms/{gated.pk}/requests/"
