"""A poll in the web chat (static/js/chat-polls.js), voted from two browsers against the
in-process ASGI server: created from the composer, tallies live on both pages, a vote
changed. Skipped without Playwright + Chromium."""

import pytest

from community.polls.models import PollVote
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for
from tests.support.browser import composer_entry

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _count(page, text: str) -> str:
    choice = page.locator(".poll-choice", has_text=text)
    return choice.locator(".poll-choice-count").inner_text()


def _wait_count(page, text: str, count: int) -> None:
    page.locator(".poll-choice", has_text=text).locator(
        ".poll-choice-count", has_text=str(count)
    ).wait_for(timeout=10000)


def test_a_poll_voted_from_two_browsers(new_person, make_user, make_room, make_member):
    host, guest = make_user("host"), make_user("guest")
    room = make_room(owner=host, nickname="Captain")
    make_member(room, guest, nickname="Guest")
    host_page, guest_page = page_for(new_person, host), page_for(new_person, guest)
    for page in (host_page, guest_page):
        page.goto(f"/rooms/{room.pk}/")
        page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)

    # The host opens the composer's poll form and creates a poll.
    composer_entry(host_page, "Poll").click()
    dialog = host_page.locator(".poll-dialog")
    dialog.locator(".poll-form-question").fill("Tea or <b>coffee</b>?")
    options = dialog.locator(".poll-form-option")
    options.nth(0).fill("Tea")
    options.nth(1).fill("Coffee")
    dialog.get_by_role("button", name="Create poll").click()
    host_page.locator(".poll").wait_for(timeout=10000)

    # It reaches the guest live, as text.
    guest_page.locator(".poll").wait_for(timeout=10000)
    assert guest_page.locator(".chat-message", has=guest_page.locator(".poll")).locator(
        ".chat-body"
    ).inner_text() == ("Tea or <b>coffee</b>?")
    assert guest_page.locator(".chat-body b").count() == 0
    assert _count(guest_page, "Tea") == "0"

    # The guest votes: both pages show it; only the guest's choice is marked.
    guest_page.locator(".poll-choice", has_text="Tea").click()
    _wait_count(guest_page, "Tea", 1)
    _wait_count(host_page, "Tea", 1)
    guest_tea = guest_page.locator(".poll-choice", has_text="Tea")
    guest_page.locator('.poll-choice[aria-pressed="true"]', has_text="Tea").wait_for(timeout=10000)
    assert host_page.locator(".poll-choice", has_text="Tea").get_attribute("aria-pressed") == (
        "false"
    )

    # The host votes the other way, the guest changes their vote.
    host_page.locator(".poll-choice", has_text="Coffee").click()
    _wait_count(guest_page, "Coffee", 1)
    guest_page.locator(".poll-choice", has_text="Coffee").click()
    _wait_count(host_page, "Coffee", 2)
    _wait_count(host_page, "Tea", 0)
    guest_page.locator(".poll-foot", has_text="2 voters").wait_for(timeout=10000)
    guest_page.locator('.poll-choice[aria-pressed="true"]', has_text="Coffee").wait_for(
        timeout=10000
    )
    assert guest_tea.get_attribute("aria-pressed") == "false"
    assert PollVote.objects.count() == 2

    # The host closes it: nobody can vote any more.
    host_page.get_by_role("button", name="Close poll").click()
    guest_page.locator(".poll.is-closed").wait_for(timeout=10000)
    assert guest_page.locator(".poll-choice", has_text="Tea").is_disabled()
