""" "Log out everywhere" closes the user's open sockets (4401), /ws/me/ and rooms alike."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from config.realtime import issue_socket_ticket
from profiles.services import log_out_everywhere

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]
TIMEOUT = 5


async def _socket(user, path):
    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=user.pk)
    socket = WebsocketCommunicator(application, f"{path}?ticket={ticket}", [(b"host", b"t")])
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    return socket


async def _closed_with(socket) -> int:
    while True:
        output = await socket.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return output.get("code")


async def test_every_socket_of_the_user_closes_and_others_stay(make_user, make_room, make_member):
    alice, bob = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    room = await database_sync_to_async(make_room)(owner=bob, nickname="Bob")
    await database_sync_to_async(make_member)(room, alice, nickname="Alice")
    me = await _socket(alice, "/ws/me/")
    in_room = await _socket(alice, f"/ws/rooms/{room.pk}/")
    bobs = await _socket(bob, "/ws/me/")

    await database_sync_to_async(log_out_everywhere)(user=alice)

    assert await _closed_with(me) == 4401
    assert await _closed_with(in_room) == 4401
    await bobs.send_json_to({"type": "ping"})
    assert (await bobs.receive_json_from(timeout=TIMEOUT))["type"] in {"pong", "ready"}
    for socket in (me, in_room, bobs):
        await socket.disconnect()
