"""Link previews through the public surface: the composer's endpoint
(``GET /api/v1/link-preview/``), messages sent over REST (the task, the payload's
``link_preview``, the room's ``message.updated``), against a local web server."""

import io

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from community.chat.models import Message
from community.links.models import LinkPreview
from tests.community import media_samples
from tests.community.chat_support import next_event, ready_socket
from tests.support.accounts import client_for
from tests.support.web_pages import WebPages, og_page

# Queued fetches run in the request that queued them (there is no worker here).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


def preview(client, url: str):
    return client.get("/api/v1/link-preview/", {"url": url})


def reason(url: str) -> str:
    return LinkPreview.objects.get(url=url).failure_reason


# --- the endpoint --------------------------------------------------------------------


def test_the_test_server_is_only_reachable_when_a_test_allows_it(settings, web, auth_client):
    # Off by default: nothing but public addresses on ports 80 and 443.
    assert settings.LINK_PREVIEW_ALLOWED_ADDRESSES == []
    url = web.page("/", body=og_page(title="Local"))
    response = preview(auth_client, url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_preview"
    assert web.hits["/"] == 0
    assert reason(url) == "blocked_port"


def test_a_page_gives_its_open_graph_card_and_a_stored_image(previews_on, auth_client):
    web = previews_on
    web.page("/cover.png", body=media_samples.png((1200, 800), "RGB"), content_type="image/png")
    url = web.page(
        "/article",
        body=og_page(
            title="Jazz & <b>blues</b> tonight",
            description="Live at the corner club",
            image="/cover.png",
            site="Corner Club",
        ),
    )
    response = preview(auth_client, url)
    assert response.status_code == 200
    card = response.json()
    assert card["title"] == "Jazz & <b>blues</b> tonight"  # plain text: clients escape it
    assert card["description"] == "Live at the corner club"
    assert card["site_name"] == "Corner Club"
    assert card["domain"] == "127.0.0.1"
    assert (card["image"]["width"], card["image"]["height"]) == (600, 400)
    assert card["image"]["url"].startswith("/api/v1/link-previews/")
    assert "MoimLinkPreview" in web.user_agents[0]

    image = auth_client.get(card["image"]["url"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/webp"
    assert image["Content-Security-Policy"].startswith("default-src 'none'")
    picture = Image.open(io.BytesIO(b"".join(image.streaming_content)))
    assert (picture.format, picture.size) == ("WEBP", (600, 400))

    # Cached: the second ask fetches nothing.
    assert preview(auth_client, url).json() == card
    assert web.hits["/article"] == 1
    assert web.hits["/cover.png"] == 1


def test_title_and_description_fall_back_to_the_documents_own(previews_on, auth_client):
    url = previews_on.page(
        "/plain",
        body=(
            "<html><head><title>  Caf&eacute;\n  menu </title>"
            '<meta name="description" content="Open &lt;late&gt;"></head>'
            '<body><meta property="og:title" content="ignored: in the body"></body></html>'
        ),
    )
    card = preview(auth_client, url).json()
    assert (card["title"], card["description"], card["image"]) == ("Café menu", "Open <late>", None)


def test_addresses_with_korean_and_japanese_letters(previews_on, auth_client):
    # What the site gets is percent-encoded UTF-8, as browsers send it.
    previews_on.page("/wiki/%EC%9E%AC%EC%A6%88", body=og_page(title="재즈 - 위키백과"))
    card = preview(auth_client, previews_on.url("/wiki/재즈")).json()
    assert card["title"] == "재즈 - 위키백과"
    previews_on.page("/%E9%9F%B3%E6%A5%BD", body=og_page(title="音楽のページ"))
    assert preview(auth_client, previews_on.url("/音楽?x=1")).json()["title"] == "音楽のページ"


def test_an_image_that_is_not_an_image_is_left_out(previews_on, auth_client):
    web = previews_on
    web.page("/fake.png", body=b"<svg onload=alert(1)>", content_type="image/png")
    url = web.page("/page", body=og_page(title="Has a fake image", image="/fake.png"))
    card = preview(auth_client, url).json()
    assert card["title"] == "Has a fake image"
    assert card["image"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://192.168.0.10/admin",
        "http://172.16.5.4/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a00:1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://localhost/",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(url, auth_client):
    response = preview(auth_client, url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_preview"
    assert LinkPreview.objects.get().failure_reason == "blocked_address"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "javascript:alert(1)", "http://user:pw@example.com/", "/a", ""]
)
def test_what_is_not_an_http_address_is_a_400(url, auth_client):
    response = preview(auth_client, url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_url"


def test_other_ports_are_refused_before_resolving(auth_client):
    response = preview(auth_client, "http://example.com:8080/")
    assert response.status_code == 404
    assert reason("http://example.com:8080/") == "blocked_port"


def test_a_redirect_to_loopback_is_refused(previews_on, auth_client):
    web = previews_on
    internal = WebPages().start()  # on loopback, not allowed: the server's own network
    try:
        internal.page("/secret", body=og_page(title="Internal admin"))
        url = web.page("/go", status=302, headers={"Location": internal.url("/secret")})
        assert preview(auth_client, url).status_code == 404
        assert internal.hits["/secret"] == 0
        assert reason(url) == "blocked_port"
        # A private address on port 80 is refused by its address.
        to_metadata = web.page(
            "/go-meta", status=307, headers={"Location": "http://169.254.169.254/latest/"}
        )
        assert preview(auth_client, to_metadata).status_code == 404
        assert reason(to_metadata) == "blocked_address"
    finally:
        internal.stop()


def test_redirects_are_followed_at_most_three_times(previews_on, auth_client):
    web = previews_on
    web.page("/end", body=og_page(title="Arrived"))
    for step, target in (("/r1", "/r2"), ("/r2", "/r3"), ("/r3", "/end")):
        web.page(step, status=302, headers={"Location": target})
    assert preview(auth_client, web.url("/r1")).json()["title"] == "Arrived"

    web.page("/r0", status=302, headers={"Location": "/r1"})
    assert preview(auth_client, web.url("/r0")).status_code == 404
    assert reason(web.url("/r0")) == "too_many_redirects"
    assert web.hits["/end"] == 1


@pytest.mark.parametrize("send_length", [True, False])
def test_a_page_over_the_size_limit_is_refused(previews_on, auth_client, settings, send_length):
    settings.LINK_PREVIEW_MAX_BYTES = 4096
    url = previews_on.page(
        "/big", body=og_page(title="Big") + "x" * 200_000, send_length=send_length
    )
    assert preview(auth_client, url).status_code == 404
    assert reason(url) == "too_large"


def test_a_slow_page_times_out(previews_on, auth_client, settings):
    settings.LINK_PREVIEW_TIMEOUT_SECONDS = 0.5
    slow = previews_on.page("/slow", body=og_page(title="Slow"), delay=10)
    assert preview(auth_client, slow).status_code == 404
    assert reason(slow) == "timeout"
    # A server that answers at once and then sends a byte now and then is cut off too.
    drip = previews_on.page("/drip", body=og_page(title="Drip"), drip=0.2)
    assert preview(auth_client, drip).status_code == 404
    assert reason(drip) == "timeout"


@pytest.mark.parametrize(
    "content_type", ["application/pdf", "image/png", "text/plain", "application/json"]
)
def test_only_html_pages_are_read(previews_on, auth_client, content_type):
    url = previews_on.page("/file", body=og_page(title="Not HTML"), content_type=content_type)
    assert preview(auth_client, url).status_code == 404
    assert reason(url) == "unsupported_type"


def test_a_page_without_metadata_has_no_card(previews_on, auth_client):
    url = previews_on.page("/empty", body="<html><head></head><body>hi</body></html>")
    assert preview(auth_client, url).status_code == 404
    assert reason(url) == "no_metadata"


def test_the_endpoint_answers_pending_while_a_worker_fetches(previews_on, auth_client):
    from community.links.tasks import fetch_link_preview
    from config.celery import app as celery_app

    url = previews_on.page("/queued", body=og_page(title="Queued"))
    celery_app.conf.task_always_eager = False  # queued: no worker takes it here
    try:
        first = preview(auth_client, url)
        again = preview(auth_client, url)
    finally:
        celery_app.conf.task_always_eager = True
    assert (first.status_code, first.json()) == (202, {"status": "pending"})
    assert again.status_code == 202
    # The web process fetched nothing: the worker does.
    assert previews_on.hits["/queued"] == 0
    assert fetch_link_preview(LinkPreview.objects.get().pk) == "fetched"
    assert fetch_link_preview(LinkPreview.objects.get().pk) == "skipped"
    assert preview(auth_client, url).json()["title"] == "Queued"
    assert previews_on.hits["/queued"] == 1


def test_the_endpoint_needs_an_account(api_client):
    response = api_client.get("/api/v1/link-preview/", {"url": "https://example.com/"})
    assert response.status_code in (401, 403)
    assert not LinkPreview.objects.exists()


# --- messages ----------------------------------------------------------------------------


def send(client, room, body: str) -> dict:
    response = client.post(f"/api/v1/rooms/{room.pk}/messages/", {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def history(client, room) -> dict[int, dict]:
    page = client.get(f"/api/v1/rooms/{room.pk}/messages/").json()
    return {message["id"]: message for message in page["results"]}


def test_messages_with_the_same_url_fetch_it_once(previews_on, room_with_two):
    room, host, guest = room_with_two
    web = previews_on
    url = web.page("/song", body=og_page(title="A song", description="Listen"))
    guest_client, host_client = client_for(guest), client_for(host)

    first = send(guest_client, room, f"listen: {url}.")
    second = send(host_client, room, f"({url}) again")
    plain = send(host_client, room, "no link here")

    shown = history(guest_client, room)
    assert shown[first["id"]]["link_preview"]["title"] == "A song"
    assert shown[second["id"]]["link_preview"] == shown[first["id"]]["link_preview"]
    assert shown[plain["id"]]["link_preview"] is None
    assert web.hits["/song"] == 1


async def test_the_rooms_sockets_get_the_card_after_the_message(
    previews_on, room_with_two, fresh_channel_layer
):
    room, host, guest = room_with_two
    url = previews_on.page("/live", body=og_page(title="Live card"))
    socket, _ready = await ready_socket(host, room.pk)
    try:
        # Tasks run eagerly here, so the card's ``message.updated`` reaches the room's
        # group before the send's own ``message.created``: the socket keeps the order.
        sent = await database_sync_to_async(send)(client_for(guest), room, url)
        created = await next_event(socket, "message.created", "message.updated")
        assert (created["type"], created["message"]["id"]) == ("message.created", sent["id"])
        updated = await next_event(socket, "message.updated")
        assert updated["message"]["id"] == sent["id"]
        assert updated["message"]["link_preview"]["title"] == "Live card"
    finally:
        await socket.disconnect()


def test_a_word_attached_to_the_address_is_not_part_of_it(previews_on, room_with_two, settings):
    settings.LINK_PREVIEW_TIMEOUT_SECONDS = 0.5
    room, _host, guest = room_with_two
    # Korean and Japanese attach particles to the address; ".invalid" never resolves.
    send(client_for(guest), room, "어제 https://moim.invalid에서 봤어")
    send(client_for(guest), room, "詳しくは（https://moim.invalid/ページ）。")
    assert sorted(LinkPreview.objects.values_list("url", flat=True)) == [
        "https://moim.invalid/",
        "https://moim.invalid/ページ",
    ]


def test_an_edit_changes_or_removes_the_card(previews_on, room_with_two):
    room, _host, guest = room_with_two
    web = previews_on
    one = web.page("/one", body=og_page(title="One"))
    two = web.page("/two", body=og_page(title="Two"))
    client = client_for(guest)
    sent = send(client, room, f"see {one}")
    message_url = f"/api/v1/messages/{sent['id']}/"

    assert client.patch(message_url, {"body": f"see {two}"}, format="json").status_code == 200
    assert history(client, room)[sent["id"]]["link_preview"]["title"] == "Two"
    assert client.patch(message_url, {"body": "never mind"}, format="json").status_code == 200
    assert history(client, room)[sent["id"]]["link_preview"] is None
    assert client.delete(message_url).status_code in (200, 204)
    assert history(client, room)[sent["id"]]["link_preview"] is None


def test_previews_stay_off_when_disabled(settings, web, room_with_two, eager_tasks):
    settings.LINK_PREVIEWS_ENABLED = False
    settings.LINK_PREVIEW_ALLOWED_ADDRESSES = [web.address]
    room, _host, guest = room_with_two
    url = web.page("/off", body=og_page(title="Off"))
    sent = send(client_for(guest), room, url)
    assert history(client_for(guest), room)[sent["id"]]["link_preview"] is None
    assert web.hits["/off"] == 0


def test_a_private_address_in_a_message_is_never_fetched(previews_on, room_with_two):
    room, _host, guest = room_with_two
    web = previews_on
    # Loopback, but not the allowed address: the same host on another port.
    other = WebPages().start()
    try:
        other.page("/", body=og_page(title="Internal"))
        sent = send(client_for(guest), room, f"look {other.url('/')}")
        assert history(client_for(guest), room)[sent["id"]]["link_preview"] is None
        assert other.hits["/"] == 0
        assert web.hits == {}
    finally:
        other.stop()


def test_history_with_cards_runs_a_fixed_number_of_queries(previews_on, room_with_two):
    room, _host, guest = room_with_two
    web = previews_on
    client = client_for(guest)

    def fill(count: int):
        for number in range(count):
            url = web.page(f"/p{number}-{count}", body=og_page(title=f"P{number}"))
            send(client, room, f"{number}: {url}")

    fill(1)
    with CaptureQueriesContext(connection) as small:
        assert len(history(client, room)) == 1
    fill(4)
    with CaptureQueriesContext(connection) as large:
        shown = history(client, room)
    assert len(shown) == 5
    assert all(message["link_preview"]["title"] for message in shown.values())
    assert len(small) == len(large)


def test_the_task_is_idempotent(previews_on, room_with_two):
    from community.links.tasks import preview_message_link

    room, _host, guest = room_with_two
    url = previews_on.page("/again", body=og_page(title="Again"))
    sent = send(client_for(guest), room, url)
    assert preview_message_link.delay(sent["id"]).get() == "cached"
    assert preview_message_link.delay(sent["id"] + 1000).get() == "none"
    assert previews_on.hits["/again"] == 1
    assert Message.objects.get(pk=sent["id"]).link.announced


def test_the_sweep_deletes_previews_nothing_shows_with_their_images(
    previews_on, room_with_two, auth_client, media_dir, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from community.links.tasks import sweep_link_previews

    web = previews_on
    web.page("/pic.png", body=media_samples.png((800, 400), "RGB"), content_type="image/png")
    looked_up = web.page("/looked-up", body=og_page(title="Only asked for", image="/pic.png"))
    linked = web.page("/linked", body=og_page(title="In a message", image="/pic.png"))
    assert preview(auth_client, looked_up).status_code == 200
    room, _host, guest = room_with_two
    send(client_for(guest), room, linked)
    assert len(list(media_dir.rglob("*.webp"))) == 2

    assert sweep_link_previews.delay().get() == 0  # both still fresh
    LinkPreview.objects.update(fetched_at=timezone.now() - timedelta(days=2))
    assert sweep_link_previews.delay().get() == 1
    assert list(LinkPreview.objects.values_list("url", flat=True)) == [linked]
    assert len(list(media_dir.rglob("*.webp"))) == 1
    assert settings.CELERY_BEAT_SCHEDULE["community-link-preview-sweep"]["task"] == (
        "community.links.sweep_link_previews"
    )
