"""Frames sent after a socket closed are dropped instead of ending the consumer."""

import pytest

from community.chat.consumers import RoomConsumer
from community.notifications.consumers import MeConsumer


class RefusingServer:
    """An ASGI ``send`` that refuses frames the way uvicorn does after a close."""

    def __init__(self, error: Exception):
        self.error = error
        self.calls = 0

    async def __call__(self, message):
        self.calls += 1
        raise self.error


@pytest.mark.parametrize("consumer_class", [RoomConsumer, MeConsumer])
@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'."),
        ConnectionResetError("client went away"),  # uvicorn's ClientDisconnected is an OSError
    ],
)
async def test_a_send_after_close_is_dropped_once_and_for_all(consumer_class, error):
    consumer = consumer_class()
    server = RefusingServer(error)
    consumer.base_send = server
    await consumer.send_json({"type": "presence", "online": 3})
    await consumer.send_json({"type": "presence", "online": 4})
    assert server.calls == 1  # the second frame was not even tried


async def test_other_errors_still_surface():
    consumer = RoomConsumer()
    consumer.base_send = RefusingServer(RuntimeError("something else broke"))
    with pytest.raises(RuntimeError, match="something else"):
        await consumer.send_json({"type": "pong"})
