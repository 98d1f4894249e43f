"""The browser harness: the real ASGI app under uvicorn, driven by headless Chromium.

The one way a test opens a browser: ask for ``new_person`` (a browser context and page
of one's own, signed in or not) or, for a bare context, ``browser`` and ``server``.
Every test that uses the ``browser`` fixture, directly or through another fixture, is
marked ``e2e`` at collection (below), so ``-m "not e2e"`` skips all of them and a new
browser test cannot forget the mark.

The server runs in a background thread of the test process, so it shares the test
database (committed by ``transactional_db``), the cache and the channel layer (the
in-memory one on SQLite, Redis when ``REDIS_URL`` is set). It listens on a port the
kernel picks for the socket it holds, so parallel workers never collide. A test module
can serve its own URLconf (a page made for the test) with ``LIVE_SERVER_URLCONF``.
Chromium is Debian's package, launched by path: nothing is downloaded. Registered for
the whole suite by ``pytest_plugins`` in tests/conftest.py.
"""

import asyncio
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client, override_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOT_DIR = Path(django_settings.BASE_DIR) / "e2e-screenshots"
# Every expect() waits at most this long: a live update that takes longer is a bug.
EXPECT_TIMEOUT_MS = 5_000


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in item.fixturenames or "tests/e2e/" in item.path.as_posix():
            item.add_marker(pytest.mark.e2e)
            # WhiteNoise hands ASGI a sync file iterator; harmless for tests.
            item.add_marker(pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"))


def _build_application():
    """The project's ASGI app, with a fresh Django handler that serves static files.

    ``config.asgi`` builds its HTTP handler at import time; WhiteNoise reads its settings
    then. Tests run with DEBUG off and no collected STATIC_ROOT, so a second handler is
    built here with WhiteNoise's finders on; the WebSocket stack is the project's own.
    """
    from channels.routing import ProtocolTypeRouter
    from django.core.asgi import get_asgi_application

    import config.asgi

    return ProtocolTypeRouter(
        {
            "http": get_asgi_application(),
            "websocket": config.asgi.application.application_mapping["websocket"],
        }
    )


class LiveServer:
    def __init__(self, application):
        import uvicorn

        # Bound here and handed to uvicorn: no window in which another process takes it.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application,
            ws="websockets-sansio",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="e2e-uvicorn", daemon=True)

    def _run(self):
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self):
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                return
            if not self.thread.is_alive():
                break
            threading.Event().wait(0.025)
        raise RuntimeError("the e2e server did not start")

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def _live_server_settings(request, django_db_setup):
    overrides = {"WHITENOISE_USE_FINDERS": True, "WHITENOISE_AUTOREFRESH": True}
    urlconf = getattr(request.module, "LIVE_SERVER_URLCONF", None)
    if urlconf:
        overrides["ROOT_URLCONF"] = urlconf
    with override_settings(**overrides):
        yield


@pytest.fixture(scope="module")
def live_app_server(_live_server_settings):
    """The app for one test module; it stops (and the settings return) when the module ends.

    With a channel layer object of its own: the Redis layer's per-process receive locks
    belong to the event loop that first used them, and earlier tests ran other loops."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    server = LiveServer(_build_application())
    server.start()
    yield server
    server.stop()
    channel_layers.backends.clear()


@pytest.fixture
def server(live_app_server, transactional_db):
    """The running app, with this test's data committed and visible to it."""
    # Background tasks (media processing) run in the request that queued them, after its
    # commit, as there is no worker process here.
    from config.celery import app as celery_app

    was_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield live_app_server
    celery_app.conf.task_always_eager = was_eager


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """One Chromium per test module (Playwright starts it with a profile of its own in a
    fresh temporary directory, so parallel workers share nothing).

    Playwright's sync API keeps an asyncio loop marked as running on this thread while it
    is open, and Django refuses ORM calls from threads with a running loop. So the test
    database exists before Playwright starts, the guard is off only while it runs, and
    Playwright stops at the end of each module, before other test files run.
    """
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make e2e-deps` installs Debian's chromium.")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def session_cookie(user, url: str) -> dict:
    """A browser cookie signing ``user`` in (the log-in form has its own tests)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    return {"name": cookie.key, "value": cookie.value, "url": url}


class Person:
    """One person's own browser context (cookies, storage) and page."""

    def __init__(self, browser, server, viewport, color_scheme="light", init_script=None):
        self.server = server
        self.context = browser.new_context(
            viewport=viewport,
            base_url=server.url,
            locale="en-US",
            timezone_id="UTC",
            color_scheme=color_scheme,
        )
        self.context.set_default_timeout(8_000)
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Chromium reports what the Content-Security-Policy blocked on the console.
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def log_in(self, user):
        """Signs ``user`` in by session cookie: the log-in form has its own test."""
        self.context.add_cookies([session_cookie(user, self.server.url)])
        return self

    def goto(self, path):
        response = self.page.goto(path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def new_person(server, browser):
    """``new_person(viewport=DESKTOP, color_scheme="light", init_script=None)``: a person
    with a browser context of their own; JavaScript errors fail the test at the end."""
    people = []

    def make(viewport=DESKTOP, color_scheme="light", init_script=None):
        person = Person(browser, server, viewport, color_scheme, init_script)
        people.append(person)
        return person

    yield make
    for person in people:
        person.close()
    for person in people:
        assert not person.errors, f"JavaScript errors: {person.errors}"


def screenshot(page, name: str) -> Path:
    """Screenshots into e2e-screenshots/ (git-ignored): the whole page, and on a phone
    also the first screenful as the person sees it (``-fold``), fixed tab bar included
    (a full-page capture draws fixed bars where they sit in the first screenful)."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    # From the top, as the page opens (the chat scrolls the window to the unread divider).
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    if page.viewport_size and page.viewport_size["width"] < 600:
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}-fold.png"), animations="disabled")
    return path


def open_account_menu(page):
    menu = page.get_by_role("navigation", name="Main").locator("details.account-menu")
    if menu.get_attribute("open") is None:
        menu.get_by_text("Account", exact=True).click()
    return menu


def log_out(page):
    open_account_menu(page).get_by_role("button", name="Log out").click()


def message_menu_item(message, text: str):
    """A chat message's menu item (the menu opens on hover, long-press or Enter; here
    Enter on the focused message, which works at every width): the first whose text
    contains ``text``."""
    message.focus()
    message.press("Enter")
    item = message.locator('.chat-actions [role="menuitem"]', has_text=text).first
    item.wait_for(state="visible")
    return item


def composer_entry(page, name: str):
    """An entry of the chat composer's attach (+) menu (photo, poll, event, search),
    with the menu opened as a person opens it."""
    page.get_by_label("Attach", exact=True).click()
    entry = page.locator("[data-chat-attach-menu] .chat-attach").get_by_role(
        "button", name=name, exact=True
    )
    entry.wait_for(state="visible")
    return entry
