"""The cluster scenarios (deploy/cluster/cluster.sh starts the cluster, then this).

Clients talk to the load balancer only (``--lb``); ``X-Moim-Pin: HOST`` asks HAProxy for
a given app host (ignored once that host is down), and each response names the host that
served it. ``--app NAME=URL`` reaches a host directly, for its ``/healthz`` status (from
this address it tells nothing more, as for any stranger). ``--fault`` is the script that
injects faults (kill a host, start a service) and runs a host's own health probe (its
``/healthz`` on loopback, which names what is down), as an operator's on-host check does.

Each member is a reconnecting client as chat.js is: it keeps the highest contiguous
``seq`` it has, reconnects with ``?after=`` on a close or a gap, drops what it already has
(by ``seq``), and resends, with the same ``client_id``, sends it saw no echo for.
A scenario passes when every member ends with every message of the room exactly once,
in ``seq`` order, equal to the primary's history, and every ``client_id`` sent is stored
exactly once. Figures are printed and written to ``--results`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.cookiejar
import io
import json
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import psycopg
import redis
import websockets
from PIL import Image

CONNECT_TIMEOUT = 10
CONVERGE_TIMEOUT = 60
ECHO_RESYNC_SECONDS = 5
GAP_FILL_SECONDS = 1.5  # chat.js's fillGap delay
# Scenario 3 stops the second --redis (channel-layer shard 1): the first also carries the
# cache and the broker, which the scenario keeps up.
STOPPED_SHARD = 1


def room_group_shard(room_id: int, *, layer: str, shards: int, prefix: str = "moim") -> int:
    """The channel-layer shard that carries the room's broadcasts, hashed as channels-redis
    does: the core layer keeps the group's members on the shard the group name hashes to;
    the pub/sub layer publishes on the shard its group channel's name hashes to."""
    from channels_redis.utils import _consistent_hash

    group = f"room.{room_id}"  # community.rooms.models.Room.group_name
    name = group if layer == "core" else f"{prefix}__group__{group}"
    return _consistent_hash(name, shards)


class ScenarioFailure(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body or b"null")


def expect(response: Response, *statuses: int, what: str) -> Response:
    if response.status not in statuses:
        raise ScenarioFailure(f"{what}: HTTP {response.status}: {response.body[:300]!r}")
    return response


def multipart(data: dict, files: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in data.items()
    ]
    for name, (filename, content, content_type) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Person:
    """One account, its own cookie jar (the read-primary cookie), its JWT, and when it
    last wrote over REST (``wrote_at``, monotonic: any request but a GET or HEAD)."""

    def __init__(self, lb: str, username: str, pin: str):
        self.lb, self.username, self.pin = lb, username, pin
        self.password = f"cluster-{secrets.token_urlsafe(12)}"
        self.token = ""
        self.wrote_at = 0.0
        self.opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def api(self, method, path, *, data=None, files=None, headers=None, pin=None) -> Response:
        headers = dict(headers or {})
        headers["X-Moim-Pin"] = pin or self.pin
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = None
        if files is not None:
            body, headers["Content-Type"] = multipart(data or {}, files)
        elif data is not None:
            body, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
        request = urllib.request.Request(  # noqa: S310 (an http:// URL built here)
            f"{self.lb}/api/v1/{path}", data=body, method=method, headers=headers
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())
        finally:
            if method not in ("GET", "HEAD"):
                # After the response: the server marked the writer before answering.
                self.wrote_at = time.monotonic()

    def sign_up(self):
        user = {"username": self.username, "password": self.password}
        expect(
            self.api(
                "POST", "auth/register/", data={**user, "email": f"{self.username}@example.com"}
            ),
            201,
            what=f"register {self.username}",
        )
        tokens = expect(self.api("POST", "auth/token/", data=user), 200, what="log in").json()
        self.token = tokens["access"]

    def ticket(self, pin: str) -> str:
        return expect(
            self.api("POST", "realtime/ticket/", pin=pin), 200, 201, what="ticket"
        ).json()["ticket"]


def primary_history(person: Person, room_id: int) -> list[dict]:
    """The whole room, from the primary (the request asks for it)."""
    messages, after = [], 0
    while True:
        page = expect(
            person.api(
                "GET",
                f"rooms/{room_id}/messages/?after={after}&limit=100",
                headers={"X-Moim-Read-Primary": "1"},
            ),
            200,
            what="history",
        ).json()
        messages.extend(page["results"])
        if not page["has_more"]:
            return messages
        after = page["results"][-1]["seq"]


class Member:
    """A reconnecting room socket (see the module docstring)."""

    def __init__(self, person: Person, room_id: int, ws_base: str):
        self.person, self.room_id, self.ws_base = person, room_id, ws_base
        self.seen: dict[int, dict] = {}  # seq -> message
        self.high = 0  # highest contiguous seq
        self.pending: dict[str, str] = {}  # client_id -> body, no echo yet
        self.echoed = 0
        self.echo_resyncs = 0
        self.sent_at: dict[str, float] = {}
        self.latencies_ms: list[float] = []
        self.socket = None
        self.hosts: list[str] = []
        self.connections = 0
        self.same_connection_duplicates = 0
        self.arrived_out_of_order = 0
        self.retry_replies = 0
        self.resent: set[str] = set()
        self.synced = False  # connected and caught up: new sends go out at once
        self.overtaken = 0
        self.filled_from_history = 0
        self.fills: list[asyncio.Task] = []
        self.replayed = 0
        self.gaps = 0
        self.close_codes: list[int | None] = []
        self.reconnect_ms: list[float] = []
        self.stopped = False
        self.connected = asyncio.Event()
        self.task: asyncio.Task | None = None

    @property
    def name(self):
        return self.person.username

    async def _open(self):
        ticket = await asyncio.to_thread(self.person.ticket, self.person.pin)
        url = f"{self.ws_base}/ws/rooms/{self.room_id}/?ticket={ticket}"
        if self.connections:
            url += f"&after={self.high}"
        socket = await websockets.connect(
            url,
            open_timeout=CONNECT_TIMEOUT,
            additional_headers={"X-Moim-Pin": self.person.pin},
            max_size=2**22,
        )
        self.hosts.append(socket.response.headers.get("X-Moim-Host", "?"))
        self.connections += 1
        return socket

    async def start(self):
        self.socket = await self._open()
        await self._wait_ready(self.socket)
        self.connected.set()
        self.synced = True  # a first connection (no ?after=) has nothing to catch up
        self.task = asyncio.create_task(self._run())

    async def _wait_ready(self, socket):
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while True:
            raw = await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic()))
            event = json.loads(raw)
            if event["type"] == "ready":
                return
            self._handle(event, [])

    async def _run(self):
        while not self.stopped:
            on_this_connection: list[int] = []
            try:
                async for raw in self.socket:
                    event = json.loads(raw)
                    if event.get("type") == "resync.done":
                        # Caught up: what is still unechoed never reached the room. Resent
                        # with the same client_id (stored once whatever happened); the
                        # server answers a retry of a stored message to the sender alone.
                        for client_id, body in list(self.pending.items()):
                            self.resent.add(client_id)
                            await self._send_frame(client_id, body)
                        self.synced = True
                        continue
                    gap = self._handle(event, on_this_connection)
                    if gap is not None:
                        # As chat.js: live events from different processes may overtake
                        # each other; after a moment, fetch what is still missing.
                        self.gaps += 1
                        self.fills.append(asyncio.create_task(self._fill_gap(*gap)))
            except websockets.ConnectionClosed:
                pass
            self.synced = False
            self.close_codes.append(getattr(self.socket, "close_code", None))
            if self.stopped:
                return
            self.connected.clear()
            started = time.monotonic()
            await self._reconnect()
            self.reconnect_ms.append((time.monotonic() - started) * 1000)

    async def _reconnect(self):
        delay = 0.1
        while not self.stopped:
            try:
                self.socket = await self._open()
                await self._wait_ready(self.socket)
                self.connected.set()
                return
            except Exception:  # the host is down, the balancer not yet aware: retry
                await asyncio.sleep(delay + random.random() * delay)
                delay = min(delay * 2, 2.0)

    def _handle(self, event: dict, on_this_connection: list[int]) -> str | None:
        if event.get("type") != "message.created":
            return None
        message = event["message"]
        seq = message["seq"]
        # One connection delivers each message once. Live events broadcast by different
        # processes may arrive out of seq order (counted); the view is ordered by seq.
        if seq in on_this_connection:
            if message.get("client_id") in self.resent:
                self.retry_replies += 1  # the answer to our own resend
            else:
                self.same_connection_duplicates += 1
        elif on_this_connection and seq < on_this_connection[-1]:
            self.arrived_out_of_order += 1
        on_this_connection.append(seq)
        client_id = message.get("client_id") or ""
        if client_id in self.pending:
            del self.pending[client_id]
            self.echoed += 1
            if client_id in self.sent_at:
                self.latencies_ms.append((time.perf_counter() - self.sent_at.pop(client_id)) * 1000)
        if seq in self.seen:
            self.replayed += 1  # a resync replaying what this client has: dropped by seq
            return None
        self.seen[seq] = message
        while self.high + 1 in self.seen:
            self.high += 1
        if seq > self.high + 1 and seq - 1 not in self.seen:
            return (self.high, seq)  # something before it has not arrived (yet)
        return None

    async def _fill_gap(self, after: int, before: int):
        await asyncio.sleep(GAP_FILL_SECONDS)
        if all(s in self.seen for s in range(after + 1, before)):
            self.overtaken += 1  # it arrived late, by another process's broadcast
            return
        try:
            page = await asyncio.to_thread(
                lambda: expect(
                    self.person.api(
                        "GET",
                        f"rooms/{self.room_id}/messages/?after={after}&before={before}&limit=100",
                    ),
                    200,
                    what="gap fill",
                ).json()
            )
        except Exception:
            return  # the next gap or resync fetches it
        for message in page["results"]:
            if message["seq"] not in self.seen:
                self.filled_from_history += 1
                self._handle({"type": "message.created", "message": message}, [])

    async def _send_frame(self, client_id: str, body: str):
        await self.socket.send(
            json.dumps({"type": "message.send", "body": body, "client_id": client_id})
        )

    async def send(self, body: str) -> str:
        client_id = str(uuid.uuid4())
        self.pending[client_id] = body
        self.sent_at[client_id] = time.perf_counter()
        if self.synced:  # otherwise sent once the next connection has caught up
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._send_frame(client_id, body)
        return client_id

    async def send_and_wait(self, body: str, timeout: float = 30) -> str:
        client_id = await self.send(body)
        started = time.monotonic()
        resync_at = started + ECHO_RESYNC_SECONDS
        while client_id in self.pending:
            now = time.monotonic()
            if now > started + timeout:
                raise ScenarioFailure(f"{self.name}: no echo for {body!r} in {timeout:.0f} s")
            if now > resync_at and self.connected.is_set():
                # No echo: the socket may be deaf (half-open, or dropped from the room's
                # group). A careful client resyncs and resends (chat.js does not yet).
                self.echo_resyncs += 1
                resync_at = now + ECHO_RESYNC_SECONDS
                with contextlib.suppress(Exception):
                    await self.socket.close()
            await asyncio.sleep(0.005)
        return client_id

    async def stop(self):
        self.stopped = True
        if self.socket is not None:
            await self.socket.close()
        if self.task is not None:
            await asyncio.gather(self.task, *self.fills, return_exceptions=True)


class Cluster:
    def __init__(self, args):
        self.lb = args.lb.rstrip("/")
        self.ws_base = "ws://" + self.lb.split("://", 1)[1]
        self.apps = dict(item.split("=", 1) for item in args.app)
        self.fault_script = args.fault
        self.replica_dsn = args.replica
        self.primary_dsn = args.primary
        self.redis_urls = args.redis
        self.results: dict = {"scenarios": {}}

    def fault(self, *argv: str) -> str:
        done = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
            [self.fault_script, *argv], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise ScenarioFailure(f"fault {argv}: {done.stderr or done.stdout}")
        return done.stdout.strip()

    def health(self, host: str) -> Response:
        try:
            with urllib.request.urlopen(f"{self.apps[host]}/healthz", timeout=10) as r:  # noqa: S310
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())
        except OSError as error:  # the host is down
            return Response(0, {}, json.dumps({"error": str(error)}).encode())

    def host_probe(self, host: str) -> dict:
        """The host's own ``/healthz`` probe, on its loopback: ``{"status", "body"}``, the
        body with ``down`` and ``checks`` (the details are for staff and this machine)."""
        return json.loads(self.fault("healthz", host))

    def listening(self, host: str) -> bool:
        """Does the host's process accept connections (it may be up but hung)?"""
        address = urllib.parse.urlsplit(self.apps[host])
        try:
            socket.create_connection((address.hostname, address.port), timeout=2).close()
        except OSError:
            return False
        return True

    async def ensure_up(self, hosts: list[str]) -> None:
        """Restart whatever an earlier (failed) scenario left down."""
        for host in hosts:
            if not await asyncio.to_thread(self.listening, host):
                await asyncio.to_thread(self.fault, "start-app", host)
                await self.wait_healthy(host)
                await self.wait_in_service(host)
        for index, url in enumerate(self.redis_urls):  # --redis in order: redis1, redis2
            try:
                redis.Redis.from_url(url, socket_timeout=2).ping()
            except redis.RedisError:
                await asyncio.to_thread(self.fault, "start-redis", f"redis{index + 1}")

    def wal_lsn(self) -> str:
        with psycopg.connect(self.primary_dsn, autocommit=True) as conn:
            return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

    def wal_bytes_since(self, lsn: str) -> int:
        with psycopg.connect(self.primary_dsn, autocommit=True) as conn:
            return int(
                conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn]).fetchone()[
                    0
                ]
            )

    def redis_stats(self) -> list[tuple[int, float]]:
        """(commands processed, CPU seconds) of each Redis shard."""
        stats = []
        for url in self.redis_urls:
            client = redis.Redis.from_url(url, socket_timeout=5)
            info = client.info()
            client.close()
            stats.append(
                (info["total_commands_processed"], info["used_cpu_user"] + info["used_cpu_sys"])
            )
        return stats

    def through_balancer(self, host: str) -> str:
        # Any answer names its host (a 404 too); not /healthz, which waits on backends.
        request = urllib.request.Request(  # noqa: S310
            f"{self.lb}/cluster-probe", headers={"X-Moim-Pin": host}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
                return r.headers.get("X-Moim-Host", "")
        except urllib.error.HTTPError as error:
            return error.headers.get("X-Moim-Host", "")
        except OSError:
            return ""

    async def wait_in_service(self, host: str, timeout: float = 60):
        """Until the balancer sends this host's pinned requests to it."""
        deadline = time.monotonic() + timeout
        while await asyncio.to_thread(self.through_balancer, host) != host:
            if time.monotonic() > deadline:
                raise ScenarioFailure(f"the balancer has not taken {host} in within {timeout} s")
            await asyncio.sleep(0.25)

    async def wait_healthy(self, host: str, timeout: float = 90):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = await asyncio.to_thread(self.health, host)
            if last.status == 200:
                return
            await asyncio.sleep(0.25)
        raise ScenarioFailure(
            f"{host} not healthy within {timeout:.0f} s: /healthz {last.status} {last.body[:400]!r}"
        )


async def converge(members: list[Member], reader: Person, room_id: int, what: str) -> dict:
    """Every member ends with the primary's history: once each, in order, nothing lost."""
    stored = await asyncio.to_thread(primary_history, reader, room_id)
    last = stored[-1]["seq"] if stored else 0
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    while any(m.high < last or m.pending for m in members):
        if time.monotonic() > deadline:
            behind = {m.name: (m.high, len(m.pending)) for m in members if m.high < last}
            raise ScenarioFailure(
                f"{what}: members behind the room's last seq {last} after "
                f"{CONVERGE_TIMEOUT} s (member: (highest contiguous seq, unechoed sends)): {behind}"
            )
        await asyncio.sleep(0.05)
        stored = await asyncio.to_thread(primary_history, reader, room_id)
        last = stored[-1]["seq"] if stored else 0
    seqs = [m["seq"] for m in stored]
    if seqs != list(range(1, last + 1)):
        raise ScenarioFailure(f"{what}: the stored seqs have holes: {seqs[:20]}…")
    client_ids = [m["client_id"] for m in stored if m.get("client_id")]
    if len(client_ids) != len(set(client_ids)):
        raise ScenarioFailure(f"{what}: a client_id is stored twice")
    for member in members:
        view = [member.seen[s]["id"] for s in range(1, last + 1)]
        if view != [m["id"] for m in stored]:
            raise ScenarioFailure(f"{what}: {member.name}'s messages differ from the primary")
        if member.same_connection_duplicates:
            raise ScenarioFailure(
                f"{what}: {member.name}: {member.same_connection_duplicates} duplicates on one "
                "connection"
            )
    return {"messages_in_room": last, "stored_client_ids": len(client_ids)}


def latency_figures(members: list[Member]) -> dict:
    values = sorted(v for m in members for v in m.latencies_ms)
    if not values:
        return {}
    return {
        "echo_ms_p50": round(statistics.median(values), 1),
        "echo_ms_p95": round(values[int(len(values) * 0.95) - 1], 1),
        "echo_ms_max": round(values[-1], 1),
    }


def big_photo() -> bytes:
    """A 4000×3000 noisy JPEG: a second or more of work for the worker."""
    image = Image.effect_noise((4000, 3000), 64).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


async def main_async(args) -> int:
    cluster = Cluster(args)
    hosts = sorted(cluster.apps)
    results = cluster.results
    started = time.perf_counter()
    print(f"cluster: app hosts {', '.join(hosts)} behind {cluster.lb}", flush=True)
    await asyncio.gather(*(cluster.wait_in_service(h) for h in hosts))

    # --- setup: people on every host, one private room ---------------------------------
    suffix = secrets.token_hex(3)
    people = [
        Person(cluster.lb, f"c_{host}_{i}_{suffix}", host)
        for host in hosts
        for i in range(args.clients_per_host)
    ]
    # A member who reads and never writes after joining (no socket, no send): replica
    # reads are theirs once the join's read-primary window has passed (scenario 4 waits
    # for it). Everyone else writes all through the run, so the router rightly sends them
    # to the primary for DATABASE_REPLICA_READ_PRIMARY_SECONDS after each message.
    lurker = Person(cluster.lb, f"c_reader_{suffix}", hosts[0])
    t0 = time.perf_counter()
    for person in [*people, lurker]:
        await asyncio.to_thread(person.sign_up)
    owner = people[0]
    # The room whose group lives on the shard scenario 3 stops, on either layer: its
    # broadcasts are the ones the outage cuts (rooms whose group hashes elsewhere are
    # left empty).
    for attempt in range(1, 21):
        room = expect(
            owner.api(
                "POST",
                "rooms/",
                data={
                    "title": f"Cluster {suffix} {attempt}",
                    "visibility": "private",
                    "nickname": "owner",
                    "is_open_profile": True,
                },
            ),
            201,
            what="create room",
        ).json()
        room_id = room["id"]
        shard = room_group_shard(room_id, layer=args.channel_layer, shards=len(args.redis))
        if shard == STOPPED_SHARD:
            break
    else:
        raise ScenarioFailure(f"no room's group landed on shard {STOPPED_SHARD} in 20 rooms")
    results["channel_layer"] = args.channel_layer
    results["room_group_shard"] = shard
    for i, person in enumerate([*people[1:], lurker], 1):
        invite = expect(
            owner.api("POST", f"rooms/{room_id}/invites/", data={}), 201, what="invite"
        ).json()
        expect(
            person.api(
                "POST",
                f"rooms/{room_id}/join/",
                data={"nickname": f"m{i}", "invite_code": invite["code"]},
            ),
            201,
            what="join",
        )
    print(
        f"  setup: {len(people) + 1} people signed up (one only reads), one room "
        f"({time.perf_counter() - t0:.1f} s); channel layer {args.channel_layer}, the "
        f"room's group on shard {shard}"
    )

    members = [Member(p, room_id, cluster.ws_base) for p in people]
    await asyncio.gather(*(m.start() for m in members))
    placement = {host: sum(1 for m in members if m.hosts[-1] == host) for host in hosts}
    if any(count == 0 for count in placement.values()):
        raise ScenarioFailure(f"members are not on every host: {placement}")
    print(f"  sockets through the balancer, members per host: {placement}")

    # --- 1. fan-out: every message through any host reaches every member ------------------
    n = args.messages

    async def scenario_fanout():
        wal_before = cluster.wal_lsn()
        redis_before = cluster.redis_stats()
        t0 = time.perf_counter()
        await asyncio.gather(*(_send_series(m, n, "fanout") for m in members))
        checked = await converge(members, owner, room_id, "fan-out")
        elapsed = time.perf_counter() - t0
        wal_bytes = cluster.wal_bytes_since(wal_before)
        redis_after = cluster.redis_stats()
        sent = n * len(members)
        deliveries = sent * len(members)
        fan = {
            "hosts": len(hosts),
            "members": len(members),
            "members_per_host": placement,
            "messages_sent": sent,
            "deliveries": deliveries,
            "seconds": round(elapsed, 2),
            "sends_per_s": round(sent / elapsed, 1),
            "deliveries_per_s": round(deliveries / elapsed, 1),
            "gaps_seen": sum(m.gaps for m in members),
            "arrived_out_of_seq_order": sum(m.arrived_out_of_order for m in members),
            "gaps_closed_by_late_arrival": sum(m.overtaken for m in members),
            "messages_fetched_by_gap_fill": sum(m.filled_from_history for m in members),
            # Costs per message and per delivery, for docs/scaling.md's model (the
            # history reads of converge() add a little WAL-free read load only).
            "wal_bytes_per_message": round(wal_bytes / sent),
            "redis_commands_per_delivery_by_shard": [
                round((a[0] - b[0]) / deliveries, 2)
                for a, b in zip(redis_after, redis_before, strict=True)
            ],
            "redis_cpu_ms_per_1000_deliveries_by_shard": [
                round((a[1] - b[1]) * 1000 / deliveries * 1000, 1)
                for a, b in zip(redis_after, redis_before, strict=True)
            ],
            **latency_figures(members),
            **checked,
        }
        results["scenarios"]["fanout"] = fan
        print(
            f"  1 fan-out: {sent} messages × {len(members)} members = {deliveries} deliveries in "
            f"{elapsed:.1f} s ({fan['deliveries_per_s']}/s); echo p50 {fan.get('echo_ms_p50')} ms, "
            f"p95 {fan.get('echo_ms_p95')} ms; {fan['arrived_out_of_seq_order']} arrived "
            "out of seq order (placed by seq); none lost or duplicated",
            flush=True,
        )

    # --- 2. kill an app host mid-conversation -------------------------------------------------
    async def scenario_kill_app_host():
        victim = hosts[1]
        on_victim = [m for m in members if m.hosts[-1] == victim]
        for m in members:
            m.latencies_ms.clear()
        total = n * len(members)
        sending = [asyncio.create_task(_send_series(m, n, "kill")) for m in members]
        echoed_before = sum(m.echoed for m in members)
        while sum(m.echoed for m in members) - echoed_before < total // 3:
            await asyncio.sleep(0.01)
        killed_at = time.perf_counter()
        await asyncio.to_thread(cluster.fault, "kill", victim)
        await asyncio.gather(*sending)
        checked = await converge(members, owner, room_id, "kill an app host")
        moved = {m.name: m.hosts[-1] for m in on_victim}
        if any(host == victim for host in moved.values()):
            raise ScenarioFailure(f"members still on the killed host: {moved}")
        kill = {
            "killed": victim,
            "members_on_it": len(on_victim),
            "their_new_hosts": sorted(moved.values()),
            "reconnect_ms_max": round(max(max(m.reconnect_ms) for m in on_victim), 0),
            "replayed_on_resync_dropped_by_seq": sum(m.replayed for m in members),
            "seconds_from_kill_to_converged": round(time.perf_counter() - killed_at, 2),
            **latency_figures(members),
            **checked,
        }
        results["scenarios"]["kill_app_host"] = kill
        print(
            f"  2 killed {victim} (kill -9, {len(on_victim)} members on it): they reconnected "
            f"through the balancer to {', '.join(kill['their_new_hosts'])} in at most "
            f"{kill['reconnect_ms_max']:.0f} ms and resynced; all {checked['messages_in_room']} "
            f"messages once each, in order, on every member",
            flush=True,
        )
        await asyncio.to_thread(cluster.fault, "start-app", victim)
        await cluster.wait_healthy(victim)
        await cluster.wait_in_service(victim)

    # --- 3. stop one Redis shard -------------------------------------------------------------
    async def scenario_redis_shard():
        await asyncio.to_thread(cluster.fault, "kill", "redis2")
        down_at = time.perf_counter()
        statuses, named, remote_views = [], {}, {}
        results["scenarios"]["redis_shard"] = {
            "sends_during_outage": statuses,
            "healthz": named,
            "healthz_from_elsewhere": remote_views,
        }
        try:
            for i, host in enumerate(hosts):
                response = await asyncio.to_thread(
                    people[i * args.clients_per_host].api,
                    "POST",
                    f"rooms/{room_id}/messages/",
                    data={
                        "body": f"during the shard outage via {host}",
                        "client_id": str(uuid.uuid4()),
                    },
                    pin=host,
                )
                statuses.append(response.status)
            for host in hosts:
                probe = await asyncio.to_thread(cluster.host_probe, host)
                body = probe["body"] or {}
                error = (body.get("checks", {}).get("channel_layer") or {}).get("error", "")
                named[host] = {"status": probe["status"], "down": body.get("down"), "error": error}
                # From another machine the same endpoint tells only the status.
                remote = await asyncio.to_thread(cluster.health, host)
                remote_views[host] = {"status": remote.status, "body": remote.json()}
            if any(s != 201 for s in statuses):
                raise ScenarioFailure(
                    f"sends during the shard outage answered {statuses} (want 201)"
                )
            for host, report in named.items():
                if report["status"] != 503 or "channel_layer" not in (report["down"] or []):
                    raise ScenarioFailure(f"{host} /healthz during the shard outage: {report}")
                if "10.77.0.22" not in report["error"]:
                    raise ScenarioFailure(f"{host} /healthz does not name the shard: {report}")
            for host, remote in remote_views.items():
                if remote != {"status": 503, "body": {"status": "unavailable"}}:
                    raise ScenarioFailure(
                        f"{host} /healthz tells another machine more than its status: {remote}"
                    )
        finally:
            await asyncio.to_thread(cluster.fault, "start-redis", "redis2")
        await asyncio.gather(*(cluster.wait_healthy(h, 30) for h in hosts))
        back_at = time.perf_counter()
        # The next message shows every member a gap if it missed any: they resync.
        await asyncio.gather(*(_send_series(m, 1, "after-shard") for m in members[:1]))
        checked = await converge(members, owner, room_id, "Redis shard outage")
        shard = {
            "sends_during_outage": statuses,
            "healthz": named,
            "healthz_from_elsewhere": remote_views,
            "echo_resyncs": sum(m.echo_resyncs for m in members),
            "outage_seconds": round(back_at - down_at, 2),
            "seconds_from_back_to_converged": round(time.perf_counter() - back_at, 2),
            "gaps_seen": sum(m.gaps for m in members),
            "messages_fetched_by_gap_fill": sum(m.filled_from_history for m in members),
            **checked,
        }
        results["scenarios"]["redis_shard"] = shard
        print(
            f"  3 stopped Redis shard 1: {len(statuses)} sends answered {sorted(set(statuses))}; "
            f"/healthz 503 on every host, its on-host probe naming "
            f"{named[hosts[0]]['error'][:60]!r} (elsewhere: the status alone); after it came "
            f"back every member resynced in {shard['seconds_from_back_to_converged']} s, "
            f"nothing lost",
            flush=True,
        )

    # --- 4. replica lag: nobody misses their own message --------------------------------------
    async def scenario_replica_lag():
        lag = await _replica_lag(
            cluster,
            people,
            members,
            lurker,
            hosts,
            room_id,
            args.clients_per_host,
            read_primary_seconds=args.read_primary_seconds,
        )
        results["scenarios"]["replica_lag"] = lag
        print(
            f"  4 replica replay paused: {lag['writers']} REST and {lag['socket_writers']} "
            f"socket writers each read their own message on another host right after "
            f"sending ({lag['own_message_missing']} missing); a member who never wrote since "
            f"joining (its join's window waited out {lag['waited_for_lurker_window_s']} s) "
            f"read the replica ({lag['stale_for_non_writer']} reads without the new messages); "
            f"caught up {lag['catch_up_ms']:.0f} ms after resume; normal lag p50 "
            f"{lag['normal_lag_ms_p50']} ms",
            flush=True,
        )

    # --- 5. restart the worker host mid-upload -------------------------------------------------
    async def scenario_worker_restart():
        upload = results["scenarios"]["worker_restart"] = {}
        await _worker_restart(cluster, owner, room_id, upload)
        results["scenarios"]["worker_restart"] = upload
        print(
            f"  5 worker host killed while processing a {upload['upload_bytes']} B photo and "
            f"restarted: the upload ended {upload['final_state']} "
            f"{upload['seconds_to_final']} s after the kill",
            flush=True,
        )

    failures = {}
    for name, scenario in (
        ("fanout", scenario_fanout),
        ("kill_app_host", scenario_kill_app_host),
        ("redis_shard", scenario_redis_shard),
        ("replica_lag", scenario_replica_lag),
        ("worker_restart", scenario_worker_restart),
    ):
        try:
            await cluster.ensure_up(hosts)
            await scenario()
        except Exception as failure:  # reported; the next scenario runs
            if not isinstance(failure, ScenarioFailure):
                failure = f"{type(failure).__name__}: {failure}"
            failures[name] = str(failure)
            print(f"FAIL {name}: {failure}", flush=True)
            # The next scenario starts from connected, caught-up members.
            for m in members:
                with contextlib.suppress(Exception):
                    await m.socket.close()
    results["failed"] = failures

    for m in members:
        await m.stop()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    with open(args.results, "w", encoding="utf-8") as out:
        json.dump(results, out, indent=2)
    print(figures_markdown(results))
    if args.doc:
        write_doc(args.doc, results)
    print(json.dumps(results, indent=2))
    if failures:
        print(f"cluster: {len(failures)} scenario(s) failed: {', '.join(failures)}")
        return 1
    print(f"cluster: all scenarios passed in {results['total_seconds']} s")
    return 0


DOC_START = "<!-- cluster-figures:start (written by deploy/cluster/driver.py --doc) -->"
DOC_END = "<!-- cluster-figures:end -->"


def figures_markdown(results: dict) -> str:
    """The figures table docs/scaling.md carries, from one run's results."""
    sc, failed = results["scenarios"], results.get("failed", {})

    def verdict(name):
        if name not in failed:
            return "**passes**"
        return "**fails**: " + failed[name].replace("|", "/")

    rows = ["| scenario | result | figures |", "| --- | --- | --- |"]
    f = sc.get("fanout", {})
    if f:
        rows.append(
            f"| 1. fan-out: {f['members']} members on {f['hosts']} hosts "
            f"{f['members_per_host']} | {verdict('fanout')} | {f['messages_sent']} messages × "
            f"{f['members']} = {f['deliveries']} deliveries in {f['seconds']} s "
            f"({f['deliveries_per_s']} deliveries/s); echo p50 {f.get('echo_ms_p50')} ms, p95 "
            f"{f.get('echo_ms_p95')} ms; {f['arrived_out_of_seq_order']} arrived out of seq "
            f"order (placed by seq), {f['messages_fetched_by_gap_fill']} fetched by gap fill; "
            "none lost or duplicated |"
        )
    k = sc.get("kill_app_host", {})
    rows.append(
        f"| 2. kill -9 an app host mid-conversation | {verdict('kill_app_host')} | "
        + (
            f"{k['members_on_it']} members on {k['killed']} reconnected to "
            f"{', '.join(k['their_new_hosts'])} in ≤ {k['reconnect_ms_max']:.0f} ms; all "
            f"{k['messages_in_room']} messages once each on every member "
            f"{k['seconds_from_kill_to_converged']} s after the kill |"
            if "killed" in k
            else " |"
        )
    )
    r = sc.get("redis_shard", {})
    health = next(iter(r.get("healthz", {}).values()), {})
    remote = next(iter(r.get("healthz_from_elsewhere", {}).values()), {})
    rows.append(
        f"| 3. stop Redis shard 1 (the room's group on it, {results.get('channel_layer')} "
        f"layer) | {verdict('redis_shard')} | sends during the outage: "
        f"{r.get('sends_during_outage')}; /healthz on each host's loopback "
        f"{health.get('status')} down {health.get('down')}: {health.get('error', '')[:90]}; "
        f"from another machine {remote.get('status')} {remote.get('body')}"
        + (
            f"; every member converged {r['seconds_from_back_to_converged']} s after the "
            "shard came back, nothing lost"
            if "seconds_from_back_to_converged" in r
            else ""
        )
        + " |"
    )
    lag = sc.get("replica_lag", {})
    rows.append(
        f"| 4. pause replay on the replica | {verdict('replica_lag')} | "
        + (
            f"{lag['writers']} REST and {lag['socket_writers']} socket writers read their own "
            f"message on another host ({lag['own_message_missing']} missing); a member who "
            f"never wrote since joining read the replica (its join's window waited out "
            f"{lag['waited_for_lurker_window_s']} s), stale {lag['stale_for_non_writer']}; "
            f"caught up {lag['catch_up_ms']} ms after resume; normal lag p50 "
            f"{lag['normal_lag_ms_p50']} "
            f"ms, max {lag['normal_lag_ms_max']} ms |"
            if lag
            else " |"
        )
    )
    w = sc.get("worker_restart", {})
    rows.append(
        f"| 5. kill -9 the worker host mid-upload, restart it | {verdict('worker_restart')} | "
        + (
            f"{w['upload_bytes']} B photo, {w['state_at_kill']} at the kill, "
            f"{w['final_state']} {w['seconds_to_final']} s later (delivered again after the "
            "broker's visibility timeout) |"
            if w
            else " |"
        )
    )
    if f:
        rows.append(
            f"| cost per message / per delivery (N = {f['members']}) | | WAL "
            f"{f['wal_bytes_per_message']} B per message; Redis commands per delivery by shard "
            f"{f['redis_commands_per_delivery_by_shard']}, Redis CPU ms per 1000 deliveries "
            f"by shard {f['redis_cpu_ms_per_1000_deliveries_by_shard']} |"
        )
    return "\n".join(rows)


def write_doc(path: str, results: dict) -> None:
    with open(path, encoding="utf-8") as doc:
        text = doc.read()
    if DOC_START not in text or DOC_END not in text:
        raise ScenarioFailure(f"{path} has no cluster-figures markers")
    head, rest = text.split(DOC_START, 1)
    _old, tail = rest.split(DOC_END, 1)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = (
        f"{DOC_START}\nLatest `make cluster-test` run ({stamp}; the scenarios took "
        f"{results.get('total_seconds')} s):\n\n{figures_markdown(results)}\n"
    )
    with open(path, "w", encoding="utf-8") as doc:
        doc.write(head + block + DOC_END + tail)


async def _send_series(member: Member, count: int, tag: str):
    for i in range(count):
        await member.send_and_wait(f"{member.name} {tag} #{i}", timeout=CONVERGE_TIMEOUT)


async def _replica_lag(
    cluster, people, members, lurker, hosts, room_id, per_host, *, read_primary_seconds: float
) -> dict:
    """Replay paused on the replica: whoever just wrote (over REST: the signed cookie and
    the user's mark; over the socket: the user's mark alone) reads their own message on
    another host; the member who never writes reads the replica (stale, as it should)."""

    def newest(person: Person, pin: str, limit: int = 20) -> list[str]:
        page = expect(
            person.api("GET", f"rooms/{room_id}/messages/?limit={limit}", pin=pin),
            200,
            what="read",
        ).json()
        return [m.get("client_id") for m in page["results"]]

    # The member who never writes asks for another page window than the writers: a page a
    # writer read from the primary is kept in the room's shared cache (fresher than the
    # replica, and served to anyone), while a page read from the replica is never stored;
    # so the lurker's window shows what the replica serves.
    def lurker_newest(pin: str) -> list[str]:
        return newest(lurker, pin, limit=19)

    def send(person: Person, pin: str, body: str) -> str:
        client_id = str(uuid.uuid4())
        expect(
            person.api(
                "POST",
                f"rooms/{room_id}/messages/",
                data={"body": body, "client_id": client_id},
                pin=pin,
            ),
            201,
            what="send",
        )
        return client_id

    # Normal lag: from the 201 to the row's visibility on the replica (polled over SQL).
    replica = psycopg.connect(cluster.replica_dsn, autocommit=True)
    lags = []
    for i in range(20):
        client_id = await asyncio.to_thread(send, people[0], hosts[0], f"lag probe {i}")
        t0 = time.perf_counter()
        while not replica.execute(
            "SELECT 1 FROM community_message WHERE client_id = %s", [client_id]
        ).fetchone():
            await asyncio.sleep(0.0005)
        lags.append((time.perf_counter() - t0) * 1000)
    # The lurker's join was a write: its response marked the lurker (cookie and user mark)
    # to read the primary for the window, as it must. When the scenarios before this one
    # run fast (they take ~10 s on an idle machine), that window is still open here and
    # the lurker rightly reads the primary; wait it out so its reads prove replica routing.
    lurker_wait = max(0.0, lurker.wrote_at + read_primary_seconds + 0.25 - time.monotonic())
    await asyncio.sleep(lurker_wait)
    replica.execute("SELECT pg_wal_replay_pause()")
    missing, writers, socket_writers, stale, lurker_reads = 0, 0, 0, 0, 0
    try:
        for i, host in enumerate(hosts):
            # Over REST through one host, the next read through another.
            writer = people[i * per_host]
            other = hosts[(i + 1) % len(hosts)]
            rest_id = await asyncio.to_thread(send, writer, host, f"own write via {host}")
            writers += 1
            if rest_id not in await asyncio.to_thread(newest, writer, other):
                missing += 1
            # Over the socket (no cookie comes back), then a read on a host the socket is
            # not on.
            member = members[i * per_host + (1 if per_host > 1 else 0)]
            socket_id = await member.send_and_wait(f"own socket write {i}")
            socket_writers += 1
            elsewhere = next(h for h in hosts[i:] + hosts[:i] if h != member.hosts[-1])
            if socket_id not in await asyncio.to_thread(newest, member.person, elsewhere):
                missing += 1
            # The member who never writes, on every host: the replica, without either.
            seen = await asyncio.to_thread(lurker_newest, other)
            lurker_reads += 1
            if rest_id not in seen and socket_id not in seen:
                stale += 1
    finally:
        resumed = time.perf_counter()
        replica.execute("SELECT pg_wal_replay_resume()")
    while socket_id not in await asyncio.to_thread(lurker_newest, hosts[0]):
        if time.perf_counter() - resumed > 30:
            raise ScenarioFailure("the replica did not catch up within 30 s of resuming")
        await asyncio.sleep(0.01)
    catch_up_ms = (time.perf_counter() - resumed) * 1000
    if missing:
        raise ScenarioFailure(f"{missing} writers did not see their own message (replica lag)")
    if stale != lurker_reads:
        raise ScenarioFailure(
            f"a member who never wrote saw messages the paused replica does not have in "
            f"{lurker_reads - stale} of {lurker_reads} reads: those hosts read the primary"
        )
    lags.sort()
    return {
        "writers": writers,
        "socket_writers": socket_writers,
        "own_message_missing": missing,
        "stale_for_non_writer": f"{stale}/{lurker_reads}",
        "waited_for_lurker_window_s": round(lurker_wait, 2),
        "catch_up_ms": round(catch_up_ms, 1),
        "normal_lag_ms_p50": round(statistics.median(lags), 1),
        "normal_lag_ms_max": round(lags[-1], 1),
    }


async def _worker_restart(cluster, owner: Person, room_id: int, figures: dict) -> dict:
    photo = big_photo()
    figures.update(upload_bytes=len(photo), state_at_kill="?", final_state="?")
    figures["seconds_to_final"] = "?"
    sent = expect(
        await asyncio.to_thread(
            owner.api,
            "POST",
            f"rooms/{room_id}/messages/",
            data={"body": "big photo", "client_id": str(uuid.uuid4())},
            files={"file": ("big.jpg", photo, "image/jpeg")},
        ),
        201,
        what="upload",
    ).json()
    message_id = sent["id"]

    def state() -> str:
        page = expect(
            owner.api(
                "GET",
                f"rooms/{room_id}/messages/?limit=30",
                headers={"X-Moim-Read-Primary": "1"},
            ),
            200,
            what="history",
        ).json()
        for message in page["results"]:
            if message["id"] == message_id:
                return (message.get("media") or {}).get("state", "?")
        return "?"

    deadline = time.monotonic() + 60
    seen = await asyncio.to_thread(state)
    while seen not in ("processing", "ready", "failed"):
        if time.monotonic() > deadline:
            raise ScenarioFailure(f"the upload never started processing (state {seen})")
        await asyncio.sleep(0.02)
        seen = await asyncio.to_thread(state)
    state_at_kill = figures["state_at_kill"] = seen
    await asyncio.to_thread(cluster.fault, "kill", "worker")
    killed = time.perf_counter()
    await asyncio.sleep(1)
    await asyncio.to_thread(cluster.fault, "start-worker")
    deadline = time.monotonic() + 120
    while seen not in ("ready", "failed"):
        if time.monotonic() > deadline:
            figures.update(final_state=f"still {seen}", seconds_to_final="> 120")
            raise ScenarioFailure(f"the upload is stuck in {seen!r} 120 s after the worker restart")
        await asyncio.sleep(0.25)
        seen = await asyncio.to_thread(state)
    figures.update(
        state_at_kill=state_at_kill,
        final_state=seen,
        seconds_to_final=round(time.perf_counter() - killed, 1),
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lb", required=True)
    parser.add_argument("--app", action="append", required=True, help="NAME=URL of an app host")
    parser.add_argument("--fault", required=True)
    parser.add_argument("--replica", required=True, help="the replica's DSN (lag, pause)")
    parser.add_argument("--primary", required=True, help="the primary's DSN (WAL volume)")
    parser.add_argument("--redis", action="append", required=True, help="each Redis shard's URL")
    parser.add_argument(
        "--channel-layer",
        choices=["core", "pubsub"],
        default="pubsub",
        help="the app hosts' CHANNEL_LAYER_BACKEND (where a room's group lives)",
    )
    parser.add_argument("--results", required=True)
    parser.add_argument("--doc", default="", help="rewrite this file's cluster-figures block")
    parser.add_argument("--clients-per-host", type=int, default=3)
    parser.add_argument("--messages", type=int, default=50, help="per member, per scenario")
    parser.add_argument(
        "--read-primary-seconds",
        type=float,
        default=10,
        help="the app hosts' DATABASE_REPLICA_READ_PRIMARY_SECONDS (a writer's primary window)",
    )
    args = parser.parse_args()
    try:
        return asyncio.run(main_async(args))
    except ScenarioFailure as failure:
        print(f"FAIL {failure}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
