"""Links in the chat as people see them, in Chromium at phone and desktop size: the
composer shows the card while the message is written, the address in the message becomes
a link, and the page's card (fetched by the server from a local site, its image stored
and served by Moim) appears live for everyone in the room, fetched once."""

import pytest
from playwright.sync_api import expect

from tests.community import media_samples
from tests.community.browser_support import CHAT_PAGE_URLCONF, INIT_SCRIPT
from tests.support.browser import DESKTOP, PHONE, screenshot
from tests.support.web_pages import og_page

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def open_chat(new_person, user, room, viewport):
    page = new_person(viewport=viewport, init_script=INIT_SCRIPT).log_in(user).page
    page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    return page


@pytest.mark.parametrize(
    "viewport", [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]
)
def test_a_link_gets_its_preview_card(new_person, previews_on, room_with_two, viewport, request):
    room, host, guest = room_with_two
    web = previews_on
    web.page("/poster.jpg", body=media_samples.jpeg((1200, 630)), content_type="image/jpeg")
    url = web.page(
        "/night",
        body=og_page(
            title="<img src=x onerror=alert(1)> Jazz night",
            description="Saturday, 8 pm, at the corner club",
            image="/poster.jpg",
            site="Corner Club",
        ),
    )
    page = open_chat(new_person, guest, room, viewport)
    host_page = open_chat(new_person, host, room, DESKTOP)

    # While it is written, the composer shows the card the message will get.
    page.fill("[data-chat-input]", f"Coming? {url}")
    page.press("[data-chat-input]", ".")
    page.press("[data-chat-input]", " ")  # an address is looked up once it is complete
    composer = page.locator(".link-compose")
    expect(composer.locator(".link-card-title")).to_have_text(
        "<img src=x onerror=alert(1)> Jazz night"
    )
    screenshot(page, f"chat-link-compose-{request.node.callspec.id}")
    page.press("[data-chat-input]", "Enter")
    expect(composer).to_be_hidden()
    for each in (page, host_page):
        message = each.locator('.chat-message[data-seq="1"]')
        link = message.locator(".chat-body a.chat-link")
        expect(link).to_have_text(url)  # the sentence's full stop is not part of it
        assert link.get_attribute("href") == url
        assert "noopener" in link.get_attribute("rel")
        card = message.locator("a.link-card")
        expect(card).to_be_visible()
        assert card.get_attribute("href") == url
        # The title is text, never markup.
        expect(card.locator(".link-card-title")).to_have_text(
            "<img src=x onerror=alert(1)> Jazz night"
        )
        expect(card.locator(".link-card-description")).to_have_text(
            "Saturday, 8 pm, at the corner club"
        )
        expect(card.locator(".link-card-site")).to_have_text("Corner Club")
        image = card.locator("img.link-card-image")
        each.wait_for_function(
            "() => { const img = document.querySelector('.link-card-image');"
            " return img && img.complete && img.naturalWidth > 0; }",
            timeout=10000,
        )
        # Moim's own copy, not the site's file.
        assert image.get_attribute("src").startswith("/api/v1/link-previews/")
        assert image.evaluate("img => img.naturalWidth") == 600
    # A Korean particle attached to an address is not part of the link.
    page.fill("[data-chat-input]", "어제 https://moim.invalid에서 봤어")
    page.press("[data-chat-input]", "Enter")
    attached = page.locator('.chat-message[data-seq="2"] .chat-body a.chat-link')
    expect(attached).to_have_text("https://moim.invalid")
    assert web.hits["/night"] == 1
    assert web.hits["/poster.jpg"] == 1
    screenshot(page, f"chat-link-preview-{request.node.callspec.id}")
