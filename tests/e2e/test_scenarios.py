"""The issue's scenarios, as two or three people in their own browsers live them.

Each test sets up what it is not about through the services, then drives the pages by
role, label and text. Where a page or control is still missing, the scenario is written
all the same and marked ``xfail(strict=True)`` naming exactly what is missing.
"""

import re

import pytest
from playwright.sync_api import expect

from community.moderation.models import ModerationCase
from profiles.models import User
from tests.e2e.scenario_data import (
    chat_message,
    join,
    make_interests,
    make_moderator,
    make_person,
    make_room,
    open_room,
    say,
    send,
)
from tests.support.browser import DESKTOP, PHONE, screenshot

# --- sign up and pick interests --------------------------------------------------------------


def test_sign_up_offers_interest_picking(new_person):
    make_interests()
    page = new_person(PHONE).goto("/accounts/signup/")
    page.get_by_label("Username").fill("jisoo")
    page.get_by_label("Password").fill("a-good-long-passphrase")
    interests = page.get_by_role("group", name=re.compile("Interests"))
    if not interests.count():
        page.get_by_role("button", name="Sign up").click()
        interests = page.get_by_role("group", name=re.compile("Interests"))
    interests.get_by_label("Jazz").check(timeout=2_000)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/$"))
    jisoo = User.objects.get(username="jisoo")
    assert list(jisoo.profile.interests.values_list("slug", flat=True)) == ["jazz"]


def test_sign_up_then_pick_interests_fills_for_you(new_person):
    interests = make_interests()
    host = make_person("host")
    make_room(host, "재즈 바", language="ko", interests=[interests["jazz"]])
    make_room(host, "달리기 크루", language="ko", interests=[interests["running"]])

    person = new_person(PHONE)
    page = person.goto("/accounts/signup/")
    page.get_by_label("Username").fill("jisoo")
    page.get_by_label("Password").fill("a-good-long-passphrase")
    page.get_by_role("button", name="Sign up").click()
    # Korean rooms are not for an English reader without a shared interest.
    expect(page.get_by_role("heading", name="Trending now")).to_be_visible()
    expect(page.get_by_role("heading", name="For you")).to_have_count(0)

    page.get_by_role("navigation", name="Main").get_by_text("Account", exact=True).click()
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Jazz").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_count(0)

    page.get_by_role("link", name="Discover").click()
    for_you = page.get_by_role("region", name="For you")
    expect(for_you.get_by_role("link", name="재즈 바")).to_be_visible()
    expect(for_you.get_by_role("link", name="달리기 크루")).to_have_count(0)
    user = User.objects.get(username="jisoo")
    assert list(user.profile.interests.values_list("slug", flat=True)) == ["jazz"]


# --- discover and join with an open profile ------------------------------------------------


def test_discover_and_join_a_room_with_an_open_profile(new_person):
    interests = make_interests()
    host = make_person("hana")
    room = make_room(host, interests=[interests["jazz"]], hashtags=["vinyl"])
    bob = make_person("bob_real_name")

    page = new_person(PHONE).log_in(bob).goto("/")
    page.get_by_role("searchbox").fill("vinyl")
    page.get_by_role("searchbox").press("Enter")
    page.get_by_role("link", name="Late-night jazz").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Late-night jazz")
    page.get_by_role("link", name="Join room").click()

    page.get_by_label("Your nickname in this room").fill("Night Owl")
    expect(page.get_by_label("Keep my main profile hidden (open profile)")).to_be_checked()
    page.get_by_role("button", name="Join", exact=True).click()

    # Joined: straight into the room's chat, as Night Owl.
    expect(page.get_by_role("heading", level=1)).to_have_text("Late-night jazz")
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    screenshot(page, "room-joined-phone")
    page.get_by_label("Room menu").click()
    page.get_by_role("link", name="Room info").click()
    expect(page.get_by_text("You are “Night Owl” here")).to_be_visible()

    # The host sees a member called Night Owl, and nothing that leads to Bob's profile.
    host_page = new_person(DESKTOP).log_in(host).goto(f"/rooms/{room.pk}/members/")
    expect(host_page.locator(".member-name", has_text="Night Owl")).to_be_visible()
    expect(host_page.get_by_text("bob_real_name")).to_have_count(0)
    expect(host_page.locator("a[href*='/u/bob_real_name']")).to_have_count(0)


# --- live chat, reply, react ---------------------------------------------------------------------


@pytest.fixture
def jazz_room():
    host = make_person("hana")
    room = make_room(host)
    member = make_person("bob")
    join(room, member, "Night Owl")
    return room, host, member


def test_a_message_appears_live_in_the_other_browser(new_person, jazz_room):
    room, host, member = jazz_room
    host_page = open_room(new_person(DESKTOP).log_in(host), room)
    member_page = open_room(new_person(PHONE).log_in(member), room)

    send(member_page, "Anyone listening to Coltrane?")

    expect(chat_message(host_page, "Anyone listening to Coltrane?")).to_be_visible()
    expect(chat_message(host_page, "Anyone listening to Coltrane?")).to_contain_text("Night Owl")
    expect(chat_message(member_page, "Anyone listening to Coltrane?")).to_have_count(1)
    screenshot(host_page, "room-chat-desktop")
    screenshot(member_page, "room-chat-phone")


def test_reply_shows_the_quoted_message_to_everyone(new_person, jazz_room):
    room, host, member = jazz_room
    say(room, member, "Blue Train or Giant Steps?")
    host_page = open_room(new_person(DESKTOP).log_in(host), room)
    member_page = open_room(new_person(PHONE).log_in(member), room)

    question = chat_message(host_page, "Blue Train or Giant Steps?")
    question.hover()  # a message's menu shows on hover (long-press on a touch screen)
    question.get_by_role("menuitem", name="Reply to Night Owl").click()
    expect(host_page.get_by_text("Replying to")).to_be_visible()
    send(host_page, "Giant Steps, always.")

    reply = chat_message(member_page, "Giant Steps, always.")
    expect(reply).to_be_visible()
    expect(reply.locator("blockquote")).to_contain_text("Blue Train or Giant Steps?")


def test_a_reaction_shows_live_in_the_other_browser(new_person, jazz_room):
    room, host, member = jazz_room
    say(room, host, "Tonight's pick: Kind of Blue")
    host_page = open_room(new_person(DESKTOP).log_in(host), room)
    member_page = open_room(new_person(PHONE).log_in(member), room)

    message = chat_message(member_page, "Tonight's pick: Kind of Blue")
    message.hover()
    message.get_by_role("menuitem", name="React with 👍").click(timeout=2_000)
    expect(message.get_by_role("button", name=re.compile("👍\\s*1"))).to_have_attribute(
        "aria-pressed", "true"
    )

    seen = chat_message(host_page, "Tonight's pick: Kind of Blue")
    expect(seen.get_by_role("button", name=re.compile("👍\\s*1"))).to_be_visible()


def test_members_like_a_room_from_its_card_on_discover(new_person):
    host = make_person("hana")
    room = make_room(host)
    make_room(host, "Morning runners")
    fan = make_person("fan")
    join(room, fan, "Fan")
    page = new_person(DESKTOP).log_in(fan).goto("/discover/")
    # Only members react to a room; on other cards the counts are read-only.
    other = (
        page.get_by_role("listitem")
        .filter(has=page.get_by_role("heading", name="Morning runners"))
        .first
    )
    expect(other.get_by_role("heading", name="Morning runners")).to_be_visible()
    expect(other.get_by_role("button", name="Add a reaction")).to_have_count(0)
    card = (
        page.get_by_role("listitem")
        .filter(has=page.get_by_role("heading", name="Late-night jazz"))
        .first
    )
    card.get_by_role("button", name="Add a reaction").click()
    page.get_by_role("menuitem", name="❤️").click()
    chip = card.get_by_role("button", name=re.compile("❤️\\s*1"))
    expect(chip).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(card.get_by_role("button", name=re.compile("❤️\\s*1"))).to_be_visible()


# Records whether a "processing" placeholder was ever drawn (it may last a few ms only).
SEES_PLACEHOLDERS = """
window.__sawPlaceholder = false;
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType === 1 && (node.matches('.media-processing, .media-pending')
          || node.querySelector('.media-processing, .media-pending'))) {
        window.__sawPlaceholder = true;
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""

# --- image upload ------------------------------------------------------------------------------


def test_an_image_turns_from_placeholder_to_picture(new_person, jazz_room, tmp_path):
    from tests.community import media_samples

    room, host, member = jazz_room
    picture = tmp_path / "sunset.png"
    picture.write_bytes(media_samples.png())
    host_person = new_person(DESKTOP).log_in(host)
    member_person = new_person(PHONE).log_in(member)
    for person in (host_person, member_person):
        person.context.add_init_script(SEES_PLACEHOLDERS)
    host_page = open_room(host_person, room)
    member_page = open_room(member_person, room)

    member_page.get_by_label("Message", exact=True).fill("Sunset from the roof")
    # Choosing a file opens its preview, with what is typed as the caption; Send sends it.
    member_page.get_by_label("Photo or video").set_input_files(str(picture))
    sheet = member_page.get_by_role("dialog", name="Send a photo")
    expect(sheet.get_by_label("Caption")).to_have_value("Sunset from the roof")
    sheet.get_by_role("button", name="Send", exact=True).click()

    for page in (member_page, host_page):
        sent = chat_message(page, "Sunset from the roof")
        picture_shown = sent.get_by_role("img", name="Sunset from the roof")
        expect(picture_shown).to_be_visible()
        expect(picture_shown).to_have_js_property("complete", True)
        assert picture_shown.evaluate("img => img.naturalWidth") > 0
        # Before the picture, everyone saw the placeholder of a file being processed.
        assert page.evaluate("window.__sawPlaceholder") is True
    expect(member_page.get_by_label("Message", exact=True)).to_have_value("")
    screenshot(host_page, "room-image-desktop")


# --- tips ----------------------------------------------------------------------------------------


def wallet_balance(page, currency: str):
    return page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=currency, exact=True)
    )


def top_up(page, amount: int, currency: str = "KRW"):
    page.goto("/wallet/topup/")
    page.get_by_label("Amount").fill(str(amount))
    page.get_by_label("Currency").select_option(currency)
    page.get_by_role("button", name=re.compile("Top up|Add")).click()
    expect(page.get_by_role("status")).to_contain_text("Added")


def test_tip_a_message_and_both_balances_change(new_person, jazz_room):
    room, host, member = jazz_room
    track = say(room, host, "Here is tonight's playlist")
    host_page = new_person(DESKTOP).log_in(host).goto("/wallet/")
    expect(host_page.get_by_text("Your wallet is empty.")).to_be_visible()
    member_page = new_person(PHONE).log_in(member).page
    top_up(member_page, 5000)
    expect(wallet_balance(member_page, "KRW")).to_contain_text("₩5,000")

    # The tip page opened from the host's message: the message, not a handle; a confirm
    # step shows the fee and what the host receives, then back to the room.
    member_page.goto(f"/wallet/tip/?message={track.pk}")
    member_page.get_by_label("Amount").fill("1000")
    member_page.get_by_label("Currency").select_option("KRW")
    member_page.get_by_role("button", name="Review tip").click()
    expect(member_page.locator("#tip-confirm")).to_contain_text("₩900")
    member_page.get_by_role("button", name="Send ₩1,000").click()
    # Back in the room, where the tip now shows.
    expect(member_page.locator("ul.flash")).to_contain_text("You tipped")
    member_page.goto("/wallet/")
    expect(wallet_balance(member_page, "KRW")).to_contain_text(re.compile(r"Available\s*₩4,000"))
    screenshot(member_page, "wallet-after-tip-phone")

    host_page.reload()
    balance = wallet_balance(host_page, "KRW")
    # 10% platform fee; earnings are held for the refund window before payout.
    expect(balance).to_contain_text(re.compile(r"Earnings pending \(hold\)\s*₩900"))
    screenshot(host_page, "wallet-host-desktop")


def test_tip_the_host_from_the_room(new_person, jazz_room):
    room, host, member = jazz_room
    say(room, host, "Here is tonight's playlist")
    member_page = new_person(PHONE).log_in(member).page
    top_up(member_page, 5000)
    page = open_room(new_person(PHONE).log_in(member), room)
    message = chat_message(page, "Here is tonight's playlist")
    message.hover()  # the message's menu, where the tips feature adds "Tip <nickname>"
    message.get_by_role("menuitem", name=re.compile(r"\btip\b", re.IGNORECASE)).first.click(
        timeout=2_000
    )
    sheet = page.get_by_role("dialog")
    sheet.get_by_label("Other amount").fill("1000")
    sheet.get_by_role("button", name="Review tip").click()
    sheet.get_by_role("button", name="Send ₩1,000").click()
    expect(page.locator(".chat-tip-event")).to_contain_text("₩1,000")


# --- report, hide in the admin, vanish live ------------------------------------------------


def file_report(page, reason: str = "Spam or scam"):
    page.get_by_label("Reason").select_option(label=reason)
    page.get_by_label("Details (optional)").fill("Link to a fake giveaway.")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")


def report_from_chat(page, text: str):
    message = chat_message(page, text)
    message.hover()  # a message's menu shows on hover (long-press on a touch screen)
    message.get_by_role("menuitem", name=re.compile("^Report the message from")).click()
    file_report(page)


def hide_in_admin(moderator_page, spam_text: str):
    page = moderator_page
    page.goto("/admin/community/moderationcase/")
    page.get_by_role("row").filter(has_text="Spam or scam").get_by_role("link").first.click()
    expect(page.get_by_text(spam_text).first).to_be_visible()
    page.get_by_label("Action").select_option(label="Hide the reported message")
    page.get_by_label("Note (why)").fill("Scam link.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist, .errornote").first).to_be_visible()
    expect(page.locator(".errornote")).to_have_count(0)


def test_reported_message_hidden_by_a_moderator_vanishes_live(new_person, jazz_room):
    room, host, member = jazz_room
    spammer = make_person("spammer")
    join(room, spammer, "Free Prizes")
    say(room, spammer, "Win a free phone at example.invalid")
    moderator = make_moderator()

    member_page = open_room(new_person(PHONE).log_in(member), room)
    expect(chat_message(member_page, "Win a free phone")).to_be_visible()

    # The host reports it from the chat, in their own browser.
    reporter = open_room(new_person(DESKTOP).log_in(host), room)
    report_from_chat(reporter, "Win a free phone")

    hide_in_admin(new_person(DESKTOP).log_in(moderator).page, "Win a free phone")

    expect(chat_message(member_page, "Win a free phone")).to_have_count(0)
    reloaded = open_room(new_person(PHONE).log_in(member), room)
    expect(chat_message(reloaded, "Win a free phone")).to_have_count(0)


def test_reported_message_hidden_by_a_moderator_is_gone_after_reload(new_person, jazz_room):
    room, host, member = jazz_room
    spammer = make_person("spammer")
    join(room, spammer, "Free Prizes")
    spam = say(room, spammer, "Win a free phone at example.invalid")
    moderator = make_moderator()

    reporter = new_person(DESKTOP).log_in(host).page
    reporter.goto(f"/report/message/{spam.pk}/")
    file_report(reporter)
    hide_in_admin(new_person(DESKTOP).log_in(moderator).page, "Win a free phone")

    member_page = open_room(new_person(PHONE).log_in(member), room)
    expect(chat_message(member_page, "This message was deleted.")).to_be_visible()
    expect(chat_message(member_page, "Win a free phone")).to_have_count(0)


def test_report_a_message_from_the_chat(new_person, jazz_room):
    room, _host, member = jazz_room
    spammer = make_person("spammer")
    join(room, spammer, "Free Prizes")
    say(room, spammer, "Win a free phone at example.invalid")
    page = open_room(new_person(PHONE).log_in(member), room)
    report_from_chat(page, "Win a free phone")
    assert ModerationCase.objects.filter(message__body__startswith="Win a free").count() == 1


def test_reply_with_the_keyboard_only(new_person, jazz_room):
    room, host, member = jazz_room
    say(room, member, "Blue Train or Giant Steps?")
    page = open_room(new_person(DESKTOP).log_in(host), room)
    # The composer has the focus; the message list is one tab stop before it.
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    for _ in range(4):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('chat-message')"):
            break
    question = chat_message(page, "Blue Train or Giant Steps?")
    expect(question).to_be_focused(timeout=1_000)
    page.keyboard.press("Enter")  # the message's menu; arrow keys walk it
    reply = question.get_by_role("menuitem", name="Reply to Night Owl")
    for _ in range(12):
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == (
            "Reply to Night Owl"
        ):
            break
        page.keyboard.press("ArrowDown")
    expect(reply).to_be_focused(timeout=1_000)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Replying to")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
