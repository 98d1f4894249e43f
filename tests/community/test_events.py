"""Every realtime event against its one definition (``community/events.py``), the way
Zulip's ``test_events.py`` holds the code to ``event_schema.py``:

* the real flows (HTTP, API, admin, sockets) send only defined events, each in its
  defined shape, to its defined group, and between them they send every one;
* every event has a receiver (a consumer or a web-app script that handles it), and
  every handler in the consumers and scripts is for an event the code sends;
* ``docs/realtime.md`` lists exactly the defined events and close codes.
"""

import json
import re
import types
import typing
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community import events
from community.chat.models import Message
from community.moderation.services import check_file_report
from community.rooms.models import Membership, Room
from config import realtime
from config.asgi import application
from config.realtime import issue_socket_ticket
from tests.community.chat_support import (
    next_event,
    ready_socket,
)
from tests.community.moderation_helpers import make_moderator

ROOT = Path(__file__).resolve().parents[2]
GROUP_PATTERNS = {
    events.ROOM_GROUP: re.compile(r"room\.\d+"),
    events.USER_GROUP: re.compile(r"user\.\d+"),
    events.BLOCKS_GROUP: re.compile(r"blocks\.\d+"),
}
# Where each receiver named in a definition lives, and the socket a script listens to.
RECEIVER_FILES = {
    "RoomConsumer": "community/chat/consumers.py",
    "MeConsumer": "community/notifications/consumers.py",
    "chat.js": "static/js/chat.js",
    "reactions.js": "static/js/reactions.js",
    "badge.js": "static/js/badge.js",
    "chat-polls.js": "static/js/chat-polls.js",
    "chat-meetups.js": "static/js/chat-meetups.js",
    "chat-reads.js": "static/js/chat-reads.js",
}
SCRIPT_SOCKETS = {
    "chat.js": events.ROOM_SOCKET,
    "reactions.js": events.ROOM_SOCKET,
    "badge.js": events.ME_SOCKET,
    "chat-polls.js": events.ROOM_SOCKET,
    "chat-meetups.js": events.ROOM_SOCKET,
    "chat-reads.js": events.ROOM_SOCKET,
}


# --- the schema check -------------------------------------------------------------------------


def _matches(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return True
    if annotation is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_matches(each, item) for each in value)
    if origin is dict:
        return isinstance(value, dict)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def check_event(event: dict, spec: events.Spec) -> None:
    """``event`` has exactly the fields of ``spec``'s shape, each of its type."""
    hints = typing.get_type_hints(spec.shape)
    required, optional = spec.shape.__required_keys__, spec.shape.__optional_keys__
    assert event.get("type") == spec.type, event
    missing = required - event.keys()
    unknown = event.keys() - required - optional
    assert not missing and not unknown, f"{spec.type}: missing {missing}, unknown {unknown}"
    for name, value in event.items():
        assert _matches(value, hints[name]), f"{spec.type}.{name}: {value!r} is not {hints[name]}"
    json.dumps(event)  # what a socket sends is JSON


def check_group_send(group: str, event: dict) -> events.Spec:
    spec = events.GROUP_EVENTS.get(event.get("type"))
    assert spec is not None, f"undefined event sent to {group}: {event}"
    assert any(GROUP_PATTERNS[kind].fullmatch(group) for kind in spec.groups), (group, event)
    check_event(event, spec)
    return spec


@pytest.fixture
def sent(monkeypatch):
    """Every event handed to the channel layer (the one send path, ``config.realtime``),
    as ``(group, event)``, validated; still delivered."""
    records: list[tuple[str, dict]] = []
    deliver = realtime.send_now

    def send_now(group, *sending, **options):
        for event in sending:
            check_group_send(group, event)
            records.append((group, event))
        return deliver(group, *sending, **options)

    monkeypatch.setattr(realtime, "send_now", send_now)
    return records


@pytest.fixture
def frames(monkeypatch):
    """Every frame a consumer writes to its socket, as ``(socket path, frame)``."""
    records: list[tuple[str, dict]] = []
    write = realtime.ClosedSocketGuard.send_json
    sockets = {"RoomConsumer": events.ROOM_SOCKET, "MeConsumer": events.ME_SOCKET}

    async def send_json(self, content, close=False):
        records.append((sockets[type(self).__name__], content))
        return await write(self, content, close=close)

    # Message events come encoded once by their sender, and are sent as that text.
    write_text = realtime.ClosedSocketGuard.send_text

    async def send_text(self, text, *, frame_type):
        frame = json.loads(text)
        assert frame["type"] == frame_type, (frame_type, frame)
        records.append((sockets[type(self).__name__], frame))
        return await write_text(self, text, frame_type=frame_type)

    monkeypatch.setattr(realtime.ClosedSocketGuard, "send_json", send_json)
    monkeypatch.setattr(realtime.ClosedSocketGuard, "send_text", send_text)
    return records


# --- the flows --------------------------------------------------------------------------------

# The socket flows send typing and presence (they need open sockets); the HTTP flows send
# every other group event. Between them every definition is exercised.
SOCKET_FLOW_EVENTS = {events.TYPING, events.PRESENCE}
HTTP_FLOW_EVENTS = set(events.GROUP_EVENTS) - SOCKET_FLOW_EVENTS


def _admin_act(moderator, case, **data):
    client = Client()
    client.force_login(moderator)
    url = reverse("admin:community_moderationcase_change", args=[case.pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:500]


@pytest.mark.django_db
def test_http_flows_send_every_group_event_in_its_defined_shape(
    sent, make_user, make_room, client_for, django_capture_on_commit_callbacks
):
    owner, guest, fan = make_user("owner"), make_user("guest"), make_user("fan")
    asker, moderator = make_user("asker"), make_moderator(make_user, "mod")
    with django_capture_on_commit_callbacks(execute=True):
        room = make_room(owner=owner)
        owner_nick = Membership.objects.get(room=room, user=owner).nickname
        as_owner, as_guest, as_fan = client_for(owner), client_for(guest), client_for(fan)
        base = f"/api/v1/rooms/{room.pk}"
        assert as_guest.post(f"{base}/join/", {"nickname": "Guest"}).status_code == 201
        fan_id = as_fan.post(f"{base}/join/", {"nickname": "Fan"}).json()["membership"]["id"]
        message_id = as_guest.post(
            f"{base}/messages/", {"body": f"hi @{owner_nick}"}, format="json"
        ).json()["id"]
        for reactor in (as_owner, as_fan):  # a notification, then the same one grown
            url = f"/api/v1/messages/{message_id}/reactions/"
            assert reactor.post(url, {"emoji": "👍"}, format="json").status_code in (200, 201)
        # A poll voted on, a meetup answered: their counts.
        poll = as_guest.post(
            f"{base}/polls/", {"question": "When?", "options": ["Fri", "Sat"]}, format="json"
        ).json()["poll"]
        vote = {"options": [poll["options"][0]["id"]]}
        assert (
            as_fan.put(f"/api/v1/polls/{poll['id']}/vote/", vote, format="json").status_code == 200
        )
        starts_at = (timezone.now() + timedelta(days=2)).isoformat()
        meetup = as_guest.post(
            f"{base}/meetups/", {"title": "Picnic", "starts_at": starts_at}, format="json"
        ).json()["meetup"]
        rsvp = f"/api/v1/meetups/{meetup['id']}/rsvp/"
        assert as_fan.put(rsvp, {"status": "going"}, format="json").status_code == 200
        url = f"/api/v1/messages/{message_id}/"
        assert as_guest.patch(url, {"body": "hi again"}, format="json").status_code == 200
        seq = Message.objects.get(pk=message_id).seq
        assert as_owner.post(f"{base}/read/", {"seq": seq}, format="json").status_code == 200
        assert as_guest.delete(url).status_code == 204
        assert as_owner.patch(f"{base}/", {"title": "Renamed"}, format="json").status_code == 200
        assert as_owner.post(f"{base}/slow-mode/", {"seconds": 30}).status_code == 200
        assert as_owner.put(f"{base}/announcement/", {"body": "Be kind"}).status_code == 200
        member = f"{base}/members/{fan_id}"
        assert as_owner.post(f"{member}/mute/", {"minutes": 10, "reason": "x"}).status_code == 200
        assert as_guest.post(f"{member}/block/").status_code == 204
        assert as_owner.post(f"{member}/kick/", {"reason": "rude"}).status_code == 204
        assert as_guest.post(f"{base}/leave/").status_code == 204

        # A request to join a room that needs approval reaches each host's /ws/me/.
        gated = make_room(owner=owner, title="Gated", join_policy=Room.JoinPolicy.APPROVAL)
        client_for(asker).post(f"/api/v1/rooms/{gated.pk}/join/", {"nickname": "Asker"})

        # The moderators' desk: a warning, a room suspension.
        kept = as_owner.post(f"{base}/messages/", {"body": "report me"}, format="json").json()
        case = check_file_report(
            reporter=fan, target_type="message", target_id=kept["id"], reason="spam"
        )
        _admin_act(moderator, case, action="warn", note="mind the rules")
        _admin_act(moderator, case, action="suspend_room", note="cool off")

        # The owner archives the room as they leave it; a user logs out everywhere.
        web = Client()
        web.force_login(owner)
        assert (
            web.post(reverse("room-leave", args=[gated.pk]), {"archive": "on"}).status_code == 302
        )
        assert as_fan.post("/api/v1/auth/logout-everywhere/").status_code == 204

    assert {event["type"] for _group, event in sent} == HTTP_FLOW_EVENTS
    removals = [event for _group, event in sent if event["type"] == events.MEMBER_REMOVED]
    assert [event["reason"] for event in removals] == ["kicked", "left", "left"]
    (warning,) = [(g, e) for g, e in sent if e["type"] == events.MODERATION_WARNING]
    expected = events.moderation_warning(room_id=room.pk, message="mind the rules")
    assert warning == (f"user.{owner.pk}", expected)  # the author of the reported message
    (request,) = [(g, e) for g, e in sent if e["type"] == events.JOIN_REQUEST_CREATED]
    assert request[0] == f"user.{owner.pk}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_socket_flows_send_every_frame_in_its_defined_shape(
    sent, frames, make_user, make_room, make_member, client_for
):
    host = await database_sync_to_async(make_user)("host")
    guest = await database_sync_to_async(make_user)("guest")
    room = await database_sync_to_async(make_room)(owner=host)
    await database_sync_to_async(make_member)(room, guest, nickname="Guest")

    host_socket, host_ready = await ready_socket(host, room.pk)
    guest_socket, _ready = await ready_socket(guest, room.pk)
    await guest_socket.send_json_to({"type": "typing"})
    await next_event(host_socket, "typing")
    await guest_socket.send_json_to({"type": "message.send", "body": "hello", "client_id": "c1"})
    await next_event(guest_socket, "message.created")
    await guest_socket.send_json_to({"type": "read", "seq": 1})
    await next_event(guest_socket, "read.ok")
    await guest_socket.send_json_to({"type": "ping", "ref": 7})
    await next_event(guest_socket, "pong")
    await guest_socket.send_json_to({"type": "no.such.frame"})
    assert (await next_event(guest_socket, "error"))["code"] == "unknown_frame"
    # The reader blocks the host: their blocks group tells each of their room sockets.
    block = f"/api/v1/rooms/{room.pk}/members/{host_ready['membership_id']}/block/"
    await database_sync_to_async(lambda: client_for(guest).post(block))()
    await next_event(guest_socket, "blocks.changed")
    # A resync replays history, then says it is done.
    resync, _ready = await ready_socket(guest, room.pk, after=0)
    await next_event(resync, "resync.done")

    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=guest.pk)
    me = WebsocketCommunicator(application, f"/ws/me/?ticket={ticket}", [(b"host", b"testserver")])
    assert (await me.connect())[0]
    await next_event(me, "ready")
    # A message in one of my rooms: the chat list hears which room changed.
    await host_socket.send_json_to({"type": "message.send", "body": "again", "client_id": "c2"})
    assert (await next_event(me, "chat.activity"))["room_ids"] == [room.pk]
    await me.send_json_to({"type": "ping"})
    await next_event(me, "pong")
    await me.send_json_to({"type": "nope"})
    await next_event(me, "error")
    for socket in (me, resync, guest_socket, host_socket):
        await socket.disconnect()

    seen = set()
    for socket, frame in frames:
        spec = events.spec_for(frame.get("type"), socket=socket)
        assert spec is not None, f"undefined frame on {socket}: {frame}"
        check_event(frame, spec)
        seen.add((spec.type, socket))
    own_frames = {(spec.type, s) for spec in events.EVENTS if not spec.groups for s in spec.sockets}
    assert own_frames <= seen, own_frames - seen
    # Live messages too, which reach the sockets as the text their sender encoded.
    assert (events.MESSAGE_CREATED, events.ROOM_SOCKET) in seen
    assert {event["type"] for _group, event in sent} >= SOCKET_FLOW_EVENTS


# --- builders ---------------------------------------------------------------------------------


def test_each_builder_makes_its_shape():
    for spec in events.EVENTS:
        hints = typing.get_type_hints(spec.builder)
        assert hints["return"] is spec.shape, spec.type
    assert events.room_pong(last_seq=3, ref="r") == {"type": "pong", "last_seq": 3, "ref": "r"}
    assert "ref" not in events.room_pong(last_seq=3)
    with pytest.raises(ValueError, match="unknown removal reason"):
        events.member_removed(room_id=1, membership_id=2, reason="vanished")
    with pytest.raises(ValueError, match="not a group event"):
        events.send_on_commit("room.1", {"type": "member.left", "room_id": 1})
    with pytest.raises(ValueError, match="not a group event"):
        events.send_on_commit("room.1", events.room_pong(last_seq=1))


def test_group_event_types_are_unique_and_every_type_has_one_shape_per_socket():
    pairs = [(spec.type, socket) for spec in events.EVENTS for socket in spec.sockets or ("",)]
    assert len(pairs) == len(set(pairs))
    group_types = [spec.type for spec in events.EVENTS if spec.groups]
    assert len(group_types) == len(set(group_types))


# --- receivers and senders --------------------------------------------------------------------


def _source(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def _constant_for(event_type: str) -> str:
    (name,) = [
        name
        for name, value in vars(events).items()
        if name.isupper() and value == event_type and not name.endswith(("_GROUP", "_SOCKET"))
    ]
    return name


def _js_handled_types(path: str) -> set[str]:
    """Event types a script handles: keys of its ``handlers`` map, and ``type ===`` tests."""
    text = _source(path)
    handled = set(re.findall(r'type\s*[!=]==\s*"([a-z_.]+)"', text))
    handlers = re.search(r"var handlers = \{(.*?)\n  \};", text, re.S)
    if handlers:
        handled |= set(re.findall(r'^\s*"([a-z_.]+)":', handlers.group(1), re.M))
    return handled


def test_every_event_has_a_receiver_that_handles_it():
    for spec in events.EVENTS:
        assert spec.receivers, f"{spec.type}: nobody receives it"
        for receiver in spec.receivers:
            if receiver.endswith(".js"):
                assert spec.type in _js_handled_types(RECEIVER_FILES[receiver]), (
                    f"{receiver} has no handler for {spec.type}"
                )
                assert SCRIPT_SOCKETS[receiver] in spec.sockets, (receiver, spec.type)
            else:
                constant = f"events.{_constant_for(spec.type)}"
                assert constant in _source(RECEIVER_FILES[receiver]), (
                    f"{receiver} does not handle {spec.type} ({constant})"
                )


def test_every_handler_is_for_an_event_the_code_sends():
    for script, socket in SCRIPT_SOCKETS.items():
        for event_type in _js_handled_types(RECEIVER_FILES[script]):
            spec = events.spec_for(event_type, socket=socket)
            assert spec is not None, f"{script} handles {event_type}, which nothing sends"
    for consumer in ("RoomConsumer", "MeConsumer"):
        text = _source(RECEIVER_FILES[consumer])
        # Event types compared as literals would bypass the definitions.
        assert not re.search(r'kind\s*(==|in)\s*[\(\{\[]?\s*"', text), consumer
        for name in re.findall(r"events\.([A-Z_]+)\b", text):
            if name.startswith("CLOSE_"):
                continue
            assert any(spec.type == getattr(events, name) for spec in events.EVENTS), name


def test_every_event_is_built_by_the_code_and_no_event_is_a_literal():
    code = {
        path: path.read_text(encoding="utf-8")
        for app in ("community", "profiles", "commerce")
        for path in (ROOT / app).rglob("*.py")
        if path.name != "events.py"
    }
    everything = "\n".join(code.values())
    for spec in events.EVENTS:
        assert f"events.{spec.builder.__name__}(" in everything, f"nothing sends {spec.type}"
    literal = re.compile(r'\{\s*"type":\s*"([a-z_]+\.[a-z_.]+|typing|presence|ready|pong|error)"')
    for path, text in code.items():
        assert not literal.findall(text), f"{path}: build events with community.events"
        assert "broadcast_on_commit(" not in text and "group_send(" not in text, path


# --- the docs ---------------------------------------------------------------------------------


def _fields(spec: events.Spec) -> str:
    shape = spec.shape
    names = [name for name in shape.__annotations__ if name != "type"]
    return ", ".join(f"{n}?" if n in shape.__optional_keys__ else n for n in names) or "—"


def reference_table() -> str:
    """The event reference of docs/realtime.md, as the definitions make it."""
    rows = ["| type | sent to | reaches | fields |", "|---|---|---|---|"]
    for spec in events.EVENTS:
        groups = ", ".join(f"`{group}`" for group in spec.groups) or "the socket only"
        sockets = ", ".join(f"`{socket}`" for socket in spec.sockets) or "server only"
        rows.append(f"| `{spec.type}` | {groups} | {sockets} | {_fields(spec)} |")
    return "\n".join(rows)


def test_docs_list_exactly_the_defined_events():
    docs = _source("docs/realtime.md")
    assert reference_table() in docs, "docs/realtime.md event reference:\n" + reference_table()
    documented = set(re.findall(r'\{"type": "([a-z_.]+)"', docs))
    client_frames = {"message.send", "message.edit", "message.delete", "typing", "read", "ping"}
    defined = {spec.type for spec in events.EVENTS}
    assert documented <= defined | client_frames, documented - defined - client_frames
    assert {spec.type for spec in events.EVENTS if spec.sockets} <= documented


def test_docs_and_the_web_app_know_every_close_code():
    docs = _source("docs/realtime.md")
    documented = {int(code) for code in re.findall(r"^\| (\d{4}) \|", docs, re.M)}
    assert documented == set(events.CLOSE_CODES)
    chat = _source("static/js/chat.js")
    for code, sockets in events.CLOSE_CODES.items():
        if events.ROOM_SOCKET in sockets:
            assert re.search(rf"\b{code}\b", chat), f"chat.js does not handle close code {code}"
    badge = _source("static/js/badge.js")
    assert "4401" in badge  # the only /ws/me/ code that stops reconnecting
