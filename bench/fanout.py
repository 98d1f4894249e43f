"""Fanout: one message reaching every member of a room, over real WebSockets.

Three systems receive the same offered load, stepped up: Moim's room socket, a minimal
Channels consumer that only does ``group_send`` (same server, no database, no auth), and
raw Redis PUBLISH/SUBSCRIBE. Every message carries a sequence number and its send time
(``bench:<seq>:<perf_counter>``), so latency and loss are read from what arrives.
"""

import asyncio
import json
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import websockets

MARK = re.compile(r"bench:(\d+):(\d+\.\d+)")
P99_TARGET_MS = 250.0


@dataclass
class Step:
    offered_per_s: float
    sent: int
    expected: int
    received: int
    lost: int
    delivered_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Receivers:
    """Collects (receiver, seq) → latency from every receiver."""

    def __init__(self, count: int):
        self.count = count
        self.latencies: dict[tuple[int, int], float] = {}
        self.last_arrival = time.perf_counter()

    def record(self, receiver: int, text: str) -> None:
        now = time.perf_counter()
        for match in MARK.finditer(text):
            key = (receiver, int(match.group(1)))
            if key not in self.latencies:
                self.latencies[key] = (now - float(match.group(2))) * 1000
                self.last_arrival = now

    def received(self, seqs: range) -> int:
        return sum((r, s) in self.latencies for r in range(self.count) for s in seqs)


async def drain(
    receivers: Receivers, seqs: range, *, quiet_seconds: float, max_seconds: float
) -> None:
    """Wait for a step's deliveries: ``quiet_seconds`` at least (the server settles
    before the next step), then on while any is missing, until none has arrived for
    ``quiet_seconds`` or ``max_seconds`` have passed.

    A delivery that comes late still counts, in the step's latency (a late step fails
    its p99 anyway); "lost" is left for what never came. A fixed wait counted a
    saturated step's queue, still being delivered, as lost.
    """
    expected = len(seqs) * receivers.count
    started = time.perf_counter()
    await asyncio.sleep(quiet_seconds)
    while True:
        now = time.perf_counter()
        if receivers.received(seqs) >= expected:
            return
        quiet_since = max(receivers.last_arrival, started)
        if now - quiet_since >= quiet_seconds or now - started >= max_seconds:
            return
        await asyncio.sleep(0.1)


async def run_steps(
    *,
    receivers: Receivers,
    send: Callable[[int, str], Awaitable[None]],
    rates: list[float],
    seconds: float,
    quiet_seconds: float = 2.0,
    max_drain_seconds: float = 30.0,
) -> list[Step]:
    steps = []
    seq = 0
    for rate in rates:
        first_seq = seq + 1
        started = time.perf_counter()
        total = max(1, int(rate * seconds))
        for index in range(total):
            target = started + index / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            seq += 1
            await send(seq, f"bench:{seq}:{time.perf_counter():.6f}")
        # The step's window: n sends at 1/rate apart span n - 1 intervals, and the last
        # send has its interval too. Without it a step of fewer sends (a lower rate)
        # read higher: 10/s to 500 members counted 5,102 deliveries/s, not 5,000.
        send_time = time.perf_counter() - started + 1 / rate
        wanted = range(first_seq, seq + 1)
        await drain(receivers, wanted, quiet_seconds=quiet_seconds, max_seconds=max_drain_seconds)
        latencies = [
            receivers.latencies[(r, s)]
            for r in range(receivers.count)
            for s in wanted
            if (r, s) in receivers.latencies
        ]
        expected = total * receivers.count
        steps.append(
            Step(
                offered_per_s=rate,
                sent=total,
                expected=expected,
                received=len(latencies),
                lost=expected - len(latencies),
                delivered_per_s=round(len(latencies) / max(send_time, 1e-9), 1),
                p50_ms=round(percentile(latencies, 0.50), 2),
                p95_ms=round(percentile(latencies, 0.95), 2),
                p99_ms=round(percentile(latencies, 0.99), 2),
            )
        )
        if steps[-1].p99_ms > 4 * P99_TARGET_MS:
            break  # saturated well past the target: further steps only add queueing
    return steps


def summarise(steps: list[Step]) -> dict:
    good = [s for s in steps if s.p99_ms <= P99_TARGET_MS and s.lost == 0]
    best = max(good, key=lambda s: s.delivered_per_s, default=None)
    saturation = best.offered_per_s if best else 0.0
    at_80 = [s for s in steps if s.offered_per_s <= 0.8 * saturation] if saturation else []
    return {
        "delivered_per_s_at_p99_target": best.delivered_per_s if best else 0.0,
        "p50_ms": best.p50_ms if best else None,
        "p95_ms": best.p95_ms if best else None,
        "p99_ms": best.p99_ms if best else None,
        "lost_at_80pct_saturation": sum(s.lost for s in at_80) if at_80 else None,
        "lost_total": sum(s.lost for s in steps),
        "steps": [asdict(s) for s in steps],
    }


async def _reader(receivers: Receivers, index: int, socket) -> None:
    try:
        async for text in socket:
            receivers.record(index, text if isinstance(text, str) else text.decode())
    except websockets.ConnectionClosed:
        pass


async def websocket_fanout(
    *,
    urls: list[str],
    frame: Callable[[int, str], str],
    rates: list[float],
    seconds: float,
    ready_marker: str | None = None,
) -> dict:
    """N sockets receive; senders rotate over the same sockets (each is a member)."""
    sockets = [
        await websockets.connect(url, max_size=2**22, open_timeout=30, ping_interval=None)
        for url in urls
    ]
    if ready_marker:
        # Wait until each socket has said it is subscribed (e.g. its first presence event).
        for socket in sockets:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                text = await asyncio.wait_for(socket.recv(), timeout=10)
                if ready_marker in text:
                    break
    receivers = Receivers(len(sockets))
    readers = [asyncio.create_task(_reader(receivers, i, s)) for i, s in enumerate(sockets)]

    async def send(seq: int, mark: str) -> None:
        await sockets[seq % len(sockets)].send(frame(seq, mark))

    try:
        steps = await run_steps(receivers=receivers, send=send, rates=rates, seconds=seconds)
    finally:
        for socket in sockets:
            await socket.close()
        for reader in readers:
            reader.cancel()
    return summarise(steps)


async def redis_pubsub_fanout(
    *, redis_url: str, receivers_count: int, rates: list[float], seconds: float
) -> dict:
    """The floor: raw Redis PUBLISH to N SUBSCRIBE connections."""
    import redis.asyncio as redis

    channel = f"bench-fanout-{time.time_ns()}"
    publisher = redis.from_url(redis_url)
    clients = [redis.from_url(redis_url) for _ in range(receivers_count)]
    pubsubs = [client.pubsub() for client in clients]
    for pubsub in pubsubs:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=5)  # the subscribe confirmation
    receivers = Receivers(receivers_count)

    async def read(index: int, pubsub) -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                receivers.record(index, message["data"].decode())

    readers = [asyncio.create_task(read(i, p)) for i, p in enumerate(pubsubs)]

    async def send(seq: int, mark: str) -> None:
        await publisher.publish(channel, json.dumps({"body": mark}))

    try:
        steps = await run_steps(receivers=receivers, send=send, rates=rates, seconds=seconds)
    finally:
        for reader in readers:
            reader.cancel()
        for pubsub in pubsubs:
            await pubsub.aclose()
        for client in [publisher, *clients]:
            await client.aclose()
    return summarise(steps)


def minimal_consumer_urls(base_ws: str, count: int) -> list[str]:
    group = f"g{time.time_ns()}"
    return [f"{base_ws}/ws/bench/{group}/" for _ in range(count)]


def minimal_frame(seq: int, mark: str) -> str:
    return json.dumps({"body": mark})


def moim_frame(seq: int, mark: str) -> str:
    return json.dumps({"type": "message.send", "body": mark, "client_id": f"b{seq}-{mark[-6:]}"})


def moim_room_urls(base_ws: str, members: int) -> list[str]:
    """A fresh room with ``members`` members; one single-use socket ticket each."""
    from bench.fixtures import room_with_members
    from config.realtime import issue_socket_ticket

    room, memberships = room_with_members(members)
    return [
        f"{base_ws}/ws/rooms/{room.pk}/?ticket={issue_socket_ticket(user_id=m.user_id)}"
        for m in memberships
    ]


def ratio(moim: float, baseline: float) -> float | None:
    return round(moim / baseline, 3) if baseline else None


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def rest_send_fanout(
    *,
    urls: list[str],
    post: Callable[[int, str], tuple[str, dict, dict]],
    rate: float,
    seconds: float,
    ready_marker: str | None = None,
    drain_timeout: float = 60.0,
) -> dict:
    """Messages POSTed over HTTP at a fixed rate (open loop: a slow answer does not slow
    the sender) while N sockets receive; latency is from just before the POST to each
    delivery. ``post(seq, mark)`` gives the request's URL, headers and JSON body."""
    import httpx

    sockets = [
        await websockets.connect(url, max_size=2**22, open_timeout=30, ping_interval=None)
        for url in urls
    ]
    if ready_marker:
        for socket in sockets:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                text = await asyncio.wait_for(socket.recv(), timeout=10)
                if ready_marker in text:
                    break
    receivers = Receivers(len(sockets))
    readers = [asyncio.create_task(_reader(receivers, i, s)) for i, s in enumerate(sockets)]
    total = max(1, int(rate * seconds))
    answers: list[float] = []
    failures = 0

    async def one(client, seq: int) -> None:
        nonlocal failures
        url, headers, body = post(seq, f"bench:{seq}:{time.perf_counter():.6f}")
        started = time.perf_counter()
        try:
            response = await client.post(url, headers=headers, json=body)
        except httpx.HTTPError:
            failures += 1
            return
        answers.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 300:
            failures += 1

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    try:
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            started = time.perf_counter()
            posts = []
            for index in range(total):
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                posts.append(asyncio.create_task(one(client, index + 1)))
            send_seconds = time.perf_counter() - started
            await asyncio.gather(*posts)
        expected = total * len(sockets)
        deadline = time.monotonic() + drain_timeout
        while len(receivers.latencies) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        for socket in sockets:
            await socket.close()
        for reader in readers:
            reader.cancel()
    latencies = [v for (_, seq), v in receivers.latencies.items() if 1 <= seq <= total]
    return {
        "members": len(sockets),
        "offered_per_s": rate,
        "sent": total,
        "achieved_send_per_s": round(total / max(send_seconds, 1e-9), 2),
        "failed_posts": failures,
        "post_p50_ms": round(percentile(answers, 0.50), 2),
        "post_p99_ms": round(percentile(answers, 0.99), 2),
        "expected": expected,
        "received": len(latencies),
        "lost": expected - len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


def moim_rest_poster(base: str, room_id: int, token: str):
    url = f"{base}/api/v1/rooms/{room_id}/messages/"
    headers = {"Authorization": f"Bearer {token}"}

    def post(seq: int, mark: str) -> tuple[str, dict, dict]:
        return url, headers, {"body": mark, "client_id": f"rest-{time.time_ns()}-{seq}"}

    return post


def minimal_rest_poster(base: str, group: str):
    url = f"{base}/bench/publish/{group}"

    def post(seq: int, mark: str) -> tuple[str, dict, dict]:
        return url, {}, {"body": json.dumps({"body": mark})}

    return post


def moim_room_with_tickets(base_ws: str, members: int) -> tuple[int, int, list[str]]:
    """A fresh room: (room id, the sender's user id, one socket URL per member)."""
    from bench.fixtures import room_with_members
    from config.realtime import issue_socket_ticket

    room, memberships = room_with_members(members)
    urls = [
        f"{base_ws}/ws/rooms/{room.pk}/?ticket={issue_socket_ticket(user_id=m.user_id)}"
        for m in memberships
    ]
    return room.pk, memberships[0].user_id, urls
