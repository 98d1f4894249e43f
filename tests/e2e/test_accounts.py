"""Sign-up, log-in, log-out and the language switcher, as a person uses them."""

import re

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.support.browser import PHONE, log_out


def test_sign_up_lands_signed_in_on_the_home_page(new_person):
    person = new_person(PHONE)
    page = person.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your Moim account")
    page.get_by_label("Username").fill("김서연")
    page.get_by_label("Password").fill("a-good-long-passphrase")
    page.get_by_role("button", name="Sign up").click()
    expect(
        page.get_by_role("navigation", name="Main").get_by_text("Account", exact=True)
    ).to_be_visible()
    assert get_user_model().objects.get(username="김서연").profile.handle == "김서연"


def test_sign_up_errors_show_in_place_and_keep_the_form(new_person, make_user):
    make_user("taken")
    page = new_person().goto("/accounts/signup/")
    page.get_by_label("Username").fill("TAKEN")
    page.get_by_label("Password").fill("123")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert").filter(has_text="This username is taken.")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("TAKEN")
    expect(
        page.get_by_role("navigation", name="Main").get_by_text("Account", exact=True)
    ).to_have_count(0)


def test_log_in_with_the_keyboard_then_log_out(new_person, make_user, password):
    make_user("minji")
    page = new_person().goto("/accounts/login/")
    page.get_by_label("Username").fill("minji")
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    log_out(page)
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_wrong_password_is_refused_in_place(new_person, make_user):
    make_user("minji")
    page = new_person().goto("/accounts/login/")
    page.get_by_label("Username").fill("minji")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")


def test_language_switcher_switches_and_remembers(new_person):
    page = new_person().goto("/accounts/login/")
    language = page.get_by_role("navigation", name="Main").get_by_label("Site language")
    language.select_option("ko")
    # The form submits itself on change and comes back to the same page.
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    # The page, its labels included, is now in Korean.
    language = page.get_by_role("navigation", name="메인").get_by_label("사이트 언어")
    expect(language).to_have_value("ko")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    language.select_option("ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def test_skip_link_is_the_first_tab_stop(new_person):
    page = new_person().goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()


def test_phone_tab_bar_and_account_menu_work_with_the_keyboard(new_person, make_user):
    page = new_person(PHONE).log_in(make_user("minji")).goto("/wallet/")
    tabs = page.get_by_role("navigation", name="Main").get_by_role("list")
    expect(tabs.get_by_role("link", name="Wallet")).to_have_attribute("aria-current", "page")
    box = tabs.bounding_box()
    assert box is not None and box["y"] + box["height"] == PHONE["height"]  # at the bottom

    summary = page.get_by_role("navigation", name="Main").get_by_text("Account", exact=True)
    summary.focus()
    page.keyboard.press("Enter")
    settings = page.get_by_role("link", name="Settings")
    expect(settings).to_be_visible()
    page.keyboard.press("Tab")
    expect(settings).to_be_focused()
    page.keyboard.press("Escape")
    expect(settings).to_be_hidden()
    expect(summary).to_be_focused()
