"""Every main page at phone and desktop widths: screenshots, and checks a person would see.

Screenshots land in e2e-screenshots/ (git-ignored), named ``<page>-<width>[-dark].png``.
Each page must fit its width (no sideways scrolling), keep one level-1 heading, and give
every form control an accessible name.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from profiles.models import User
from tests.e2e.conftest import DESKTOP, PHONE, screenshot

WIDTHS = {"phone": PHONE, "desktop": DESKTOP}

# name, path, signed in as the demo user?
PAGES = [
    ("home", "/", False),
    ("home-signed-in", "/", True),
    ("login", "/accounts/login/", False),
    ("signup", "/accounts/signup/", False),
    ("password-change", "/accounts/password/", True),
]

UNLABELLED_CONTROLS = """
() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && !el.closest('[hidden], [aria-hidden=true]'))
  .filter((el) => el.offsetParent !== null)
  .filter((el) => {
    const labelled = el.labels?.length || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    const text = (el.tagName === 'BUTTON' && el.textContent.trim())
      || (el.value && el.type === 'submit');
    return !(labelled || text);
  })
  .map((el) => el.outerHTML.slice(0, 120))
"""

OVERFLOW = """
() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter((el) => {
      const box = el.getBoundingClientRect();
      return box.width && box.right > width + 1;
    })
    .filter((el) => !el.closest('.visually-hidden, .skip-link'))
    .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''))
    .slice(0, 5);
}
"""


@pytest.fixture
def demo(server):
    call_command("seed_demo", stdout=StringIO())
    return User.objects.filter(username__startswith="demo_").order_by("pk").first()


def check_page(page, name: str):
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.evaluate(UNLABELLED_CONTROLS) == [], f"{name}: controls without a name"
    assert page.evaluate(OVERFLOW) == [], f"{name}: wider than the screen"


def test_main_pages_fit_and_are_screenshotted(new_person, demo):
    """One seeded database, every page at both widths, and the home page in dark mode."""
    for width, viewport in WIDTHS.items():
        anonymous = new_person(viewport)
        signed_in = new_person(viewport).log_in(demo)
        for name, path, needs_login in PAGES:
            page = (signed_in if needs_login else anonymous).goto(path)
            check_page(page, f"{name}-{width}")
            screenshot(page, f"{name}-{width}")
        dark = new_person(viewport, color_scheme="dark").log_in(demo)
        page = dark.goto("/")
        check_page(page, f"home-{width}-dark")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != (
            "rgb(255, 255, 255)"
        )
        screenshot(page, f"home-{width}-dark")
