"""Password reset from the log-in page (the email read from Django's outbox), the time
zone taken at sign-up, and the wallet and statement on a 390 px phone in three languages."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from commerce.services import create_topup, send_tip
from tests.support.browser import screenshot

PHONE_390 = {"width": 390, "height": 844}
DESKTOP_1440 = {"width": 1440, "height": 900}
NEW_PASSWORD = "a-brand-new-passphrase-42"


def test_password_reset_by_email(new_person, make_user):
    make_user("minji", email="minji@example.com")
    mail.outbox.clear()
    person = new_person(PHONE_390)
    page = person.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill("minji@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    (message,) = mail.outbox
    link = re.search(r"https?://\S+", message.body).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    person.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
    screenshot(page, "password-reset-complete-phone")
    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Username").fill("minji")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    user = get_user_model().objects.get(username="minji")
    assert user.email_verified


def test_sign_up_takes_the_browsers_time_zone(browser, server):
    context = browser.new_context(
        viewport=PHONE_390, base_url=server.url, locale="en-US", timezone_id="America/New_York"
    )
    try:
        page = context.new_page()
        page.goto("/accounts/signup/")
        expect(page.locator("input[name=timezone]")).to_have_value("America/New_York")
        page.get_by_label("Username").fill("haruto")
        page.get_by_label("Password").fill("a-good-long-passphrase")
        page.get_by_role("button", name="Sign up").click()
        expect(page).to_have_url(re.compile(r"/$"))
        user = get_user_model().objects.get(username="haruto")
        assert (user.timezone, user.currency) == ("America/New_York", "USD")
        assert page.locator("html").get_attribute("data-time-zone") == "America/New_York"
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_wallet_and_statement_fit_a_390px_phone(new_person, make_user, language):
    creator = make_user("creator_with_a_long_handle", locale=language, email="c@example.com")
    fan = make_user("fan")
    for amount in (120_000, 2_700, 1_000_000):
        create_topup(user=fan, amount=amount, currency="KRW")
    create_topup(user=creator, amount=123_456, currency="USD")
    for amount in (3_000, 27_000, 999_000):
        send_tip(sender=fan, amount=amount, currency="KRW", recipient_handle=creator.profile.handle)
    for viewport, size in ((PHONE_390, "phone"), (DESKTOP_1440, "desktop")):
        person = new_person(viewport).log_in(creator)
        for path, name in (("/wallet/", "wallet"), ("/wallet/statement/", "statement")):
            page = person.goto(path)
            if size == "phone":
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, (path, language, width)
                # Every amount cell is whole inside the screen (nothing cut, e.g. "₩2,7").
                boxes = page.locator(".statement-lines td.num").evaluate_all(
                    "cells => cells.map(c => c.getBoundingClientRect().right)"
                )
                assert boxes and max(boxes) <= 390
                expect(page.locator(".statement-lines thead")).not_to_be_in_viewport()
            screenshot(page, f"{name}-{language}-{size}")
