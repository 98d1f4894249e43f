"""A client that stops reading its socket (issue #20), against a real uvicorn process
(``--ws websockets-sansio``, as deployed) on a Redis of the test's own: the server closes
the stuck socket (bounded sends) and takes it out of the room, and the reading member
gets every message, in order."""

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from channels.db import database_sync_to_async

from community.chat.services import send_message
from community.rooms.models import Membership
from config.realtime import issue_socket_ticket
from tests.faults.processes import REPO_ROOT, running_test_database_url, wait_for_port
from tests.support.parallel import free_port

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.postgres_only,  # server processes cannot see an in-memory SQLite DB
    pytest.mark.serial,  # 7 MB into a socket nobody reads, against 1-second send timeouts
]

PREFIX = "moim-fault"  # the fault fixture's channel layer prefix, shared with the server
# About 24 KB per frame (JSON escapes each Hangul syllable as \uXXXX): 7 MB in all,
# well past what the kernel's socket buffers absorb for a client that reads nothing.
MESSAGES = 300
BODY = "한" * 4000


def _start_server(port: int, redis_url: str, backend: str):
    env = {
        **os.environ,
        "DATABASE_URL": running_test_database_url(),
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_BACKEND": backend,
        "CHANNEL_LAYER_PREFIX": PREFIX,
        "REALTIME_SOCKET_SEND_TIMEOUT_SECONDS": "1",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "websockets-sansio",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=env,
    )


def _stuck_socket(port: int, room_id: int, ticket: str) -> socket.socket:
    """A WebSocket handshake, then nothing read ever again (a tiny receive buffer)."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET /ws/rooms/{room_id}/?ticket={ticket} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in raw.recv(1024)
    return raw


def _group_size(redis_url: str, room_id: int, backend: str) -> int:
    """The room's sockets: its group's members on the core layer; on the pub/sub layer,
    where a group is a subscription per process, not per socket, the room's presence
    entries (one per socket, written after its group_add, removed after its discard)."""
    import redis

    from community.chat.presence import _KEY as PRESENCE_KEY

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        if backend == "core":
            return client.zcard(f"{PREFIX}:group:room.{room_id}")
        # Django's cache key: KEY_PREFIX "moim", version 1 (config/redis_clients.py).
        return client.zcard(f"moim:1:{PRESENCE_KEY.format(room_id)}")
    finally:
        client.close()


@pytest.mark.django_db(transaction=True)
def test_a_socket_that_stops_reading_is_closed_and_the_others_miss_nothing(
    app_on_own_redis, make_user, make_room, make_member
):
    host = make_user("host")
    room = make_room(owner=host)
    reader, stuck = make_user("reader"), make_user("stuck")
    make_member(room, reader, nickname="Reader")
    make_member(room, stuck, nickname="Stuck")
    port = free_port()
    backend = app_on_own_redis.channel_layer_backend
    server = _start_server(port, app_on_own_redis.url, backend)
    try:
        wait_for_port(port, server, timeout=30)
        asyncio.run(_scenario(port, room, host, reader, stuck, app_on_own_redis.url, backend))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


async def _scenario(port, room, host, reader, stuck, redis_url, backend):
    from websockets.asyncio.client import connect

    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=reader.pk)
    url = f"ws://127.0.0.1:{port}/ws/rooms/{room.pk}/?ticket={ticket}"
    # The reading member reads everything as it comes (no receive queue limit): a bounded
    # queue would stop reading while the messages are sent below, and make this member
    # the stuck one (the server's ping unanswered).
    async with connect(url, max_size=None, max_queue=None) as reading:
        assert json.loads(await reading.recv())["type"] == "ready"
        stuck_ticket = await database_sync_to_async(issue_socket_ticket)(user_id=stuck.pk)
        raw = _stuck_socket(port, room.pk, stuck_ticket)
        deadline = time.monotonic() + 10
        while _group_size(redis_url, room.pk, backend) < 2:
            assert time.monotonic() < deadline, "the stuck socket never joined"
            await asyncio.sleep(0.1)

        membership = await database_sync_to_async(Membership.objects.get)(user=host, room=room)
        for _ in range(MESSAGES):
            await database_sync_to_async(send_message)(membership=membership, body=BODY)

        seqs = []
        while len(seqs) < MESSAGES:
            event = json.loads(await asyncio.wait_for(reading.recv(), timeout=15))
            if event["type"] == "message.created":
                seqs.append(event["message"]["seq"])
        assert seqs == list(range(1, MESSAGES + 1))  # none lost, none out of order

        # The stuck socket's consumer gave up on it and left the room's group.
        deadline = time.monotonic() + 15
        while _group_size(redis_url, room.pk, backend) > 1:
            assert time.monotonic() < deadline, "the stuck socket is still in the room"
            await asyncio.sleep(0.2)
        raw.close()
