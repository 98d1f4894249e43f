"""A channel-layer channel that sync test code reads, the same way on both layers
(``CHANNEL_LAYER_BACKEND`` core or pubsub). Also the ``layer_listener`` fixture of
tests/conftest.py, which closes every listener a test opened.

Every listener's layer calls run on one event loop, on a thread of its own, for the
listener's whole life: the pub/sub layer keeps each channel, its queue and its group
subscriptions in the memory of the loop that made it, so a channel made in one
``async_to_sync`` call does not exist in the next one (``group_add`` raises). The loop is
shared by all listeners of the process, and it is the loop sync code broadcasts on: the
core layer refuses receives from two loops at once, so two listeners open together need
the same one, and the in-memory layer wakes a receive only from its own loop. One task on that loop
receives for the whole life of the channel and hands each message to the test thread:
the pub/sub layer forgets a channel whose ``receive`` is cancelled (a ``wait_for`` that
timed out), and whatever arrived before the next ``receive`` would be lost.
"""

import asyncio
import contextlib
import queue
from typing import Any

from channels.layers import get_channel_layer

from community.events import event_from_layer

_SETUP_SECONDS = 10


def _listeners_loop() -> asyncio.AbstractEventLoop:
    """The event loop sync code broadcasts on (config/realtime.py's send loop, a daemon
    thread for the process). Listening on that same loop is what the in-memory layer of
    the embedded default needs: its channel queues are asyncio queues, and a put from
    another thread's loop never wakes the receive waiting on them."""
    from config.realtime import _private_loop

    return _private_loop().loop


class LayerListener:
    """A new channel of the default channel layer, joined to ``groups``."""

    def __init__(self, *groups: str):
        self.layer = get_channel_layer()
        self.groups: list[str] = []
        self._messages: queue.Queue = queue.Queue()
        self._loop = _listeners_loop()
        self._closed = False
        self._pump: asyncio.Future | None = None  # the receiving task, seen from here
        self._pump_task: asyncio.Task | None = None  # the same, on the loop
        try:
            self.channel: str = self._run(self.layer.new_channel())
            for group in groups:
                self.group_add(group)
            self._pump = asyncio.run_coroutine_threadsafe(self._receive_forever(), self._loop)
        except BaseException:
            self.close()
            raise

    def _run(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_SETUP_SECONDS)

    async def _receive_forever(self) -> None:
        self._pump_task = asyncio.current_task()
        while True:
            self._messages.put(await self.layer.receive(self.channel))

    def group_add(self, group: str) -> None:
        self._run(self.layer.group_add(group, self.channel))
        self.groups.append(group)

    def group_discard(self, group: str) -> None:
        self._run(self.layer.group_discard(group, self.channel))
        self.groups.remove(group)

    def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message the layer delivered (as sent); fails the test if none
        arrives within ``timeout`` seconds."""
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            self._check_pump()
            raise AssertionError(f"no channel-layer message within {timeout} s") from None

    def group_send(self, group: str, message: dict[str, Any]) -> None:
        """``message`` to ``group``, sent from the listeners' loop (a marker a test sends
        after what it waits for reaches every listener on every layer)."""
        self._run(self.layer.group_send(group, message))

    def next_event(self, timeout: float = 5.0) -> dict[str, Any]:
        """The client event the next message carries (``community.events.event_from_layer``)."""
        return event_from_layer(self.receive(timeout))

    def drain(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """Every message delivered so far and until none has arrived for ``quiet``
        seconds, in order (possibly none)."""
        messages = []
        while True:
            try:
                messages.append(self._messages.get(timeout=quiet))
            except queue.Empty:
                self._check_pump()
                return messages

    def events(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """``drain``, as client events."""
        return [event_from_layer(message) for message in self.drain(quiet)]

    def _check_pump(self) -> None:
        if self._pump is not None and self._pump.done() and not self._pump.cancelled():
            self._pump.result()  # the receive failed: its error, not a silent timeout

    def close(self) -> None:
        """Stop receiving and leave the groups (the channel is forgotten with its receive)."""
        if not self._closed:
            self._closed = True
            self._run(self._stop())

    async def _stop(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump_task
        for group in self.groups:
            await self.layer.group_discard(group, self.channel)
        self.groups.clear()

    def __enter__(self) -> "LayerListener":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
