"""Every main page at phone and desktop widths: screenshots, and checks a person would see.

Screenshots land in e2e-screenshots/ (git-ignored), named ``<page>-<width>[-dark].png``.
Each page must fit its width (no sideways scrolling), keep one level-1 heading, and give
every form control an accessible name.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from community.chat.models import Message
from community.rooms.models import Membership, Room
from profiles.models import User
from tests.e2e.scenario_data import make_moderator
from tests.support.browser import DESKTOP, PHONE, screenshot

WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
DARK_PAGES = {"chats", "discover", "room", "wallet", "settings-profile"}


def main_pages(demo, moderator):
    """(name, path, who is signed in: None, the demo user or the moderator)."""
    joined = (
        Membership.objects.filter(user=demo, state=Membership.State.ACTIVE)
        .select_related("room")
        .order_by("room_id")
        .first()
        .room
    )
    other = Room.objects.exclude(memberships__user=demo).filter(visibility="public").first()
    public = Room.objects.filter(is_web_public=True, visibility="public").first()
    message = Message.objects.filter(room=joined, deleted_at__isnull=True).first()
    someone = User.objects.filter(username__startswith="demo_").exclude(pk=demo.pk).first()
    return [
        ("home", "/", None),
        ("search", "/rooms/?q=jazz", None),
        ("room-preview", f"/rooms/{public.pk}/", None),
        ("login", "/accounts/login/", None),
        ("signup", "/accounts/signup/", None),
        ("chats", "/", demo),
        ("discover", "/discover/", demo),
        ("search-interest", "/rooms/?interest=music", demo),
        ("room", f"/rooms/{joined.pk}/", demo),
        ("room-info", f"/rooms/{joined.pk}/info/", demo),
        ("room-members", f"/rooms/{joined.pk}/members/", demo),
        ("room-me", f"/rooms/{joined.pk}/me/", demo),
        ("room-join", f"/rooms/{other.pk}/join/", demo),
        ("room-new", "/rooms/new/", demo),
        ("profile", f"/u/{demo.profile.handle}/", demo),
        ("profile-other", f"/u/{someone.profile.handle}/", demo),
        ("friends", "/friends/", demo),
        ("settings-profile", "/settings/profile/", demo),
        ("settings-preferences", "/settings/preferences/", demo),
        ("settings-account", "/settings/account/", demo),
        ("password-change", "/accounts/password/", demo),
        ("wallet", "/wallet/", demo),
        ("wallet-topup", "/wallet/topup/", demo),
        ("wallet-tip", f"/wallet/tip/?message={message.pk}", demo),
        ("wallet-statement", "/wallet/statement/", demo),
        ("fees", "/fees/", demo),
        ("report", f"/report/message/{message.pk}/", demo),
        ("admin-moderation-queue", "/admin/community/moderationcase/", moderator),
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
  // Elements sticking out past the right edge, except inside boxes that scroll or clip
  // sideways on purpose (chip rows, tables) and visually hidden text.
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      if (getComputedStyle(node).overflowX !== 'visible') return true;
    }
    return false;
  };
  return [...document.querySelectorAll('body *')]
    .filter((el) => {
      const box = el.getBoundingClientRect();
      return box.width && box.right > width + 1 && el.checkVisibility();
    })
    .filter((el) => !el.closest('.visually-hidden, .skip-link') && !clipped(el))
    .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''))
    .slice(0, 5);
}
"""


@pytest.fixture
def demo(server):
    call_command("seed_demo", stdout=StringIO())
    person = User.objects.filter(username__startswith="demo_").order_by("pk").first()
    # Demo people prefer various languages; the checks below read English labels.
    User.objects.filter(pk=person.pk).update(locale="en")
    person.refresh_from_db()
    return person


def check_page(page, name: str) -> list[str]:
    """What a person would trip over on this page (empty when all is well)."""
    if name.startswith("admin-"):
        return []  # Django's admin keeps its own design
    problems = []
    headings = page.get_by_role("heading", level=1).count()
    if headings != 1:
        problems.append(f"{name}: {headings} level-1 headings")
    if unlabelled := page.evaluate(UNLABELLED_CONTROLS):
        problems.append(f"{name}: controls without a name: {unlabelled}")
    if overflowing := page.evaluate(OVERFLOW):
        problems.append(f"{name}: wider than the screen: {overflowing}")
    return problems


def settle(page, name: str):
    """Waits for what a person waits for: the live chat to connect."""
    if name == "room":
        expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()


def test_main_pages_fit_and_are_screenshotted(new_person, demo):
    """One seeded database, every main page at both widths, and a few in dark mode."""
    moderator = make_moderator()
    pages = main_pages(demo, moderator)
    problems = []
    for width, viewport in WIDTHS.items():
        people = {
            None: new_person(viewport),
            demo: new_person(viewport).log_in(demo),
            moderator: new_person(viewport).log_in(moderator),
        }
        for name, path, who in pages:
            page = people[who].goto(path)
            settle(page, name)
            problems += check_page(page, f"{name}-{width}")
            screenshot(page, f"{name}-{width}")
        dark = new_person(viewport, color_scheme="dark").log_in(demo)
        for name, path, _ in pages:
            if name not in DARK_PAGES:
                continue
            page = dark.goto(path)
            settle(page, name)
            problems += check_page(page, f"{name}-{width}-dark")
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") != (
                "rgb(255, 255, 255)"
            )
            screenshot(page, f"{name}-{width}-dark")
    assert not problems, "\n".join(problems)
