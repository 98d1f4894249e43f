"""Photos in the chat as people send and look at them, in Chromium at phone and desktop
size: the preview sheet (picked, pasted, dropped; caption, remove, cancel, send) and the
full-size viewer (open, arrows, swipe, download, Esc)."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from community.chat.models import Message
from tests.community import media_samples
from tests.community.browser_support import CHAT_PAGE_URLCONF, INIT_SCRIPT
from tests.support.accounts import client_for
from tests.support.browser import DESKTOP, PHONE, screenshot

LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_dir", "eager_tasks"),
]

SIZES = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]

# Builds a File from base64 in the page and hands it over as a paste or a drop (what a
# clipboard or a file manager gives the browser).
GIVE_FILE = """([how, name, type, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  if (how === "paste") {
    document.querySelector("[data-chat-input]").dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
  } else {
    const chat = document.querySelector("#chat");
    for (const kind of ["dragenter", "dragover", "drop"]) {
      const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
      chat.dispatchEvent(new DragEvent(kind, init));
    }
  }
}"""


def open_chat(new_person, user, room, viewport):
    page = new_person(viewport=viewport, init_script=INIT_SCRIPT).log_in(user).page
    page.goto(f"/chat-test/{room.pk}/")
    page.wait_for_selector("[data-chat-connection][data-state=open]", timeout=15000)
    return page


def png_b64(size) -> str:
    return base64.b64encode(media_samples.png(size, "RGB")).decode()


@pytest.mark.parametrize("viewport", SIZES)
def test_photos_get_a_preview_with_a_caption_before_sending(
    new_person, room_with_two, viewport, request
):
    room, _host, guest = room_with_two
    page = open_chat(new_person, guest, room, viewport)
    sheet = page.locator(".media-compose")

    # Picked: what was typed becomes the caption; one file can be removed; Cancel sends
    # nothing and gives the text back.
    page.fill("[data-chat-input]", "our trip")
    page.set_input_files(
        "[data-media-input]",
        [
            {"name": "lake.jpg", "mimeType": "image/jpeg", "buffer": media_samples.jpeg()},
            {"name": "hill.png", "mimeType": "image/png", "buffer": media_samples.png()},
        ],
    )
    expect(sheet).to_be_visible()
    expect(sheet.locator(".media-compose-item")).to_have_count(2)
    expect(sheet.locator(".media-compose-title")).to_have_text("Send 2 photos and videos")
    expect(sheet.locator(".media-compose-caption")).to_have_value("our trip")
    expect(page.locator("[data-chat-input]")).to_have_value("")
    # The thumbnails are the chosen files themselves (object URLs), drawn before upload.
    assert sheet.locator("img.media-compose-thumb").first.evaluate(
        "img => img.src.startsWith('blob:')"
    )
    sheet.get_by_role("button", name="Remove hill.png").click()
    expect(sheet.locator(".media-compose-item")).to_have_count(1)
    screenshot(page, f"chat-media-preview-{request.node.callspec.id}")
    sheet.get_by_role("button", name="Cancel").click()
    expect(sheet).to_be_hidden()
    expect(page.locator("[data-chat-input]")).to_have_value("our trip")
    assert not Message.objects.filter(room=room).exists()

    # Pasted from the clipboard: a caption, then Send.
    page.fill("[data-chat-input]", "")
    page.evaluate(GIVE_FILE, ["paste", "pasted.png", "image/png", png_b64((400, 300))])
    expect(sheet.locator(".media-compose-name")).to_contain_text("pasted.png")
    sheet.locator(".media-compose-caption").fill("from the clipboard")
    sheet.get_by_role("button", name="Send", exact=True).click()
    expect(sheet).to_be_hidden()
    first = page.locator('.chat-message[data-seq="1"]')
    expect(first.locator("figure.media-ready img")).to_be_visible(timeout=15000)
    expect(first.locator(".chat-body")).to_have_text("from the clipboard")

    # Dropped onto the chat; Enter in the caption sends.
    page.evaluate(GIVE_FILE, ["drop", "dropped.png", "image/png", png_b64((300, 400))])
    expect(sheet.locator(".media-compose-name")).to_contain_text("dropped.png")
    sheet.locator(".media-compose-caption").fill("dropped in")
    sheet.locator(".media-compose-caption").press("Enter")
    second = page.locator('.chat-message[data-seq="2"]')
    expect(second.locator("figure.media-ready img")).to_be_visible(timeout=15000)
    expect(second.locator(".chat-body")).to_have_text("dropped in")
    assert list(Message.objects.filter(room=room).order_by("seq").values_list("kind", "body")) == [
        ("image", "from the clipboard"),
        ("image", "dropped in"),
    ]

    # Not a photo or video: refused before anything is uploaded.
    page.evaluate(GIVE_FILE, ["drop", "notes.pdf", "application/pdf", "JVBERi0="])
    expect(page.locator("[data-chat-error]")).to_contain_text("Only photos and videos")
    expect(sheet).to_be_hidden()


@pytest.mark.parametrize("viewport", SIZES)
def test_images_open_full_size_and_swipe_between_the_rooms_images(
    new_person, room_with_two, viewport, request
):
    room, _host, guest = room_with_two
    client = client_for(guest)
    colors = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220)}
    for caption, color in colors.items():
        image = media_samples.jpeg((1600, 1000), color=color)
        response = client.post(
            f"/api/v1/rooms/{room.pk}/messages/",
            {"file": SimpleUploadedFile(f"{caption}.jpg", image), "body": caption},
            format="multipart",
        )
        assert response.status_code == 201
    assets = [
        Message.objects.select_related("media").get(room=room, seq=seq).media for seq in (1, 2, 3)
    ]
    page = open_chat(new_person, guest, room, viewport)
    images = page.locator("figure.media-image.media-ready img")
    expect(images).to_have_count(3, timeout=15000)

    viewer = page.locator("dialog.media-viewer")
    images.nth(1).click()
    expect(viewer).to_be_visible()
    expect(viewer.locator(".media-viewer-counter")).to_have_text("2 of 3")
    expect(viewer.locator(".media-viewer-caption")).to_have_text("green")
    big = viewer.locator(".media-viewer-image")
    page.wait_for_function(
        "() => document.querySelector('.media-viewer-image').naturalWidth > 0", timeout=15000
    )
    # Full size: the stored original (1600 px wide), not the bubble's 720 px thumbnail.
    assert big.evaluate("img => img.naturalWidth") == 1600
    download = viewer.get_by_role("link", name="Download")
    assert download.get_attribute("href") == big.get_attribute("src")
    assert download.get_attribute("download") == f"moim-{assets[1].pk}.webp"
    assert download.get_attribute("href").endswith(f"/api/v1/media/{assets[1].key}/original/")
    # The dialog holds the focus (modal): tabbing never leaves it.
    for _ in range(6):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('dialog.media-viewer')")
    screenshot(page, f"chat-media-viewer-{request.node.callspec.id}")

    page.keyboard.press("ArrowRight")
    expect(viewer.locator(".media-viewer-counter")).to_have_text("3 of 3")
    expect(viewer.get_by_role("button", name="Next image")).to_be_disabled()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(viewer.locator(".media-viewer-counter")).to_have_text("1 of 3")
    expect(viewer.locator(".media-viewer-caption")).to_have_text("red")

    # A swipe to the left shows the next image.
    box = viewer.locator(".media-viewer-stage").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.7, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=5)
    page.mouse.up()
    expect(viewer.locator(".media-viewer-counter")).to_have_text("2 of 3")

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    # The focus returns to the image that was opened.
    assert page.evaluate("() => document.activeElement.classList.contains('media-open')")


def test_a_video_gets_its_preview_too(new_person, room_with_two, tmp_path):
    room, _host, guest = room_with_two
    page = open_chat(new_person, guest, room, PHONE)
    page.set_input_files(
        "[data-media-input]",
        {"name": "clip.mp4", "mimeType": "video/mp4", "buffer": media_samples.video(tmp_path)},
    )
    sheet = page.get_by_role("dialog", name="Send a video")
    expect(sheet.locator("video.media-compose-thumb")).to_be_attached()
    assert sheet.locator("video.media-compose-thumb").evaluate(
        "video => video.src.startsWith('blob:') && video.muted"
    )
    sheet.get_by_label("Caption").fill("the band")
    sheet.get_by_role("button", name="Send", exact=True).click()
    sent = page.locator('.chat-message[data-seq="1"]')
    expect(sent.locator("figure.media-video.media-ready video")).to_be_attached(timeout=20000)
    expect(sent.locator(".chat-body")).to_have_text("the band")
    assert Message.objects.get(room=room).kind == Message.Kind.VIDEO
