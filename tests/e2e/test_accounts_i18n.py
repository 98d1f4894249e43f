"""Accounts, host tools and languages as people use them: a signed-out heart opens the
log-in sheet, people search to follow and to block (asked first), a host kicks from the
member menu (asked first) and undoes it, and the new pages in English, Korean and
Japanese at 390 and 1440 pixels (screenshots in e2e-screenshots/)."""

import re

import pytest
from playwright.sync_api import expect

from community.reactions.services import check_add_reaction
from community.rooms.models import Membership
from profiles.services import follow_user
from tests.e2e.scenario_data import join, make_person, make_room
from tests.support.browser import screenshot

PHONE_390 = {"width": 390, "height": 844}
DESKTOP_1440 = {"width": 1440, "height": 900}


def test_a_signed_out_heart_opens_the_log_in_sheet(new_person):
    host = make_person("hana")
    room = make_room(host)
    check_add_reaction(user=host, target_type="room", target_id=room.pk, emoji="❤️")
    page = new_person(PHONE_390).goto("/")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Late-night jazz")
    )
    card.get_by_role("button", name=re.compile("❤️\\s*1")).first.click()
    sheet = page.get_by_role("dialog", name="Log in to join in")
    expect(sheet).to_be_visible()
    expect(sheet.get_by_role("link", name="Log in")).to_have_attribute(
        "href", "/accounts/login/?next=%2F"
    )
    expect(page.get_by_text("Authentication credentials")).to_have_count(0)
    screenshot(page, "login-sheet-phone")
    sheet.get_by_role("button", name="Not now").click()
    expect(sheet).to_be_hidden()


def test_find_someone_follow_them_and_block_after_reading_what_it_does(new_person):
    me = make_person("viewer", display_name="Viewer")
    make_person("minji_kim", display_name="김민지")
    page = new_person().log_in(me).goto("/friends/")
    page.get_by_role("link", name="Find people to follow").click()
    page.get_by_role("searchbox", name="Search people").fill("민지")
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("listitem").filter(has_text="김민지")
    row.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    page.get_by_role("link", name=re.compile("김민지")).click()
    page.get_by_role("link", name="Block").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Block 김민지 (@minji_kim)?")
    expect(page.get_by_text("They are not told.")).to_be_visible()
    page.get_by_role("button", name="Block").click()
    expect(page.get_by_role("button", name="Unblock")).to_be_visible()


def test_a_host_kicks_from_the_member_menu_after_confirming_and_undoes_it(new_person):
    host = make_person("hana")
    room = make_room(host)
    guest = make_person("guest")
    join(room, guest, "Night Owl")
    page = new_person().log_in(host).goto(f"/rooms/{room.pk}/members/")
    row = page.get_by_role("listitem").filter(has_text="Night Owl")
    row.get_by_text("Manage").click()
    row.get_by_role("link", name="Kick…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kick “Night Owl” out of the room?")
    page.get_by_role("button", name="Kick").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "“Night Owl” was removed from the room."
    )
    assert Membership.objects.get(room=room, user=guest).state == "left"
    page.get_by_role("button", name="Undo").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.pk}/members/$"))
    expect(page.get_by_text("“Night Owl” is back in the room.")).to_be_visible()
    expect(page.locator(".member-row").filter(has_text="Night Owl")).to_be_visible()
    assert Membership.objects.get(room=room, user=guest).state == "active"


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_new_pages_fit_both_widths_in_three_languages(new_person, language):
    host = make_person("hana", display_name="하나", locale=language)
    room = make_room(host, "재즈 카페 ジャズ喫茶", nickname="호스트")
    guest = make_person("guest", display_name="게스트")
    membership = join(room, guest, "밤 부엉이")
    fan = make_person("fan", display_name="ファン")
    follow_user(follower=fan, followee=host)
    pages = [
        ("people", "/people/"),
        ("people-search", "/people/?q=게"),
        ("friends", "/friends/"),
        ("members", f"/rooms/{room.pk}/members/"),
        ("confirm-kick", f"/rooms/{room.pk}/members/{membership.pk}/confirm/kick/"),
        ("confirm-ban", f"/rooms/{room.pk}/members/{membership.pk}/confirm/ban/"),
        ("block", f"/u/{guest.profile.handle}/block/"),
        ("notifications", "/notifications/"),
    ]
    for viewport, size in ((PHONE_390, "phone"), (DESKTOP_1440, "desktop")):
        person = new_person(viewport).log_in(host)
        for name, path in pages:
            page = person.goto(path)
            assert page.locator("html").get_attribute("lang") == language
            if name == "members":
                page.locator("details.member-menu summary").first.click()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (name, language, size, width)
            screenshot(page, f"accounts-{name}-{language}-{size}")
        if size == "phone":
            # Tab labels stay on one line ("マイページ", not "マイプロフィー/ル").
            lines = page.locator(".nav-primary a").evaluate_all(
                "links => links.map(a => { const r = document.createRange();"
                " r.selectNodeContents(a.lastChild); return r.getClientRects().length; })"
            )
            assert lines and set(lines) == {1}, (language, lines)


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_sign_up_and_password_reset_pages_fit_both_widths_in_three_languages(
    browser, server, language
):
    # The browser asks for the language (no account yet): the pages follow it.
    for viewport, size in ((PHONE_390, "phone"), (DESKTOP_1440, "desktop")):
        context = browser.new_context(
            viewport=viewport, base_url=server.url, locale=language, timezone_id="Asia/Tokyo"
        )
        try:
            page = context.new_page()
            for name, path in (
                ("signup", "/accounts/signup/"),
                ("login", "/accounts/login/"),
                ("password-reset", "/accounts/password/reset/"),
                ("password-reset-sent", "/accounts/password/reset/sent/"),
            ):
                page.goto(path)
                assert page.locator("html").get_attribute("lang") == language
                if name == "signup":
                    expect(page.locator("input[name=timezone]")).to_have_value("Asia/Tokyo")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], (name, language, size, width)
                screenshot(page, f"accounts-{name}-{language}-{size}")
        finally:
            context.close()
