"""A member who joined a room with an open profile is shown there only by the room
nickname and avatar: their username, handle, display name, email, bio, status message
and user id must never reach another person through any room page, room API response
or socket event.

The check is table-driven and also sweeps every URL pattern it can fill in, so it
grows as other areas add pages, endpoints and socket routes:

- ``EXPLICIT_PAGES``: named URLs with a *positive control* (the nickname must appear,
  proving the page really shows the member);
- the sweep: every GET-able route whose parameters are all in ``FILLABLE`` (room,
  membership and message ids), plus parameter-free routes, minus ``SWEEP_EXCLUDED``;
- sockets: every WebSocket route taking a ``room_id``, watched while the victim acts.
"""

import json
import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.exceptions import NoReverseMatch
from django.urls.resolvers import RoutePattern
from rest_framework.test import APIClient

from community.chat.services import send_message
from community.rooms.models import Membership, Room
from profiles.services import follow_user, update_profile

pytestmark = pytest.mark.django_db

VICTIM_USERNAME = "qv7username"
VICTIM_HANDLE = "qv7handle"
VICTIM_DISPLAY_NAME = "Qv7 Display Person"
VICTIM_EMAIL = "qv7mailbox@example.com"
VICTIM_BIO = "qv7 secret biography"
VICTIM_STATUS = "qv7 private status"
NEEDLES = [
    VICTIM_USERNAME,
    VICTIM_HANDLE,
    VICTIM_DISPLAY_NAME,
    "qv7mailbox",
    VICTIM_BIO,
    VICTIM_STATUS,
]
MASKED_NICKNAME = "Masked Otter"
OWNER_NICKNAME = "Masked Heron"
VICTIM_MESSAGE = "the otter says hello"
# JSON keys whose integer value must never be the victim's user id.
USER_ID_KEYS = {"user", "user_id", "owner", "owner_id", "author_user_id", "created_by"}


@dataclass
class Scene:
    victim: object
    observer: object
    stranger: object
    host: object
    joined_room: Room
    request_room: Room
    owned_room: Room
    membership: Membership
    owned_membership: Membership
    message_id: int | None


@pytest.fixture
def scene(make_user, make_room, make_member):
    victim = make_user(VICTIM_USERNAME, email=VICTIM_EMAIL)
    update_profile(
        user=victim,
        handle=VICTIM_HANDLE,
        display_name=VICTIM_DISPLAY_NAME,
        bio=VICTIM_BIO,
        status_message=VICTIM_STATUS,
    )
    observer = make_user("observer")
    stranger = make_user("stranger")
    # The observer is even the victim's friend: the open profile must still hold.
    follow_user(follower=victim, followee=observer)
    follow_user(follower=observer, followee=victim)
    host = make_user("host")
    joined_room = make_room(owner=host, title="Otter pond", is_web_public=True)
    membership = make_member(joined_room, victim, nickname=MASKED_NICKNAME)
    make_member(joined_room, observer, nickname="Watcher")
    owned_room = make_room(owner=victim, title="Heron lake", nickname=OWNER_NICKNAME)
    make_member(owned_room, observer, nickname="Watcher")
    owned_membership = Membership.objects.get(room=owned_room, user=victim)
    assert membership.is_open_profile and owned_membership.is_open_profile
    message = send_message(membership=membership, body=VICTIM_MESSAGE)
    send_message(membership=owned_membership, body="heron here")
    # A pending request to join a host-approved room, seen by its host.
    request_room = make_room(owner=host, title="Gated pond", join_policy="approval")
    make_member(request_room, observer, nickname="Watcher")
    make_member(request_room, victim, nickname=MASKED_NICKNAME)
    return Scene(
        victim,
        observer,
        stranger,
        host,
        joined_room,
        request_room,
        owned_room,
        membership,
        owned_membership,
        getattr(message, "pk", None),
    )


def viewers(scene: Scene) -> dict[str, APIClient]:
    clients = {}
    for name in ("observer", "stranger", "host"):
        clients[name] = APIClient()
        clients[name].force_login(getattr(scene, name))
    clients["anonymous"] = APIClient()
    return clients


def leaks_in(text: str, victim_id: int) -> list[str]:
    folded = text.casefold()
    found = [needle for needle in NEEDLES if needle.casefold() in folded]
    try:
        data = json.loads(text)
    except ValueError:
        return found

    def walk(value, path="$"):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in USER_ID_KEYS and item == victim_id:
                    found.append(f"user id at {path}.{key}")
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(data)
    return found


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


# --- Explicit pages, with a positive control ----------------------------------------------
# (url name, kwargs from the scene, viewer, must show the nickname). Entries whose URL
# name does not exist yet are skipped, so this table can list areas before they land.
EXPLICIT_PAGES = [
    ("room-detail", lambda s: {"room_id": s.joined_room.pk}, "observer", False),
    ("room-detail", lambda s: {"room_id": s.owned_room.pk}, "observer", False),
    ("room-detail", lambda s: {"room_id": s.joined_room.pk}, "anonymous", False),
    ("room-members", lambda s: {"room_id": s.joined_room.pk}, "observer", True),
    ("room-members", lambda s: {"room_id": s.owned_room.pk}, "observer", False),
    ("api:room-detail", lambda s: {"room_id": s.joined_room.pk}, "observer", False),
    ("api:room-detail", lambda s: {"room_id": s.owned_room.pk}, "observer", False),
    ("api:room-members", lambda s: {"room_id": s.joined_room.pk}, "observer", True),
    ("api:room-members", lambda s: {"room_id": s.owned_room.pk}, "observer", True),
    ("api:room-messages", lambda s: {"room_id": s.joined_room.pk}, "observer", True),
    ("api:room-messages", lambda s: {"room_id": s.owned_room.pk}, "observer", False),
    ("room-members", lambda s: {"room_id": s.joined_room.pk}, "host", True),
    ("api:room-members", lambda s: {"room_id": s.joined_room.pk}, "host", True),
    ("room-requests", lambda s: {"room_id": s.request_room.pk}, "host", True),
    ("api:room-join-requests", lambda s: {"room_id": s.request_room.pk}, "host", True),
    # The host tools' confirmations and the kick notice name the member by nickname.
    *[
        (
            "room-member-confirm",
            lambda s, action=action: {
                "room_id": s.joined_room.pk,
                "member_id": s.membership.pk,
                "action": action,
            },
            "host",
            True,
        )
        for action in ("kick", "ban", "transfer")
    ],
    (
        "room-member-kicked",
        lambda s: {"room_id": s.joined_room.pk, "member_id": s.membership.pk},
        "host",
        True,
    ),
    ("home", lambda s: {}, "observer", False),
    ("home", lambda s: {}, "anonymous", False),
    ("friends", lambda s: {}, "observer", False),
    ("api:feed-friends", lambda s: {}, "observer", False),
]


@pytest.mark.parametrize(
    ("name", "kwargs_for", "viewer", "shows_nickname"),
    EXPLICIT_PAGES,
    ids=[f"{name}-{viewer}-{i}" for i, (name, _k, viewer, _s) in enumerate(EXPLICIT_PAGES)],
)
def test_explicit_pages_show_only_the_room_nickname(
    scene, name, kwargs_for, viewer, shows_nickname
):
    from django.urls import reverse

    try:
        url = reverse(name, kwargs=kwargs_for(scene))
    except NoReverseMatch:
        pytest.skip(f"{name} does not exist in this build")
    response = viewers(scene)[viewer].get(url)
    assert response.status_code < 500, url
    text = body_of(response)
    assert leaks_in(text, scene.victim.pk) == [], url
    if shows_nickname:
        assert response.status_code == 200, url
        assert MASKED_NICKNAME in text or OWNER_NICKNAME in text, url


# --- The sweep: every route we can fill in ----------------------------------------------------

FILLABLE = {"room_id", "membership_id", "message_id"}
# Routes about the signed-in viewer themselves or not pages at all.
SWEEP_EXCLUDED = re.compile(
    r"^(admin/|api/schema|api/docs|jsi18n|i18n/|accounts/logout|static/|media/"
    r"|settings/account/export|api/v1/me/export"
    # Follows are between main profiles, so a new-follower notification names the
    # follower by handle (here: the victim follows the observer). Room-context
    # notifications are checked by tests/community/notifications/test_notification_privacy.py.
    r"|notifications/|api/v1/notifications/)"
)
_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # regex routes (none of ours) cannot be filled in generically
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def sweep_routes() -> list[str]:
    routes = []
    for route in _routes():
        params = {m.group("name") for m in _PARAM.finditer(route)}
        if params <= FILLABLE and not SWEEP_EXCLUDED.match(route):
            routes.append(route)
    return sorted(set(routes))


def fill(route: str, values: dict[str, int]) -> str:
    return "/" + _PARAM.sub(lambda m: str(values[m.group("name")]), route)


@pytest.mark.parametrize("route", sweep_routes())
def test_sweep_every_fillable_route(scene, route):
    clients = viewers(scene)
    fillings = [
        {
            "room_id": scene.joined_room.pk,
            "membership_id": scene.membership.pk,
            "message_id": scene.message_id or 0,
        },
        {
            "room_id": scene.owned_room.pk,
            "membership_id": scene.owned_membership.pk,
            "message_id": scene.message_id or 0,
        },
        {
            "room_id": scene.request_room.pk,
            "membership_id": scene.membership.pk,
            "message_id": scene.message_id or 0,
        },
    ]
    for values in fillings:
        url = fill(route, values)
        for viewer, client in clients.items():
            response = client.get(url)
            assert response.status_code < 500, (viewer, url)
            assert leaks_in(body_of(response), scene.victim.pk) == [], (viewer, url)


def test_the_sweep_covers_the_pages_it_should():
    routes = sweep_routes()
    assert "" in routes  # the home page
    assert "friends/" in routes
    assert "api/v1/feed/friends/" in routes
    assert not any(route.startswith("admin/") for route in routes)


def test_the_leak_detector_detects():
    """The checks above are only worth something if this one fails on a real leak."""
    assert leaks_in(f"<p>{VICTIM_DISPLAY_NAME.upper()}</p>", 7) == [VICTIM_DISPLAY_NAME]
    assert leaks_in(json.dumps({"a": [{"user_id": 7}]}), 7) == ["user id at $.a[0].user_id"]
    assert leaks_in(json.dumps({"a": [{"user_id": 8}]}), 7) == []


# --- Blocking the victim's handle must not change anything the observer sees in a room -------
# Otherwise anyone can test "is handle X the nickname N?" by blocking X and looking for a
# folded message, a smaller reaction count or a "someone you blocked" preview. The
# victim is in every room of the scene with an open profile.

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"|"csrfToken": "[^"]+"')


def _room_views(scene, client) -> dict[str, tuple[int, str]]:
    seen = {}
    for route in sweep_routes():
        if not {m.group("name") for m in _PARAM.finditer(route)} & FILLABLE:
            continue
        for room, membership in (
            (scene.joined_room, scene.membership),
            (scene.owned_room, scene.owned_membership),
            (scene.request_room, scene.membership),
        ):
            values = {
                "room_id": room.pk,
                "membership_id": membership.pk,
                "message_id": scene.message_id or 0,
            }
            url = fill(route, values)
            response = client.get(url)
            seen[url] = (response.status_code, _CSRF.sub("", body_of(response)))
    return seen


def test_blocking_the_victims_handle_changes_nothing_the_observer_sees_in_rooms(scene):
    from community.reactions.models import ReactionTarget
    from community.reactions.services import check_add_reaction

    check_add_reaction(
        user=scene.victim,
        target_type=ReactionTarget.MESSAGE,
        target_id=scene.message_id,
        emoji="👍",
    )
    observer = viewers(scene)["observer"]
    before = _room_views(scene, observer)
    assert any(VICTIM_MESSAGE in body for _status, body in before.values()), "positive control"
    response = observer.post(f"/api/v1/users/{VICTIM_HANDLE}/block/")
    assert response.status_code in (200, 201), response.content
    after = _room_views(scene, observer)
    changed = sorted(url for url in before if before[url] != after[url])
    assert changed == []


def test_similar_rooms_do_not_list_the_victims_other_rooms(scene):
    """The observer shares two rooms with the victim and nothing else links them: a
    "similar rooms" list built from shared members would name the victim's own room."""
    from django.urls import reverse

    for viewer in ("observer", "stranger"):
        client = viewers(scene)[viewer]
        for url in (
            reverse("api:room-similar", kwargs={"room_id": scene.joined_room.pk}),
            # The room's page, where similar rooms are listed (members open it from the
            # chat; the chat itself lists the observer's own rooms, Heron lake included).
            reverse("room-info", kwargs={"room_id": scene.joined_room.pk}),
        ):
            assert "Heron lake" not in body_of(client.get(url)), (viewer, url)


# --- Sockets: every room route, watched while the victim acts ---------------------------------

VICTIM_SOCKET_MESSAGE = "otter over the socket"


def socket_routes() -> list[str]:
    from config.routing import websocket_urlpatterns

    routes = []
    for entry in websocket_urlpatterns:
        route = str(entry.pattern)
        if {m.group("name") for m in _PARAM.finditer(route)} == {"room_id"}:
            routes.append(route)
    return routes


@pytest.fixture
def fresh_layer():
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def _connect(route: str, user, room_id: int):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from config.realtime import issue_socket_ticket

    ticket = await database_sync_to_async(issue_socket_ticket)(user_id=user.pk)
    communicator = WebsocketCommunicator(
        application,
        fill(route, {"room_id": room_id}) + f"?ticket={ticket}",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")],
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def _frames(communicator, wait: float = 0.6) -> list[str]:
    """Every text frame until the socket is quiet for ``wait`` seconds or closes."""
    frames = []
    while not await communicator.receive_nothing(timeout=wait):
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
        frames.append(output.get("text") or "")
    return frames


def _ids_of_created_messages(frames: list[str]) -> list[int]:
    ids = []
    for frame in frames:
        event = json.loads(frame)
        message = event.get("message") if isinstance(event, dict) else None
        if isinstance(message, dict) and isinstance(message.get("id"), int):
            ids.append(message["id"])
    return ids


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", socket_routes())
async def test_socket_events_show_only_the_room_nickname(scene, route, fresh_layer, make_user):
    from channels.db import database_sync_to_async

    from community.rooms.services import create_room, join_room

    observer_socket = await _connect(route, scene.observer, scene.joined_room.pk)
    victim_socket = await _connect(route, scene.victim, scene.joined_room.pk)
    seen = await _frames(observer_socket)

    await victim_socket.send_json_to(
        {"type": "message.send", "body": VICTIM_SOCKET_MESSAGE, "client_id": "privacy-1"}
    )
    await victim_socket.send_json_to({"type": "typing"})
    victim_frames = await _frames(victim_socket)
    for message_id in _ids_of_created_messages(victim_frames)[-1:]:
        await victim_socket.send_json_to(
            {"type": "message.edit", "id": message_id, "body": "otter, edited"}
        )
    await victim_socket.send_json_to({"type": "read", "seq": 1})
    await victim_socket.send_json_to({"type": "ping"})
    seen += await _frames(observer_socket)
    await victim_socket.disconnect()
    seen += await _frames(observer_socket)

    # The victim joins and leaves another room the observer is watching.
    third_room = await database_sync_to_async(create_room)(
        owner=scene.observer, title="Third pond", nickname="Watcher"
    )
    third_socket = await _connect(route, scene.observer, third_room.pk)
    seen_third = await _frames(third_socket)
    await database_sync_to_async(join_room)(
        room_id=third_room.pk, user=scene.victim, nickname=MASKED_NICKNAME
    )
    seen_third += await _frames(third_socket)
    await third_socket.disconnect()
    await observer_socket.disconnect()

    # The socket threads' connections: closed, so the test database can be dropped.
    from django.db import connections

    await database_sync_to_async(connections.close_all)()

    assert any(VICTIM_SOCKET_MESSAGE in frame for frame in seen), "positive control"
    for frame in seen + seen_third:
        assert leaks_in(frame, scene.victim.pk) == [], frame


def test_the_table_catches_a_member_who_shows_their_main_profile(scene, make_member):
    """A negative control through the real pages: with the open profile turned off the
    handle is shown, and the same check reports it."""
    from django.urls import reverse

    Membership.objects.filter(pk=scene.membership.pk).delete()
    make_member(scene.joined_room, scene.victim, nickname=MASKED_NICKNAME, is_open_profile=False)
    try:
        url = reverse("api:room-members", kwargs={"room_id": scene.joined_room.pk})
    except NoReverseMatch:
        pytest.skip("no member list in this build")
    text = body_of(viewers(scene)["observer"].get(url))
    assert VICTIM_HANDLE in leaks_in(text, scene.victim.pk)


# Searching for the victim's identity must not surface the rooms they own or joined.
SEARCHES = [("room-search", "q"), ("api:room-list", "q")]


@pytest.mark.parametrize(("name", "param"), SEARCHES)
def test_searching_for_the_main_profile_finds_none_of_their_rooms(scene, name, param):
    from django.urls import reverse

    try:
        url = reverse(name)
    except NoReverseMatch:
        pytest.skip(f"{name} does not exist in this build")
    client = viewers(scene)["observer"]
    assert "Heron lake" in body_of(client.get(url, {param: "Heron"})), "positive control"
    for needle in [*NEEDLES, VICTIM_USERNAME.upper()]:
        text = body_of(client.get(url, {param: needle}))
        assert "Heron lake" not in text, needle
        assert "Otter pond" not in text, needle


@pytest.mark.django_db(transaction=True)
async def test_blocking_the_victims_handle_names_no_membership_on_the_socket(scene, fresh_layer):
    from channels.db import database_sync_to_async

    from profiles.services import block_user

    socket = await _connect("ws/rooms/<int:room_id>/", scene.observer, scene.joined_room.pk)
    await _frames(socket)
    await database_sync_to_async(block_user)(blocker=scene.observer, blocked=scene.victim)
    frames = [json.loads(frame) for frame in await _frames(socket)]
    changed = [frame for frame in frames if frame.get("type") == "blocks.changed"]
    assert changed, "positive control: the socket hears about the block"
    assert scene.membership.pk not in changed[-1]["collapsed_membership_ids"]
    await socket.disconnect()
    from django.db import connections

    await database_sync_to_async(connections.close_all)()
