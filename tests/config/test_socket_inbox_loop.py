"""The pub/sub socket's receive loop (config/realtime.py, ``_dispatch_from_inbox``) under
a backlog: the client's disconnect goes before the layer events still queued, and a
backlog does not keep the rest of the process waiting."""

import asyncio
import contextlib

from channels.exceptions import StopConsumer

from config.realtime import _dispatch_from_inbox

CHANNEL = "specific.test!one"


class _Local:
    """The per-loop layer's surface the loop uses: the channel's queue, the decode and
    the unsubscribe."""

    def __init__(self):
        self.channels = {CHANNEL: asyncio.Queue()}
        self.discarded: list[str] = []

    def decode(self, raw):
        return {"type": "moim.event", "n": raw}

    async def discard_channel(self, channel):
        self.discarded.append(channel)


class _Consumer:
    def __init__(self):
        self.handled: list = []

    async def dispatch(self, message):
        self.handled.append(message.get("n", message["type"]))
        if message["type"] == "websocket.disconnect":
            raise StopConsumer


async def test_a_client_that_left_stops_the_loop_before_its_backlog():
    local, consumer = _Local(), _Consumer()
    for number in range(200):
        local.channels[CHANNEL].put_nowait(number)
    left = asyncio.Event()

    async def receive():
        await left.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    loop_task = asyncio.ensure_future(_dispatch_from_inbox(consumer, receive, local, CHANNEL))
    await asyncio.sleep(0)  # the loop starts on its backlog
    left.set()
    with contextlib.suppress(StopConsumer):
        await asyncio.wait_for(loop_task, 5)
    assert "websocket.disconnect" in consumer.handled
    # It stopped at its next turn, not after the 200 queued events.
    assert consumer.handled.index("websocket.disconnect") < 32
    assert local.discarded == [CHANNEL]


async def test_a_backlog_lets_other_work_of_the_process_run():
    local, consumer = _Local(), _Consumer()
    for number in range(200):
        local.channels[CHANNEL].put_nowait(number)
    never = asyncio.Event()

    async def receive():
        await never.wait()

    seen_at: list[int] = []

    async def other_work():  # a broadcast, another socket
        seen_at.append(len(consumer.handled))

    loop_task = asyncio.ensure_future(_dispatch_from_inbox(consumer, receive, local, CHANNEL))
    other = asyncio.ensure_future(other_work())
    while len(consumer.handled) < 200:
        await asyncio.sleep(0)
    await other
    loop_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop_task
    assert seen_at and seen_at[0] < 200
