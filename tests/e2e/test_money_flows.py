"""Money as people use it, in their own browsers: topping up the wallet, tipping from a
message in the chat, and joining a paid room through its checkout, then cancelling the
renewal. Each runs on a 390 px phone and a 1440 px desktop in English, Korean and
Japanese, with screenshots of every step (e2e-screenshots/, git-ignored).

Controls are found by role, name attribute or id rather than English text, so one
scenario serves the three languages; the English run also checks the words.
"""

import re

import pytest
from playwright.sync_api import expect

from commerce.models import RoomAccess, Tip
from commerce.services import create_topup, set_room_price
from community.chat.models import Message
from community.rooms.models import Membership
from tests.e2e.scenario_data import join, make_person, make_room, say
from tests.support.browser import message_menu_item, screenshot

PHONE_390 = {"width": 390, "height": 844}
DESKTOP_1440 = {"width": 1440, "height": 900}
SIZES = [pytest.param(PHONE_390, id="phone"), pytest.param(DESKTOP_1440, id="desktop")]
LANGUAGES = ["en", "ko", "ja"]


def size_name(viewport) -> str:
    return "phone" if viewport["width"] < 600 else "desktop"


def open_chat(person, room):
    """The room page with its chat live (the socket open), in any language."""
    page = person.goto(f"/rooms/{room.pk}/")
    expect(page.locator("[data-chat-connection][data-state=open]")).to_be_visible()
    return page


def chat_message(page, text: str):
    """A message in the chat, found by its text (the log's name is translated)."""
    return page.locator("[data-chat-messages] > li.chat-message", has_text=text)


def fits_the_screen(page, viewport):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], (page.url, width)


@pytest.mark.parametrize("viewport", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_top_up_the_wallet(new_person, language, viewport):
    fan = make_person("fan", locale=language, currency="KRW")
    person = new_person(viewport).log_in(fan)
    page = person.goto("/wallet/")
    page.locator(".wallet-nav a[href='/wallet/topup/']").click()
    page.locator("input[name=amount]").fill("10,000")
    screenshot(page, f"money-topup-form-{language}-{size_name(viewport)}")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/wallet/$"))
    expect(page.locator(".balance-main").first).to_have_text("₩10,000")
    if language == "en":
        expect(page.get_by_role("main")).to_contain_text("Added ₩10,000 to your wallet.")
    fits_the_screen(page, viewport)
    screenshot(page, f"money-topup-done-{language}-{size_name(viewport)}")


@pytest.mark.parametrize("viewport", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_tip_from_a_message(new_person, language, viewport):
    host = make_person("host", locale=language)
    room = make_room(host, "Late-night jazz")
    minji = make_person("minji_main_profile", locale=language)
    haruto = make_person("haruto", locale=language, currency="KRW")
    join(room, minji, "Minji")
    join(room, haruto, "Haruto")
    create_topup(user=haruto, amount=20_000, currency="KRW")
    say(room, minji, "Played a new song tonight")

    minji_page = open_chat(new_person(viewport).log_in(minji), room)
    page = open_chat(new_person(viewport).log_in(haruto), room)
    message = chat_message(page, "Played a new song tonight")
    # The plugin's action names the author by room nickname.
    message_menu_item(message, "Minji").click()
    sheet = page.locator("dialog.tip-sheet")
    expect(sheet).to_be_visible()
    expect(sheet.locator(".tip-sheet-title")).to_contain_text("Minji")
    expect(sheet).not_to_contain_text("minji_main_profile")
    presets = sheet.locator(".tip-preset")
    expect(presets).to_have_count(3)
    expect(presets.nth(0)).to_have_text("₩1,000")
    expect(sheet.locator(".tip-balance")).to_contain_text("₩20,000")
    presets.nth(1).click()
    expect(sheet.locator("input[name=amount]")).to_have_value("5000")
    sheet.locator("input[name=note]").fill("Loved it!")
    if language == "en":
        expect(sheet.locator(".tip-sheet-title")).to_have_text("Tip Minji")
    screenshot(page, f"money-tip-sheet-{language}-{size_name(viewport)}")
    sheet.locator("button.tip-review").click()
    summary = sheet.locator(".tip-summary")
    expect(summary).to_contain_text("₩5,000")
    expect(summary).to_contain_text("₩500")  # the platform fee
    expect(summary).to_contain_text("₩4,500")  # what Minji receives
    screenshot(page, f"money-tip-confirm-{language}-{size_name(viewport)}")
    sheet.locator("button.tip-send").click()
    expect(sheet).to_be_hidden()
    # The tip shows in both chats, live, naming both by their room nicknames.
    for viewer_page in (page, minji_page):
        event = viewer_page.locator(".chat-tip-event")
        expect(event).to_have_count(1)
        expect(event).to_contain_text("Haruto")
        expect(event).to_contain_text("Minji")
        expect(event).to_contain_text("₩5,000")
        expect(viewer_page.locator(".chat-message.is-tip")).to_contain_text("Loved it!")
    if language == "en":
        expect(minji_page.locator(".chat-tip-event")).to_have_text("Haruto tipped Minji ₩5,000")
    assert "minji_main_profile" not in minji_page.content()
    fits_the_screen(page, viewport)
    screenshot(page, f"money-tip-in-chat-{language}-{size_name(viewport)}")
    tip = Tip.objects.get()
    assert (tip.amount, tip.fee, tip.note) == (5000, 500, "Loved it!")
    assert Message.objects.filter(kind=Message.Kind.TIP, room=room).count() == 1


def test_tip_sheet_short_of_money_links_a_top_up(new_person):
    host = make_person("host")
    room = make_room(host, "Late-night jazz")
    minji, haruto = make_person("minji"), make_person("haruto", currency="KRW")
    join(room, minji, "Minji")
    join(room, haruto, "Haruto")
    create_topup(user=haruto, amount=2_000, currency="KRW")
    say(room, minji, "New song")
    page = open_chat(new_person(PHONE_390).log_in(haruto), room)
    message_menu_item(chat_message(page, "New song"), "Minji").click()
    sheet = page.locator("dialog.tip-sheet")
    sheet.locator(".tip-preset").nth(2).click()  # ₩10,000
    sheet.locator("button.tip-review").click()
    expect(sheet.locator(".tip-short")).to_have_text("Your wallet has ₩2,000: ₩8,000 short.")
    expect(sheet.locator("button.tip-send")).to_be_hidden()
    topup = sheet.locator("a.tip-topup")
    expect(topup).to_have_text("Top up ₩8,000")
    topup.click()
    expect(page.locator("input[name=amount]")).to_have_value("8000")
    page.locator("main form button[type=submit]").click()
    # Back in the room, with the money to tip.
    expect(page).to_have_url(re.compile(rf"/rooms/{room.pk}/$"))
    assert not Tip.objects.exists()


@pytest.mark.parametrize("viewport", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_paid_room_checkout_then_cancel_renewal(new_person, language, viewport):
    owner = make_person("owner", locale=language)
    room = make_room(owner, "Night owls club", nickname="Owl")
    set_room_price(actor=owner, room_id=room.pk, kind="monthly", amount=3000, currency="KRW")
    fan = make_person("fan", locale=language, currency="KRW")
    create_topup(user=fan, amount=1000, currency="KRW")
    person = new_person(viewport).log_in(fan)
    size = size_name(viewport)

    # The price is on the room's card and on its page.
    page = person.goto("/rooms/")
    card = page.locator(".room-card", has_text="Night owls club")
    expect(card.locator(".badge-price")).to_contain_text("₩3,000")
    if language == "en":
        expect(card.locator(".badge-price")).to_have_text("₩3,000 a month")
    screenshot(page, f"money-room-card-{language}-{size}")
    card.locator(".room-card-link").click()
    expect(page.locator("#room-price")).to_contain_text("₩3,000")
    screenshot(page, f"money-room-page-{language}-{size}")
    # Join opens the checkout: short of money, a top-up that comes back here.
    page.locator("#room-join-paid").click()
    expect(page).to_have_url(re.compile(rf"/wallet/rooms/{room.pk}/$"))
    expect(page.locator("#checkout-short")).to_contain_text("₩2,000")
    fits_the_screen(page, viewport)
    screenshot(page, f"money-checkout-short-{language}-{size}")
    page.locator("#checkout-topup").click()
    expect(page.locator("input[name=amount]")).to_have_value("2000")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/wallet/rooms/{room.pk}/$"))
    screenshot(page, f"money-checkout-ready-{language}-{size}")
    page.locator("#checkout-pay").click()
    # Paid: pick a nickname and join.
    expect(page).to_have_url(re.compile(rf"/rooms/{room.pk}/join/$"))
    page.locator("input[name=nickname]").fill("Night fan")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.pk}/$"))
    expect(page.locator("[data-chat-connection][data-state=open]")).to_be_visible()
    # The membership's terms are on the room's info page (the chat's menu: Room info).
    page.goto(f"/rooms/{room.pk}/info/")
    renewal = page.locator("form.room-renewal")
    expect(renewal).to_be_visible()
    screenshot(page, f"money-room-member-{language}-{size}")
    renewal.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.pk}/info/$"))
    expect(page.locator("p.room-renewal")).to_be_visible()
    if language == "en":
        expect(page.locator("p.room-renewal")).to_contain_text("will not renew")
    fits_the_screen(page, viewport)
    screenshot(page, f"money-renewal-cancelled-{language}-{size}")
    access = RoomAccess.objects.get(user=fan, room=room)
    assert access.renews is False and access.paid_until is not None
    # Changed their mind: the membership renews again.
    page.locator("form.room-resume button[type=submit]").click()
    expect(page.locator("form.room-renewal")).to_be_visible()
    access.refresh_from_db()
    assert access.renews is True
    assert Membership.objects.filter(room=room, user=fan, state="active").exists()
