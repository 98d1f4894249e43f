"""Moderators and the link preview cache (the admin): list, search, and delete a card
from every message showing it, its stored image with it."""

import pytest

from community.links.models import LinkPreview
from tests.community import media_samples
from tests.support.accounts import client_for
from tests.support.web_pages import og_page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]
CHANGELIST = "/admin/community/linkpreview/"


def test_a_moderator_deletes_a_card_and_its_image(
    previews_on, room_with_two, moderator_client, media_dir, django_assert_max_num_queries
):
    room, _host, guest = room_with_two
    web = previews_on
    web.page("/p.png", body=media_samples.png((700, 700), "RGB"), content_type="image/png")
    url = web.page("/bad", body=og_page(title="Something awful", image="/p.png"))
    client = client_for(guest)
    sent = client.post(f"/api/v1/rooms/{room.pk}/messages/", {"body": url}, format="json").json()
    assert len(list(media_dir.rglob("*.webp"))) == 1

    with django_assert_max_num_queries(12):
        listed = moderator_client.get(CHANGELIST, {"q": "awful"})
    assert listed.status_code == 200
    assert "Something awful" in listed.content.decode()
    preview = LinkPreview.objects.get()
    assert moderator_client.get(f"{CHANGELIST}add/").status_code == 403

    deleted = moderator_client.post(f"{CHANGELIST}{preview.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not LinkPreview.objects.exists()
    assert list(media_dir.rglob("*.webp")) == []
    page = client.get(f"/api/v1/rooms/{room.pk}/messages/").json()
    assert page["results"][0]["id"] == sent["id"]
    assert page["results"][0]["link_preview"] is None
