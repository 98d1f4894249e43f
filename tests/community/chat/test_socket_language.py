"""Socket error frames come in the member's language (account language, else the language
cookie or Accept-Language of the socket's request)."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.community.chat_support import (
    TIMEOUT,
    next_event,
    ready_socket,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]


@pytest.fixture
def room_and_members(make_user, make_room, make_member):
    room = make_room(owner=make_user("host"))
    members = {}
    for name, locale in [("minji", "ko"), ("sakura", "ja"), ("nolocale", "")]:
        members[name] = make_user(name, locale=locale)
        make_member(room, members[name], nickname=name)
    return room, members


@pytest.mark.parametrize(
    ("name", "auth", "message"),
    [
        ("minji", "session", "빈 메시지는 보낼 수 없어요."),
        ("sakura", "ticket", "空のメッセージは送れません。"),
        ("nolocale", "session", "A message cannot be empty."),
    ],
)
async def test_error_frames_use_the_members_language(room_and_members, name, auth, message):
    room, members = room_and_members
    socket, _ready = await ready_socket(members[name], room.pk, auth=auth)
    await socket.send_json_to({"type": "message.send", "body": "   ", "client_id": "e1"})
    error = await next_event(socket, "error")
    assert error["message"] == message
    await socket.disconnect()


async def test_accept_language_of_the_socket_request_is_used(room_and_members):
    from channels.db import database_sync_to_async

    from config.realtime import issue_socket_ticket

    room, members = room_and_members
    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=members["nolocale"].pk)
    socket = WebsocketCommunicator(
        application,
        f"/ws/rooms/{room.pk}/?ticket={ticket}",
        headers=[(b"accept-language", b"ja,en;q=0.5")],
    )
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert json.loads((await socket.receive_output(timeout=TIMEOUT))["text"])["type"] == "ready"
    await socket.send_json_to({"type": "message.send", "body": "", "client_id": "e2"})
    error = await next_event(socket, "error")
    assert error["message"] == "空のメッセージは送れません。"
    await socket.disconnect()
