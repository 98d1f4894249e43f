"""An image message sent from the chat page in a real browser (Chromium via Playwright)
against a real ASGI server: the attach button, the preview sheet, the upload, the
thumbnail loaded through the permission-checked media view, live on the other member's
page too."""

import pytest

from community.chat.models import Message
from community.media.models import MediaAsset
from tests.community import media_samples
from tests.community.browser_support import CHAT_PAGE_URLCONF, page_for

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_dir", "eager_tasks"),
]


def _loaded_image_width(page, seq: int) -> int:
    selector = f'.chat-message[data-seq="{seq}"] figure.media-ready img'
    page.wait_for_selector(selector, timeout=15000)
    page.wait_for_function(
        # A function, not an expression: Playwright evals expressions, which the
        # page's Content-Security-Policy (no 'unsafe-eval') refuses.
        f"() => document.querySelector('{selector}').complete"
        f" && document.querySelector('{selector}').naturalWidth > 0",
        timeout=15000,
    )
    return page.eval_on_selector(selector, "img => img.naturalWidth")


def test_send_an_image_from_the_chat_page(new_person, make_user, make_room, make_member):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")

    page = page_for(new_person, guest)
    host_page = page_for(new_person, host)
    for each in (page, host_page):
        each.goto(f"/chat-test/{room.pk}/")
        each.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)

    page.fill("[data-chat-input]", "the view from here")
    page.set_input_files(
        "[data-media-input]",
        {
            "name": "lake.jpg",
            "mimeType": "image/jpeg",
            "buffer": media_samples.jpeg_with_gps(),
        },
    )
    # The preview sheet: what was typed is the caption; Send uploads it.
    assert page.input_value(".media-compose-caption") == "the view from here"
    page.click(".media-compose-send")

    assert _loaded_image_width(page, 1) == 720
    assert _loaded_image_width(host_page, 1) == 720
    caption = page.locator('.chat-message[data-seq="1"] .chat-body').inner_text()
    assert caption == "the view from here"
    assert page.input_value("[data-chat-input]") == ""
    message = Message.objects.select_related("media").get(room=room, seq=1)
    assert message.kind == Message.Kind.IMAGE
    assert message.media.state == MediaAsset.State.READY

    # A file that is not an image or video: the server's error is shown in the sheet.
    page.set_input_files(
        "[data-media-input]",
        {"name": "cat.png", "mimeType": "image/png", "buffer": media_samples.HTML},
    )
    page.click(".media-compose-send")
    page.wait_for_selector(".media-compose-error:not([hidden])", timeout=10000)
    assert "not supported" in page.inner_text(".media-compose-error")
    assert Message.objects.filter(room=room).count() == 1
    # The sheet keeps the file until it is removed or cancelled.
    page.click(".media-compose-cancel")
    page.wait_for_selector(".media-compose", state="hidden")
