"""Per-reader translation: ``POST /api/v1/messages/{id}/translation/`` against a local
LibreTranslate-speaking server, the ``translation`` payload part, the cache and what
forgets it, and who may translate what."""

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from community.chat.services import send_message, send_system_message
from community.moderation.services import check_hide_message
from community.rooms.models import Membership, Room
from community.translation.models import MessageTranslation
from tests.community.chat_support import next_event, ready_socket
from tests.community.moderation_helpers import make_moderator
from tests.support.accounts import client_for
from tests.support.libretranslate import LibreTranslateServer

pytestmark = pytest.mark.django_db


def _membership(room, user) -> Membership:
    return Membership.objects.get(room=room, user=user, state=Membership.State.ACTIVE)


def _translate(client, message, **body):
    return client.post(f"/api/v1/messages/{message.pk}/translation/", body, format="json")


@pytest.fixture
def said(room_with_two):
    """``(room, host, guest, message)``: the guest said something in Korean."""
    room, host, guest = room_with_two
    message = send_message(membership=_membership(room, guest), body="오늘 공연 정말 좋았어요")
    return room, host, guest, message


def test_a_reader_gets_the_message_in_their_language_then_from_the_cache(
    said, client_for, libretranslate
):
    _room, host, _guest, message = said
    response = _translate(client_for(host), message, target="en")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "message_id": message.pk,
        "language": "en",
        "source_language": "ko",
        "text": "Today's show was really good",
        "engine": "libretranslate",
        "cached": False,
    }
    (sent,) = libretranslate.translations()
    assert sent == {"q": message.body, "source": "ko", "target": "en", "format": "text"}

    again = _translate(client_for(host), message, target="en")
    assert again.json()["cached"] is True
    assert again.json()["text"] == "Today's show was really good"
    assert len(libretranslate.translations()) == 1  # the engine was asked once
    assert MessageTranslation.objects.filter(message=message).count() == 1


def test_the_target_defaults_to_the_readers_language(said, client_for, libretranslate):
    _room, host, _guest, message = said
    response = client_for(host).post(
        f"/api/v1/messages/{message.pk}/translation/", {}, format="json", HTTP_ACCEPT_LANGUAGE="ja"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["language"] == "ja"
    assert response.json()["text"] == "今日の公演は本当に良かったです"


def test_a_message_already_in_the_readers_language_is_not_sent_to_the_engine(
    room_with_two, client_for, libretranslate
):
    room, host, guest = room_with_two
    message = send_message(
        membership=_membership(room, guest), body="Where is the nearest station?"
    )
    response = _translate(client_for(host), message, target="en")
    assert response.status_code == 200
    assert response.json()["text"] == message.body
    assert response.json()["engine"] == ""
    assert libretranslate.translations() == []


def test_user_text_goes_to_the_engine_and_back_as_plain_text(
    room_with_two, client_for, libretranslate
):
    room, host, guest = room_with_two
    body = "<script>alert('hi')</script> & <b>bold</b> claims"
    message = send_message(membership=_membership(room, guest), body=body)
    response = _translate(client_for(host), message, target="ko")
    assert response.json()["text"] == f"[ko] {body}"  # as the engine said it, unescaped
    assert libretranslate.translations()[0]["format"] == "text"


def test_edits_and_deletes_forget_the_cached_translations(said, client_for, libretranslate):
    _room, host, guest, message = said
    for target in ("en", "ja"):
        assert _translate(client_for(host), message, target=target).status_code == 200
    assert MessageTranslation.objects.filter(message=message).count() == 2

    edited = client_for(guest).patch(
        f"/api/v1/messages/{message.pk}/", {"body": "Where is the nearest station?"}, format="json"
    )
    assert edited.status_code == 200
    assert not MessageTranslation.objects.filter(message=message).exists()
    response = _translate(client_for(host), message, target="ko")
    assert response.json()["text"] == "가장 가까운 역이 어디예요?"
    assert response.json()["cached"] is False

    assert client_for(guest).delete(f"/api/v1/messages/{message.pk}/").status_code == 204
    assert not MessageTranslation.objects.filter(message=message).exists()
    gone = _translate(client_for(host), message, target="ko")
    assert gone.status_code == 404


def test_a_host_hiding_a_message_forgets_its_translations(said, client_for, libretranslate):
    _room, host, _guest, message = said
    assert _translate(client_for(host), message, target="en").status_code == 200
    assert client_for(host).delete(f"/api/v1/messages/{message.pk}/").status_code == 204
    assert not MessageTranslation.objects.filter(message=message).exists()


def test_only_readers_of_the_room_may_translate(
    said, client_for, make_user, make_room, libretranslate
):
    _room, _host, _guest, message = said
    stranger = make_user("stranger")
    # A public room's messages are for members (unless readable without an account).
    refused = _translate(client_for(stranger), message, target="en")
    assert refused.status_code == 403
    # A private room's message is exactly a missing one to outsiders.
    owner = make_user("owner")
    private = make_room(owner=owner, title="Secret", visibility=Room.Visibility.PRIVATE)
    hidden = send_message(membership=_membership(private, owner), body="오늘 공연 정말 좋았어요")
    missing = _translate(client_for(stranger), hidden, target="en")
    nothing = client_for(stranger).post(
        "/api/v1/messages/999999/translation/", {"target": "en"}, format="json"
    )
    assert missing.status_code == nothing.status_code == 404
    assert missing.json() == nothing.json()
    # Signed out: no engine calls for anonymous visitors.
    from rest_framework.test import APIClient

    assert _translate(APIClient(), message, target="en").status_code in (401, 403)
    assert libretranslate.translations() == []


def test_bad_input_is_a_clear_400(said, room_with_two, client_for, libretranslate):
    room, host, _guest, message = said
    unsupported = _translate(client_for(host), message, target="xx")
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == "unsupported_language"
    too_long = _translate(client_for(host), message, target="x" * 40)
    assert too_long.status_code == 400
    system = send_system_message(room_id=room.pk, body="Welcome")
    assert _translate(client_for(host), system, target="en").json()["error"]["code"] == "no_text"


def test_translation_down_is_a_503_and_off_a_404(said, client_for, settings, libretranslate):
    _room, host, _guest, message = said
    libretranslate.fail_with = 500
    down = _translate(client_for(host), message, target="en")
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "translation_unavailable"
    assert not MessageTranslation.objects.exists()
    settings.TRANSLATION_ENGINE = ""
    off = _translate(client_for(host), message, target="en")
    assert off.status_code == 404
    assert off.json()["error"]["code"] == "translation_off"


def test_an_engine_that_does_not_answer_in_time_is_a_503(said, client_for, settings):
    _room, host, _guest, message = said
    settings.TRANSLATION_ENGINE = "libretranslate"
    settings.LIBRETRANSLATE_URL = "http://127.0.0.1:9"  # nothing listens (discard port)
    response = _translate(client_for(host), message, target="en")
    assert response.status_code == 503


def test_the_api_key_is_sent_when_configured(said, client_for, settings):
    _room, host, _guest, message = said
    server = LibreTranslateServer(api_key="sesame").start()
    try:
        settings.TRANSLATION_ENGINE = "libretranslate"
        settings.LIBRETRANSLATE_URL = server.url
        settings.LIBRETRANSLATE_API_KEY = "wrong"
        assert _translate(client_for(host), message, target="en").status_code == 503
        settings.LIBRETRANSLATE_API_KEY = "sesame"
        assert _translate(client_for(host), message, target="en").status_code == 200
    finally:
        server.stop()


@override_settings(TRANSLATION_RATE=(2, 60))
def test_engine_calls_are_rate_limited_per_user(room_with_two, client_for, libretranslate):
    room, host, guest = room_with_two
    membership = _membership(room, guest)
    messages = [
        send_message(membership=membership, body=f"사진 {n}번 정말 좋아요") for n in range(3)
    ]
    assert _translate(client_for(host), messages[0], target="en").status_code == 200
    assert _translate(client_for(host), messages[1], target="en").status_code == 200
    limited = _translate(client_for(host), messages[2], target="en")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    # Cached translations cost nothing.
    assert _translate(client_for(host), messages[0], target="en").status_code == 200


def test_the_payload_says_where_translation_can_work(room_with_two, client_for, libretranslate):
    room, host, guest = room_with_two
    send_message(membership=_membership(room, guest), body="오늘 공연 정말 좋았어요")
    send_system_message(room_id=room.pk, body="Welcome")
    page = client_for(host).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    assert [m["translation"] for m in page] == [{"source_language": "ko"}, None]


def test_the_payload_has_no_translation_when_it_is_off(room_with_two, client_for, settings):
    settings.TRANSLATION_ENGINE = ""
    room, host, guest = room_with_two
    send_message(membership=_membership(room, guest), body="오늘 공연 정말 좋았어요")
    page = client_for(host).get(f"/api/v1/rooms/{room.pk}/messages/").json()["results"]
    assert page[0]["translation"] is None


def test_a_moderator_hiding_a_message_forgets_its_translations(
    said, client_for, make_user, libretranslate
):
    _room, host, _guest, message = said
    assert _translate(client_for(host), message, target="en").status_code == 200
    check_hide_message(actor=make_moderator(make_user, "mod"), message_id=message.pk, reason="x")
    assert not MessageTranslation.objects.filter(message=message).exists()
    assert _translate(client_for(host), message, target="en").status_code == 404


# --- over the socket ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_an_edit_over_the_socket_forgets_translations_and_carries_the_new_language(
    room_with_two, libretranslate
):
    room, host, guest = room_with_two
    membership = await database_sync_to_async(_membership)(room, guest)
    message = await database_sync_to_async(send_message)(
        membership=membership, body="오늘 공연 정말 좋았어요"
    )
    translate = database_sync_to_async(
        lambda: _translate(client_for(host), message, target="en").json()
    )
    assert (await translate())["text"] == "Today's show was really good"
    host_socket, _ = await ready_socket(host, room.pk)
    guest_socket, _ = await ready_socket(guest, room.pk)

    await guest_socket.send_json_to(
        {"type": "message.edit", "id": message.pk, "body": "Where is the nearest station?"}
    )
    updated = await next_event(host_socket, "message.updated")
    assert updated["message"]["translation"] == {"source_language": "en"}
    cached = database_sync_to_async(MessageTranslation.objects.filter(message=message).exists)
    assert not await cached()
    assert (await translate())["text"] == "Where is the nearest station?"  # now English

    await guest_socket.send_json_to({"type": "message.send", "body": "今日はいい天気ですね"})
    created = await next_event(host_socket, "message.created")
    assert created["message"]["translation"] == {"source_language": "ja"}
    for socket in (host_socket, guest_socket):
        await socket.disconnect()


class ShoutingEngine:
    """Another engine behind the same interface, named by its class path."""

    name = "shouting"

    def translate(self, text: str, *, source: str, target: str) -> str:
        return f"{text.upper()} ({source}->{target})"

    def languages(self) -> list[str]:
        return ["en", "ko"]


def test_another_engine_plugs_in_by_its_class_path(said, client_for, settings):
    _room, host, _guest, message = said
    settings.TRANSLATION_ENGINE = f"{__name__}.ShoutingEngine"
    response = _translate(client_for(host), message, target="en")
    assert response.status_code == 200, response.json()
    assert response.json()["engine"] == "shouting"
    assert response.json()["text"] == f"{message.body.upper()} (ko->en)"
