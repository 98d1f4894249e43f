"""The chat as people who live in KakaoTalk or Discord use it, at phone (390×844) and
desktop (1440×900) sizes: Chats as home, kept live; the full-screen chat on a phone and
two panes on a desktop; grouped bubbles; the message menu on hover, long-press and keys;
@mentions; jump-to-latest and landing at the first unread message; an axe-core scan of
the chat list, the chat and the room's info page; screenshots light and dark."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from community.rooms.models import Membership
from tests.e2e.scenario_data import chat_log, chat_message, join, make_person, make_room, say
from tests.support.browser import screenshot

pytestmark = [pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def jazz(transactional_db):
    """Minji's two rooms: a jazz room (host Haruto, three messages in a row by him) and
    a quieter coffee room."""
    haruto = make_person("haruto")
    minji = make_person("minji")
    coffee = make_room(haruto, "Coffee talk", nickname="Barista")
    join(coffee, minji, "Minji")
    say(coffee, haruto, "Pour-over or espresso?")
    room = make_room(haruto, "Late-night jazz", nickname="Haruto")
    join(room, minji, "Minji")
    join(room, make_person("mina"), "Mina")
    for text in ("Anyone up?", "Playing Kind of Blue", "Track two is the best"):
        say(room, haruto, text)
    return {"room": room, "coffee": coffee, "haruto": haruto, "minji": minji}


def wait_live(page):
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_attached()
    page.wait_for_selector("[data-chat-connection][data-state=open]", state="attached")


def chat_rows(page):
    return page.locator("[data-chat-list] .chat-row .chat-row-title")


def test_chats_home_and_the_full_screen_chat_on_a_phone(new_person, jazz):
    person = new_person(PHONE).log_in(jazz["minji"])
    page = person.goto("/")
    # Chats is home: latest activity first, with the last message and the unread count.
    expect(page.get_by_role("heading", name="Chats", level=1)).to_be_visible()
    expect(chat_rows(page)).to_have_text(["Late-night jazz", "Coffee talk"])
    jazz_row = page.locator(f'.chat-row[data-room-id="{jazz["room"].pk}"]')
    expect(jazz_row.locator(".chat-row-preview")).to_have_text("Haruto: Track two is the best")
    expect(jazz_row.locator(".chat-row-unread")).to_contain_text("3")
    screenshot(page, "chat-list-phone")

    # A message in the other room moves it to the top, live (/ws/me/).
    say(jazz["coffee"], jazz["haruto"], "Espresso, obviously")
    expect(chat_rows(page)).to_have_text(["Coffee talk", "Late-night jazz"])
    expect(page.locator(".chat-row").first.locator(".chat-row-preview")).to_have_text(
        "Barista: Espresso, obviously"
    )

    # The chat is the whole screen: no site header or tab bar, no page scroll, the
    # composer at the bottom.
    jazz_row.get_by_role("link").click()
    wait_live(page)
    expect(page.locator(".nav-primary")).to_be_hidden()
    assert page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    box = page.get_by_label("Message", exact=True).bounding_box()
    assert box["y"] + box["height"] > PHONE["height"] - 80
    expect(page.locator(".chat-title")).to_have_text("Late-night jazz")
    # Three messages in a row by Haruto: his name once, the time on the last.
    messages = chat_log(page).locator(".chat-message")
    expect(messages).to_have_count(3)
    expect(messages.locator(".chat-author:visible")).to_have_count(1)
    expect(messages.locator(".chat-time:visible")).to_have_count(1)
    expect(page.locator(".chat-date-divider")).to_have_count(1)
    # No actions under every message: a long-press opens one menu.
    replies = page.get_by_role("menuitem", name="Reply to Haruto", include_hidden=True)
    expect(replies).to_have_count(3)
    expect(replies.first).to_be_hidden()
    last = chat_message(page, "Track two is the best")
    body = last.locator(".chat-body")
    body.dispatch_event("pointerdown", {"pointerType": "touch", "clientX": 100, "clientY": 400})
    page.wait_for_timeout(700)
    body.dispatch_event("pointerup", {"pointerType": "touch"})
    menu = last.get_by_role("menu")
    expect(menu).to_be_visible()
    page.wait_for_timeout(500)  # the finger's own click has passed
    menu.get_by_role("menuitem", name="Reply to Haruto").click()
    expect(page.locator("[data-chat-reply-text]")).to_contain_text("Track two is the best")
    screenshot(page, "chat-phone")

    # Back to Chats; reading the room cleared its count.
    page.get_by_role("link", name="Back to chats").click()
    unread = page.locator(f'.chat-row[data-room-id="{jazz["room"].pk}"] .chat-row-unread')
    expect(unread).to_have_count(0)


def test_two_panes_menus_mentions_and_the_keyboard_on_a_desktop(new_person, jazz):
    room = jazz["room"]
    person = new_person(DESKTOP).log_in(jazz["minji"])
    page = person.goto(f"/rooms/{room.pk}/")
    wait_live(page)
    # Two panes: the chat list beside the open chat.
    expect(page.get_by_role("navigation", name="Chats")).to_be_visible()
    expect(page.locator('.chat-row a[aria-current="page"]')).to_contain_text("Late-night jazz")
    # The composer has the focus at once.
    expect(page.get_by_label("Message", exact=True)).to_be_focused()

    # Hover shows one menu with a quick reaction bar; actions are named per message.
    message = chat_message(page, "Playing Kind of Blue")
    message.hover()
    menu = message.get_by_role("menu")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name="React with 👍").click()
    expect(message.locator('.reaction-chip[data-emoji="👍"]')).to_contain_text("1")

    # @ autocompletes room nicknames.
    box = page.get_by_label("Message", exact=True)
    box.fill("")
    box.press_sequentially("hi @Mi")
    option = page.get_by_role("option", name="Mina")
    expect(option).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value("hi @Mina ")
    box.press_sequentially("look https://example.com/x")
    box.press("Enter")
    sent = chat_message(page, "look https://example.com/x")
    expect(sent.get_by_role("link", name="https://example.com/x")).to_have_attribute(
        "href", "https://example.com/x"
    )
    expect(sent).to_have_class("chat-message is-mine")

    # The message list is one tab stop; arrow keys move between messages; Enter opens
    # the menu, whose items the arrow keys walk; Escape goes back to the message.
    latest = chat_log(page).locator('.chat-message[tabindex="0"]')
    expect(latest).to_have_count(1)
    expect(latest).to_contain_text("look https://example.com/x")
    latest.focus()
    page.keyboard.press("ArrowUp")
    focused = chat_log(page).locator(".chat-message:focus")
    expect(focused).to_contain_text("Track two is the best")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_attribute("data-reaction", "👍")
    page.keyboard.press("End")
    expect(page.locator(":focus")).to_have_accessible_name("Report the message from Haruto")
    page.keyboard.press("ArrowUp")
    # The item above is another named item (a plugin's, such as "Send Haruto a tip").
    expect(page.locator(":focus")).to_have_accessible_name(re.compile("Haruto"))
    page.keyboard.press("Escape")
    expect(chat_log(page).locator(".chat-message:focus")).to_contain_text("Track two")
    screenshot(page, "chat-desktop")

    # Mute the room from the chat's menu: the chat list beside it shows it muted.
    page.get_by_label("Room menu").click()
    page.get_by_role("button", name="Mute notifications").click()
    row = page.locator(f'.chat-row[data-room-id="{room.pk}"]')
    expect(row.get_by_role("button", name="Unmute Late-night jazz")).to_have_attribute(
        "aria-pressed", "true"
    )
    # And unmute it from the list.
    row.get_by_role("button", name="Unmute Late-night jazz").click()
    expect(row.get_by_role("button", name="Mute Late-night jazz")).to_have_attribute(
        "aria-pressed", "false"
    )


def test_first_unread_and_jump_to_latest(new_person, jazz, settings):
    settings.CHAT_SEND_RATE = (100, 10)
    room = jazz["room"]
    for number in range(1, 61):
        say(room, jazz["haruto"], f"message number {number}")
    # Minji read up to "message number 40" (seq 3 + 40).
    Membership.objects.filter(room=room, user=jazz["minji"]).update(last_read_seq=43)
    page = new_person(DESKTOP).log_in(jazz["minji"]).goto(f"/rooms/{room.pk}/")
    divider = page.locator(".chat-unread-divider")
    expect(divider).to_be_in_viewport()
    expect(chat_message(page, "message number 41")).to_be_in_viewport()
    expect(chat_message(page, "message number 60")).not_to_be_in_viewport()
    wait_live(page)
    # Scrolled up, a new message does not move the reader: a button counts it.
    say(room, jazz["haruto"], "a new one while you read")
    jump = page.locator("[data-chat-jump]")
    expect(jump).to_contain_text("1 new messages")
    jump.click()
    expect(chat_message(page, "a new one while you read")).to_be_in_viewport()
    expect(jump).to_be_hidden()


@pytest.mark.parametrize("viewport_name", ["phone", "desktop"])
def test_chat_pages_pass_axe_and_are_screenshotted_light_and_dark(
    new_person, jazz, browser, server, viewport_name
):
    viewport = PHONE if viewport_name == "phone" else DESKTOP
    room = jazz["room"]
    pages = {"chats": "/", "chat": f"/rooms/{room.pk}/", "room-info": f"/rooms/{room.pk}/info/"}
    problems = []
    for scheme in ("light", "dark"):
        person = new_person(viewport, color_scheme=scheme).log_in(jazz["minji"])
        # axe is injected as a script tag: only this context lets it past the CSP.
        context = browser.new_context(
            viewport=viewport, base_url=server.url, color_scheme=scheme, bypass_csp=True
        )
        context.add_cookies(person.context.cookies())
        page = context.new_page()
        for name, path in pages.items():
            page.goto(path)
            if name == "chat":
                page.wait_for_selector("[data-chat-connection][data-state=open]", state="attached")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "() => axe.run(document, {resultTypes: ['violations']})"
                ".then(r => r.violations.filter(v => ['serious', 'critical'].includes(v.impact))"
                ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
            )
            problems += [f"{name} {viewport_name} {scheme}: {line}" for line in result]
            suffix = "" if scheme == "light" else "-dark"
            screenshot(page, f"{name}-{viewport_name}{suffix}")
        context.close()
    assert not problems, "\n".join(problems)
