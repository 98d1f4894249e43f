"""Helpers for the chat socket tests: open a real socket through the full ASGI stack
(with the ``fresh_channel_layer`` fixture of tests/conftest.py)."""

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from config.realtime import issue_socket_ticket
from tests.support.accounts import client_for

TIMEOUT = 5


def _session_cookie(user) -> str:
    client = client_for(user, session=True)
    return client.cookies["sessionid"].value


async def open_socket(user, room_id: int, *, after: int | None = None, auth: str = "session"):
    """Connect ``user`` to the room socket; returns (communicator, first event)."""
    query = []
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None and auth == "session":
        cookie = await database_sync_to_async(_session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    elif user is not None and auth == "ticket":
        ticket = await database_sync_to_async(issue_socket_ticket)(user_id=user.pk)
        query.append(f"ticket={ticket}")
    if after is not None:
        query.append(f"after={after}")
    path = f"/ws/rooms/{room_id}/" + (f"?{'&'.join(query)}" if query else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    first = await communicator.receive_output(timeout=TIMEOUT)
    return communicator, first


async def ready_socket(user, room_id: int, **kwargs):
    communicator, first = await open_socket(user, room_id, **kwargs)
    assert first["type"] == "websocket.send", first
    event = _decode(first)
    assert event["type"] == "ready", event
    return communicator, event


def _decode(output: dict) -> dict:
    import json

    return json.loads(output["text"])


async def next_event(communicator, *types: str, timeout: float = TIMEOUT) -> dict:
    """The next event of one of ``types``, skipping presence and typing noise."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            raise AssertionError(f"socket closed with {output.get('code')} waiting for {types}")
        event = _decode(output)
        if not types or event["type"] in types:
            return event
        if event["type"] == "error":
            raise AssertionError(f"unexpected error event waiting for {types}: {event}")


async def closed_with(communicator, timeout: float = TIMEOUT) -> int:
    """Wait for the server to close the socket; its close code (skipping events)."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


async def no_event(communicator, *types: str, wait: float = 0.3) -> None:
    """Assert no event of ``types`` arrives within ``wait`` seconds (others are dropped)."""
    while not await communicator.receive_nothing(timeout=wait):
        output = await communicator.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.send":
            event = _decode(output)
            assert event["type"] not in types, event


async def refusal_code(user, room_id: int, **kwargs) -> int:
    """Connect and expect the server to close at once; its close code."""
    _communicator, first = await open_socket(user, room_id, **kwargs)
    assert first["type"] == "websocket.close", first
    return first["code"]
