"""Smoke test of a running Moim deployment, over HTTP and WebSockets only.

Drives what a person does, against two ASGI processes that share Redis, a Celery worker,
Celery beat and S3 storage (``.ci/smoke`` starts all of them; it can also be pointed at a real
deployment's two processes):

1. ``/healthz`` answers 200 on both processes.
2. Two people sign up and log in (JWT); one opens a private room, the other joins it
   with an invite code.
3. Each opens the room's socket on a different process (tickets); they take turns
   sending messages, and each must receive every message of the other.
4. A photo is sent to the room; the Celery worker turns it into renditions, the socket
   announces ``message.updated`` with the media ready, and every rendition is served
   back through its signed URL (a redirect to a presigned S3 URL) without credentials,
   while the unsigned URL is refused.
5. A reaction reaches the author's socket; a sandbox top-up and a tip go through, a
   retried tip with the same ``Idempotency-Key`` is answered from the first, and the
   tip's recipient is notified once (the outbox's relay, run by beat).

``--expect-down NAME[,NAME]`` checks instead that ``/healthz`` answers 503 naming those
checks (run after stopping a backing service). Figures go to stdout; any failure exits
non-zero. Uses only the runtime requirements (``websockets``, ``Pillow``) and the
standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import secrets
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import websockets
from PIL import Image, ImageDraw


class SmokeFailure(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body or b"null")


def http(method: str, url: str, *, token: str = "", data=None, files=None, headers=None):
    """One request; redirects are returned, not followed (they would carry the token)."""
    headers = dict(headers or {})
    # What the TLS-terminating proxy adds: the app runs with SECURE_SSL_REDIRECT on.
    headers.setdefault("X-Forwarded-Proto", "https")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = None
    if files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (data or {}).items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for name, (filename, content, content_type) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        body = b"".join(parts)
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if not url.startswith(("http://", "https://")):
        raise SmokeFailure(f"not an HTTP URL: {url}")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with _opener.open(request, timeout=30) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


def expect(response: Response, *statuses: int, what: str) -> Response:
    if response.status not in statuses:
        raise SmokeFailure(
            f"{what}: HTTP {response.status} (expected {statuses}): {response.body[:500]!r}"
        )
    return response


class Steps:
    """Times each step and prints it as it ends."""

    def __init__(self):
        self.timings: list[tuple[str, float]] = []

    def run(self, name: str, func, *args, **kwargs):
        started = time.perf_counter()
        result = func(*args, **kwargs)
        elapsed = time.perf_counter() - started
        self.timings.append((name, elapsed))
        print(f"  ok  {name:<44} {elapsed * 1000:8.0f} ms", flush=True)
        return result

    async def arun(self, name: str, coro):
        started = time.perf_counter()
        result = await coro
        elapsed = time.perf_counter() - started
        self.timings.append((name, elapsed))
        print(f"  ok  {name:<44} {elapsed * 1000:8.0f} ms", flush=True)
        return result


class Person:
    def __init__(self, base: str, username: str):
        self.base = base.rstrip("/")
        self.username = username
        self.password = f"smoke-{secrets.token_urlsafe(12)}"
        self.token = ""

    def api(self, method: str, path: str, **kwargs) -> Response:
        return http(method, f"{self.base}/api/v1/{path}", token=self.token, **kwargs)

    def sign_up(self) -> None:
        expect(
            self.api(
                "POST",
                "auth/register/",
                data={
                    "username": self.username,
                    "password": self.password,
                    "email": f"{self.username}@example.com",
                },
            ),
            201,
            what=f"register {self.username}",
        )
        tokens = expect(
            self.api(
                "POST",
                "auth/token/",
                data={"username": self.username, "password": self.password},
            ),
            200,
            what=f"log in {self.username}",
        ).json()
        self.token = tokens["access"]

    def socket_url(self, room_id: int) -> str:
        ticket = expect(
            self.api("POST", "realtime/ticket/"), 200, 201, what="socket ticket"
        ).json()["ticket"]
        scheme = "wss" if self.base.startswith("https") else "ws"
        host = self.base.split("://", 1)[1]
        return f"{scheme}://{host}/ws/rooms/{room_id}/?ticket={ticket}"


async def next_event(socket, predicate, *, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SmokeFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        try:
            raw = await asyncio.wait_for(socket.recv(), remaining)
        except TimeoutError:
            raise SmokeFailure(f"timed out after {timeout:.0f} s waiting for {what}") from None
        event = json.loads(raw)
        if event.get("type") == "error":
            raise SmokeFailure(f"socket error while waiting for {what}: {event}")
        if predicate(event):
            return event


def photo_bytes() -> bytes:
    """A 1600×1200 JPEG with EXIF, the kind a phone sends."""
    image = Image.new("RGB", (1600, 1200), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    for i in range(0, 1600, 40):
        draw.rectangle([i, (i * 7) % 1200, i + 30, (i * 7) % 1200 + 200], fill=(i % 255, 120, 60))
    exif = Image.Exif()
    exif[0x010F] = "SmokeCam"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def fetch_media(url: str, base: str) -> tuple[int, str, bytes]:
    """GET a media URL without credentials, following the redirect to storage."""
    absolute = urllib.parse.urljoin(base + "/", url)
    response = http("GET", absolute)
    hops = 0
    while response.status in (301, 302, 303, 307, 308) and hops < 3:
        location = urllib.parse.urljoin(absolute, response.headers["Location"])
        # A presigned storage URL: fetched bare, as a browser's <img> would.
        response = http("GET", location, headers={"X-Forwarded-Proto": "http"})
        absolute = location
        hops += 1
    return response.status, absolute, response.body


def check_health(bases: list[str]) -> None:
    for base in bases:
        response = http("GET", f"{base}/healthz")
        expect(response, 200, what=f"{base}/healthz")


def expect_down(bases: list[str], names: list[str]) -> int:
    for base in bases:
        response = http("GET", f"{base}/healthz")
        if response.status != 503:
            print(f"FAIL {base}/healthz answered {response.status}, expected 503")
            return 1
        body = response.json()
        missing = [name for name in names if name not in body.get("down", [])]
        if missing:
            print(f"FAIL {base}/healthz 503 does not name {missing}: {body}")
            return 1
        print(f"  ok  {base}/healthz 503, down: {', '.join(body['down'])}")
    return 0


async def chat(alice: Person, bob: Person, room_id: int, rounds: int, steps: Steps) -> dict:
    """Alternate sends on two sockets (two processes); each must get the other's."""
    figures = {"sent": 0, "received_by_other": 0, "latencies_ms": []}
    async with (
        websockets.connect(alice.socket_url(room_id), open_timeout=10) as a_socket,
        websockets.connect(bob.socket_url(room_id), open_timeout=10) as b_socket,
    ):
        for socket, who in ((a_socket, "alice"), (b_socket, "bob")):
            await next_event(
                socket, lambda e: e["type"] == "ready", timeout=10, what=f"{who}'s ready"
            )
        for i in range(rounds):
            turns = ((a_socket, b_socket, "alice"), (b_socket, a_socket, "bob"))
            for sender, receiver, who in turns:
                client_id = str(uuid.uuid4())
                body = f"smoke {who} {i} {client_id[:8]}"
                started = time.perf_counter()
                await sender.send(
                    json.dumps({"type": "message.send", "body": body, "client_id": client_id})
                )
                figures["sent"] += 1
                event = await next_event(
                    receiver,
                    lambda e, cid=client_id: (
                        e["type"] == "message.created" and e["message"].get("client_id") == cid
                    ),
                    timeout=10,
                    what=f"{who}'s message {i} on the other process",
                )
                figures["latencies_ms"].append((time.perf_counter() - started) * 1000)
                if event["message"]["body"] != body:
                    raise SmokeFailure(f"message body changed on the way: {event}")
                figures["received_by_other"] += 1
                # The sender gets its own copy too (it is a room broadcast).
                await next_event(
                    sender,
                    lambda e, cid=client_id: (
                        e["type"] == "message.created" and e["message"].get("client_id") == cid
                    ),
                    timeout=10,
                    what=f"{who}'s own echo",
                )
    return figures


async def photo_and_reaction(alice: Person, bob: Person, room_id: int, steps: Steps) -> dict:
    """Alice sends a photo; Bob's socket sees it processed; Bob reacts, Alice sees it."""
    async with (
        websockets.connect(alice.socket_url(room_id), open_timeout=10) as a_socket,
        websockets.connect(bob.socket_url(room_id), open_timeout=10) as b_socket,
    ):
        for socket in (a_socket, b_socket):
            await next_event(socket, lambda e: e["type"] == "ready", timeout=10, what="ready")
        jpeg = photo_bytes()
        started = time.perf_counter()
        sent = expect(
            alice.api(
                "POST",
                f"rooms/{room_id}/messages/",
                data={"body": "a photo", "client_id": str(uuid.uuid4())},
                files={"file": ("photo.jpg", jpeg, "image/jpeg")},
            ),
            201,
            what="send a photo",
        ).json()
        message_id = sent["id"]
        if sent["media"]["state"] not in ("pending", "processing", "ready"):
            raise SmokeFailure(f"photo message answered media {sent['media']}")

        def ready(event):
            return (
                event["type"] == "message.updated"
                and event["message"]["id"] == message_id
                and (event["message"].get("media") or {}).get("state") in ("ready", "failed")
            )

        event = await next_event(b_socket, ready, timeout=90, what="the photo to be processed")
        processing_ms = (time.perf_counter() - started) * 1000
        media = event["message"]["media"]
        if media["state"] != "ready":
            raise SmokeFailure(f"the worker failed the photo: {media}")
        print(f"  ok  photo processed by the worker in {processing_ms:.0f} ms", flush=True)

        # Reaction: Bob (process B) reacts, Alice's socket (process A) hears it.
        expect(
            bob.api("POST", f"messages/{message_id}/reactions/", data={"emoji": "👍"}),
            200,
            201,
            what="react",
        )
        await next_event(
            a_socket,
            lambda e: (
                e["type"] == "reaction.updated"
                and any(r["emoji"] == "👍" and r["count"] == 1 for r in e.get("reactions", []))
            ),
            timeout=10,
            what="reaction.updated on the author's socket",
        )
        print("  ok  reaction reached the other process", flush=True)
    return {"message_id": message_id, "media": media, "processing_ms": processing_ms}


def serve_renditions(media: dict, base: str) -> dict:
    urls = {"original": media["url"]}
    for size, thumb in (media.get("thumbnails") or {}).items():
        urls[size] = thumb["url"]
    served = {}
    storage_hosts = set()
    for name, url in urls.items():
        if "signature=" not in url:
            raise SmokeFailure(f"private-room media URL is not signed: {url}")
        status, final_url, body = fetch_media(url, base)
        if status != 200 or body[:4] != b"RIFF" or body[8:12] != b"WEBP":
            raise SmokeFailure(f"rendition {name} from {final_url}: HTTP {status}, {body[:40]!r}")
        if b"SmokeCam" in body or b"Exif" in body:
            raise SmokeFailure(f"rendition {name} still carries EXIF")
        storage_hosts.add(urllib.parse.urlsplit(final_url).netloc)
        served[name] = len(body)
    # Without its signature (and without credentials) the same URL is refused.
    unsigned = urllib.parse.urljoin(base + "/", media["url"].split("?", 1)[0])
    refused = http("GET", unsigned)
    if refused.status not in (401, 403, 404):
        raise SmokeFailure(f"unsigned private media answered {refused.status}")
    return {"renditions": served, "storage_hosts": sorted(storage_hosts)}


def money(alice: Person, bob: Person, message_id: int) -> dict:
    topup_key = str(uuid.uuid4())
    expect(
        bob.api(
            "POST",
            "wallet/topups/",
            data={"amount": 10000, "currency": "KRW"},
            headers={"Idempotency-Key": topup_key},
        ),
        200,
        201,
        what="top up",
    )
    tip_key = str(uuid.uuid4())
    tip_data = {"amount": 1000, "currency": "KRW", "message": message_id}
    tip = expect(
        bob.api("POST", "tips/", data=tip_data, headers={"Idempotency-Key": tip_key}),
        201,
        what="tip",
    ).json()
    replay = expect(
        bob.api("POST", "tips/", data=tip_data, headers={"Idempotency-Key": tip_key}),
        201,
        what="tip retried with the same key",
    )
    if replay.headers.get("Idempotent-Replayed") != "true" or replay.json()["id"] != tip["id"]:
        raise SmokeFailure(f"retried tip was not replayed: {replay.headers} {replay.body!r}")
    wallet = expect(bob.api("GET", "wallet/"), 200, what="wallet").json()
    notified_ms = wait_for_tip_notification(alice, tip_id=tip["id"])
    return {"tip": tip, "bob_wallet": wallet, "notified_ms": notified_ms}


def wait_for_tip_notification(recipient: Person, *, tip_id: int, timeout: float = 30) -> float:
    """The tip's recipient is notified once (the outbox's relay, run by beat and the
    worker); returns how long it took after the tip, in ms."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        listed = expect(recipient.api("GET", "notifications/"), 200, what="notifications")
        tips = [n for n in listed.json()["results"] if n["kind"] == "tip"]
        if tips:
            if len(tips) != 1:
                raise SmokeFailure(f"tip {tip_id} notified {len(tips)} times: {tips}")
            return (time.monotonic() - started) * 1000
        time.sleep(0.25)
    raise SmokeFailure(f"tip {tip_id}: its recipient was not notified within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", action="append", required=True, help="an ASGI process's URL (give two)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="chat messages each person sends (keep under MODERATION_FLOOD_MESSAGES)",
    )
    parser.add_argument("--expect-down", default="", help="checks /healthz must name as down")
    args = parser.parse_args()
    bases = [base.rstrip("/") for base in args.base]

    if args.expect_down:
        return expect_down(bases, [n for n in args.expect_down.split(",") if n])
    if len(bases) < 2:
        parser.error("give --base twice: the members chat through different processes")

    steps = Steps()
    started = time.perf_counter()
    try:
        steps.run("healthz 200 on every process", check_health, bases)
        suffix = secrets.token_hex(3)
        alice = Person(bases[0], f"smoke_alice_{suffix}")
        bob = Person(bases[1], f"smoke_bob_{suffix}")
        steps.run("sign up and log in (two people)", lambda: (alice.sign_up(), bob.sign_up()))
        room = steps.run(
            "create a private room",
            lambda: expect(
                alice.api(
                    "POST",
                    "rooms/",
                    data={
                        "title": f"Smoke {suffix}",
                        "visibility": "private",
                        "nickname": "host",
                        "is_open_profile": True,
                    },
                ),
                201,
                what="create room",
            ).json(),
        )
        room_id = room["id"]
        invite = steps.run(
            "invite",
            lambda: expect(
                alice.api("POST", f"rooms/{room_id}/invites/", data={}), 201, what="invite"
            ).json(),
        )
        steps.run(
            "join with the invite code",
            lambda: expect(
                bob.api(
                    "POST",
                    f"rooms/{room_id}/join/",
                    data={"nickname": "guest", "invite_code": invite["code"]},
                ),
                201,
                what="join",
            ),
        )
        chat_figures = asyncio.run(
            steps.arun("chat across two processes", chat(alice, bob, room_id, args.rounds, steps))
        )
        photo = asyncio.run(
            steps.arun("photo processed, reaction", photo_and_reaction(alice, bob, room_id, steps))
        )
        served = steps.run(
            "renditions served through signed URLs", serve_renditions, photo["media"], bases[1]
        )
        paid = steps.run("top up, tip, idempotent retry", money, alice, bob, photo["message_id"])
        steps.run("healthz 200 at the end", check_health, bases)
    except SmokeFailure as failure:
        print(f"FAIL {failure}", flush=True)
        return 1

    latencies = chat_figures["latencies_ms"]
    print("smoke figures:")
    print(
        f"  messages: {chat_figures['sent']} sent, {chat_figures['received_by_other']} received "
        f"on the other process; latency median {statistics.median(latencies):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
    renditions = ", ".join(f"{k} {v} B" for k, v in served["renditions"].items())
    print(
        f"  uploads: 1 sent, 1 processed by the worker in {photo['processing_ms']:.0f} ms; "
        f"renditions served from {', '.join(served['storage_hosts'])}: {renditions}"
    )
    tip = paid["tip"]
    balances = paid["bob_wallet"]
    print(
        f"  tips: 1 of {tip['amount']} {tip['currency']} (fee {tip['fee']}, net {tip['net']}), "
        f"retry replayed; tipper's wallet now {json.dumps(balances, ensure_ascii=False)[:200]}; "
        f"recipient notified in {paid['notified_ms']:.0f} ms"
    )
    print(f"  total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
