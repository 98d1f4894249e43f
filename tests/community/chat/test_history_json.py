"""A history page's cached part is spliced into the response as JSON text
(config/api/rendering.py) for a reader who hides no one: the bytes must be exactly those
DRF writes for the same page built as dicts, which is still how a page is built for a
reader who blocks someone."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from community.chat.services import delete_message, edit_message, send_message
from community.media.tasks import process_media_asset
from community.polls.services import create_poll
from community.reactions.models import ReactionTarget
from community.reactions.services import check_add_reaction
from tests.community import media_samples
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db

TRICKY_BODY = 'line\u2028break\u2029 </script> "quoted" \\ back 안녕 😀 \x01 @Reader'


@pytest.fixture
def rich(make_user, make_room, make_member, media_dir):
    host = make_user("host")
    room = make_room(owner=host, title="Rich room")
    reader, writer, quiet = make_user("reader"), make_user("writer"), make_user("quiet")
    make_member(room, reader, nickname="Reader")
    member = make_member(room, writer, nickname="Writer 작가", is_open_profile=False)
    # Never writes nor reacts: blocking them changes nothing on the page.
    stranger = make_member(room, quiet, nickname="Stranger")
    first = send_message(membership=member, body=TRICKY_BODY)
    send_message(membership=member, body="a reply", reply_to_id=first.pk)
    edited = send_message(membership=member, body="before the edit")
    edit_message(user_id=writer.pk, message_id=edited.pk, body="after the edit")
    gone = send_message(membership=member, body="soon deleted")
    delete_message(user_id=writer.pk, message_id=gone.pk)
    upload = client_for(writer).post(
        f"/api/v1/rooms/{room.pk}/messages/",
        {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((64, 48))), "body": "pic"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    process_media_asset.apply(args=[upload.json()["media"]["id"]])
    create_poll(user=writer, room_id=room.pk, question="Lunch?", options=["Noodles", "Rice"])
    for user, emoji in ((reader, "👍"), (writer, "👍"), (writer, "🎉")):
        check_add_reaction(
            user=user, target_type=ReactionTarget.MESSAGE, target_id=first.pk, emoji=emoji
        )
    return {"room": room, "reader": reader, "stranger": stranger}


def page_bytes(user, room, query: str = "limit=50", **headers) -> bytes:
    response = client_for(user).get(f"/api/v1/rooms/{room.pk}/messages/?{query}", **headers)
    assert response.status_code == 200, response.content
    return response.content


def drf_json(data) -> bytes:
    """What DRF's JSON renderer writes for ``data`` (compact, unicode, \\u2028 escaped)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


@pytest.mark.parametrize("cache_seconds", [60, 0])
def test_the_spliced_page_is_the_page_built_as_dicts_byte_for_byte(rich, cache_seconds):
    room, reader = rich["room"], rich["reader"]
    with override_settings(CHAT_HISTORY_CACHE_SECONDS=cache_seconds):
        # Blocking a member who shows nowhere on the page: built as dicts, same content.
        block = f"/api/v1/rooms/{room.pk}/members/{rich['stranger'].pk}/block/"
        assert client_for(reader).post(block).status_code == 204
        as_dicts = page_bytes(reader, room)
        assert client_for(reader).delete(block).status_code == 204
        spliced = page_bytes(reader, room)
        spliced_again = page_bytes(reader, room)  # a cache hit when the cache is on
    assert spliced == as_dicts
    assert spliced_again == as_dicts
    page = json.loads(spliced)
    assert drf_json(page) == spliced
    first = page["results"][0]
    assert first["body"] == TRICKY_BODY
    assert b"\\u2028" in spliced and "\u2028".encode() not in spliced
    assert first["reactions"] == [
        {"emoji": "👍", "count": 2, "me": True},
        {"emoji": "🎉", "count": 1, "me": False},
    ]
    kinds = {message["kind"] for message in page["results"]}
    assert {"text", "image", "poll"} <= kinds
    assert any(message["deleted"] for message in page["results"])
    assert any(message["edited_at"] for message in page["results"])
    assert any(message["poll"] for message in page["results"])
    assert page["results"][1]["reply_to"]["id"] == first["id"]


def test_windows_anonymous_readers_and_indented_json_are_the_same_data(rich):
    room, reader = rich["room"], rich["reader"]
    around = page_bytes(reader, room, "around=3&limit=3")
    assert [m["seq"] for m in json.loads(around)["results"]] == [2, 3, 4]
    assert json.loads(around)["has_newer"] is True
    assert drf_json(json.loads(around)) == around
    # An indented answer goes through DRF's own encoding of the same page.
    compact = page_bytes(reader, room)
    indented = page_bytes(reader, room, HTTP_ACCEPT="application/json; indent=2")
    assert indented != compact
    assert json.loads(indented) == json.loads(compact)
    # Anonymous readers of a web-public room get the spliced page too.
    room.is_web_public = True
    room.save(update_fields=["is_web_public"])
    anonymous = APIClient().get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")
    assert anonymous.status_code == 200
    data = json.loads(anonymous.content)
    assert drf_json(data) == anonymous.content
    assert data["last_read_seq"] is None
    assert all(r["me"] is False for m in data["results"] for r in m["reactions"])


def test_an_invalid_query_is_refused_every_time_and_a_valid_one_still_served(rich):
    room, reader = rich["room"], rich["reader"]
    url = f"/api/v1/rooms/{room.pk}/messages/"
    for _attempt in range(2):
        refused = client_for(reader).get(f"{url}?limit=0")
        assert refused.status_code == 400
        assert "limit" in json.dumps(refused.json())
        both = client_for(reader).get(f"{url}?around=2&before=3")
        assert both.status_code == 400
        assert client_for(reader).get(f"{url}?limit=2").status_code == 200
    assert [m["seq"] for m in json.loads(page_bytes(reader, room, "limit=2"))["results"]] == [5, 6]
