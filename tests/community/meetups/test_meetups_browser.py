"""A meetup in the web chat (static/js/chat-meetups.js) against the in-process ASGI
server: created from the composer, listed among the room's upcoming events, answered
from another browser with the counts live on both pages. Skipped without Playwright +
Chromium."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.meetups.models import MeetupRsvp
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for
from tests.support.browser import composer_entry

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_rsvp_to_a_meetup(new_person, make_user, make_room, make_member):
    host, guest = make_user("host"), make_user("guest")
    room = make_room(owner=host, nickname="Captain")
    make_member(room, guest, nickname="Guest")
    host_page, guest_page = page_for(new_person, host), page_for(new_person, guest)
    for page in (host_page, guest_page):
        page.goto(f"/rooms/{room.pk}/")
        page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)

    composer_entry(host_page, "Event").click()
    dialog = host_page.locator(".meetup-dialog")
    dialog.locator(".meetup-form-title").fill("Picnic by the river")
    starts = timezone.now() + timedelta(days=3)
    dialog.locator(".meetup-form-starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    dialog.locator(".meetup-form-zone").fill("Asia/Seoul")
    dialog.locator(".meetup-form-place").fill("Yeouido park")
    dialog.locator(".meetup-form-capacity").fill("1")
    dialog.get_by_role("button", name="Create event").click()
    host_page.locator(".meetup").wait_for(timeout=10000)

    guest_page.locator(".meetup").wait_for(timeout=10000)
    meetup = guest_page.locator(".meetup")
    assert "Yeouido park" in meetup.inner_text()
    assert "Asia/Seoul" in meetup.locator(".meetup-time").inner_text()
    # The room's upcoming events list it.
    guest_page.locator(".meetup-upcoming", has_text="Picnic by the river").wait_for(timeout=10000)
    ics = meetup.get_by_role("link", name="Add to calendar (.ics)").get_attribute("href")
    assert ics.endswith(".ics")

    # The guest answers going: the one seat is taken, on both pages.
    meetup.get_by_role("button", name="Going", exact=True).click()
    guest_page.locator(".meetup-counts", has_text="1 of 1 going").wait_for(timeout=10000)
    host_page.locator(".meetup-counts", has_text="1 of 1 going").wait_for(timeout=10000)
    # The room's counts come on the socket and may land before the guest's own answer
    # does; the button shows the answer once the guest's request returns.
    guest_page.locator('.meetup [data-rsvp="going"][aria-pressed="true"]').wait_for(timeout=10000)
    host_going = host_page.locator('.meetup [data-rsvp="going"]')
    assert host_going.get_attribute("aria-pressed") == "false"
    assert MeetupRsvp.objects.get().status == "going"

    # The host asks to go too: it is full, so they wait.
    host_page.locator(".meetup").get_by_role("button", name="Going", exact=True).click()
    host_page.locator(".meetup-mine").wait_for(timeout=10000)
    guest_page.locator(".meetup-counts", has_text="1 on the waitlist").wait_for(timeout=10000)

    # Who is coming, by room nickname.
    guest_page.locator(".meetup").get_by_role("button", name="Who is coming").click()
    answers = guest_page.locator(".meetup-answers")
    answers.wait_for(timeout=10000)
    assert "Guest" in answers.inner_text() and "Captain" in answers.inner_text()
