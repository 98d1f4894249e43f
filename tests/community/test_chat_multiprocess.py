"""Scale-out: two ASGI server processes sharing Redis deliver each other's messages."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from config.realtime import issue_socket_ticket

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
    pytest.mark.skipif(
        not settings.IS_POSTGRES, reason="server processes cannot see an in-memory SQLite DB"
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server on {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server on {port} did not start")


def _test_database_url() -> str:
    """DATABASE_URL pointing at the test database this test run created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
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
    ports = [_free_port(), _free_port()]
    while ports[0] == ports[1]:
        ports[1] = _free_port()
    servers = [_start_server(port) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            _wait_for_port(port, server)
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
