"""Scale-out: two ASGI server processes sharing Redis deliver each other's messages."""

import asyncio
import json
import os
import subprocess
import sys

import pytest

from config.realtime import issue_socket_ticket
from tests.faults.processes import REPO_ROOT, running_test_database_url, wait_for_port
from tests.support.parallel import free_port

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
    pytest.mark.postgres_only,  # server processes cannot see an in-memory SQLite DB
]


def _start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": running_test_database_url()}
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


async def _next(ws, kind: str) -> dict:
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if event["type"] == kind:
            return event


async def _exchange(ports: list[int], room_id: int, tickets: list[str]) -> tuple[dict, dict]:
    from websockets.asyncio.client import connect

    urls = [
        f"ws://127.0.0.1:{port}/ws/rooms/{room_id}/?ticket={ticket}"
        for port, ticket in zip(ports, tickets, strict=True)
    ]
    async with (
        connect(urls[0], origin=f"http://127.0.0.1:{ports[0]}") as first,
        connect(urls[1], origin=f"http://127.0.0.1:{ports[1]}") as second,
    ):
        await _next(first, "ready")
        await _next(second, "ready")
        await first.send(
            json.dumps({"type": "message.send", "body": "across processes", "client_id": "x1"})
        )
        received = await _next(second, "message.created")
        echoed = await _next(first, "message.created")
        return received, echoed


@pytest.mark.django_db(transaction=True)
def test_message_sent_through_one_process_arrives_through_the_other(
    make_user, make_room, make_member
):
    host = make_user("host")
    room = make_room(owner=host)
    guest = make_user("guest")
    make_member(room, guest, nickname="Guest")
    ports = [free_port(), free_port()]
    servers = [_start_server(port) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_for_port(port, server, timeout=30)
        tickets = [issue_socket_ticket(user_id=host.pk), issue_socket_ticket(user_id=guest.pk)]
        received, echoed = asyncio.run(_exchange(ports, room.pk, tickets))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    assert received["message"]["body"] == "across processes"
    assert received["message"] == echoed["message"]
    assert room.messages.get().client_id == "x1"
