"""Every realtime event the server sends, defined once: its shape, its builder, where it
goes and who handles it. ``docs/realtime.md`` lists exactly these, and
``tests/community/test_events.py`` holds the code, the clients and the docs to them.

* A ``TypedDict`` per event is its shape; its builder (keyword-only, taking payloads
  and ids that the owning package already built) is the only way to make one, so this
  module imports no package of the app: it sits at the bottom of ``community``.
* Events sent to a channel-layer group go through :func:`send_on_commit` (or
  :func:`send_now`, for a send that already runs after its commit), which hands them to
  ``config.realtime``'s bounded after-commit broadcast.
* Frames a consumer writes straight to its own socket (``ready``, ``pong``, ``error``…)
  are built here too, so a client sees one vocabulary.

Groups: ``room.<room_id>`` (every socket in the room, and the members' ``/ws/me/``
sockets, which count unread messages), ``user.<user_id>`` (the user's ``/ws/me/``
sockets), ``blocks.<user_id>`` (the user's room sockets).
"""

import json
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from config import realtime

# --- close codes (docs/realtime.md, "Connecting") -------------------------------------------
# 4xxx: do not reconnect until the cause changes.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_MEMBER = 4403
CLOSE_ROOM_NOT_FOUND = 4404
CLOSE_BANNED = 4410
CLOSE_KICKED = 4411
CLOSE_LEFT = 4412
CLOSE_SUSPENDED = 4413
CLOSE_TRY_AGAIN_LATER = realtime.CLOSE_TRY_AGAIN_LATER  # 1013: reconnect with backoff
CLOSE_RESYNC = realtime.CLOSE_RESYNC  # 4000: reconnect at once and resync

RemovalReason = Literal["left", "kicked", "banned", "suspended"]
# The removed member's own sockets close with the code for the reason of ``member.removed``.
CLOSE_CODE_BY_REASON: dict[str, int] = {
    "banned": CLOSE_BANNED,
    "kicked": CLOSE_KICKED,
    "left": CLOSE_LEFT,
    "suspended": CLOSE_SUSPENDED,
}
# Every close code a socket may end with, and the sockets that send it.
CLOSE_CODES: dict[int, tuple[str, ...]] = {
    CLOSE_NOT_AUTHENTICATED: ("/ws/rooms/", "/ws/me/"),
    CLOSE_NOT_MEMBER: ("/ws/rooms/",),
    CLOSE_ROOM_NOT_FOUND: ("/ws/rooms/",),
    CLOSE_BANNED: ("/ws/rooms/",),
    CLOSE_KICKED: ("/ws/rooms/",),
    CLOSE_LEFT: ("/ws/rooms/",),
    CLOSE_SUSPENDED: ("/ws/rooms/",),
    CLOSE_TRY_AGAIN_LATER: ("/ws/rooms/", "/ws/me/"),
    CLOSE_RESYNC: ("/ws/rooms/", "/ws/me/"),
}

# --- event types ----------------------------------------------------------------------------
MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
REACTION_UPDATED = "reaction.updated"
TYPING = "typing"
PRESENCE = "presence"
MEMBER_JOINED = "member.joined"
MEMBER_UPDATED = "member.updated"
MEMBER_REMOVED = "member.removed"
ROOM_UPDATED = "room.updated"
POLL_UPDATED = "poll.updated"
MEETUP_UPDATED = "meetup.updated"
ROOM_ANNOUNCEMENT = "room.announcement"
ROOM_SUSPENDED = "room.suspended"
ROOM_ARCHIVED = "room.archived"
ROOMS_JOINED = "rooms.joined"
NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_UPDATED = "notification.updated"
NOTIFICATION_DELETED = "notification.deleted"
UNREAD_UPDATED = "unread.updated"
MODERATION_WARNING = "moderation.warning"
JOIN_REQUEST_CREATED = "join_request.created"
CHAT_ACTIVITY = "chat.activity"
SESSION_REVOKED = "session.revoked"
BLOCKS_RELOAD = "blocks.reload"
BLOCKS_CHANGED = "blocks.changed"
READ_UPDATED = "read.updated"
READY = "ready"
RESYNC_DONE = "resync.done"
READ_OK = "read.ok"
PONG = "pong"
ERROR = "error"

# Groups (``Spec.groups``) and sockets (``Spec.sockets``).
ROOM_GROUP = "room.<room_id>"
USER_GROUP = "user.<user_id>"
BLOCKS_GROUP = "blocks.<user_id>"
ROOM_SOCKET = "/ws/rooms/"
ME_SOCKET = "/ws/me/"


# --- shapes ---------------------------------------------------------------------------------


class MessageCreated(TypedDict):
    type: str
    message: dict[str, Any]  # the message payload (community.chat.selectors)


class MessageUpdated(TypedDict):
    type: str
    message: dict[str, Any]


class MessageDeleted(TypedDict):
    type: str
    room_id: int
    id: int
    seq: int
    deleted_at: str


class ReadUpdated(TypedDict):
    type: str
    room_id: int
    # The messages from_seq..to_seq (live, not system) have, each, the unread count of
    # the last step ``[seq, unread]`` at or before their seq (community.reads).
    from_seq: int
    to_seq: int
    unread: list[list[int]]


class ReactionUpdated(TypedDict):
    type: str
    target_type: str  # "message" or "room"
    target_id: int
    room_id: int
    emoji: str
    action: str  # "added" or "removed"
    membership_id: int | None
    reactions: list[dict[str, Any]]


class PollUpdated(TypedDict):
    type: str
    room_id: int
    message_id: int
    poll_id: int
    # [{"option_id", "votes"}] in the options' order: counts only, never who voted.
    tallies: list[dict[str, Any]]
    total_voters: int
    closed: bool


class MeetupUpdated(TypedDict):
    type: str
    room_id: int
    message_id: int
    meetup_id: int
    # The RSVP counts ({"going", "maybe", "not_going", "waitlisted"}), never who.
    counts: dict[str, int]
    full: bool


class Typing(TypedDict):
    type: str
    room_id: int
    membership_id: int
    nickname: str


class Presence(TypedDict):
    type: str
    room_id: int
    online: int


class MemberJoined(TypedDict):
    type: str
    room_id: int
    member: dict[str, Any]  # the member payload (community.rooms.selectors.member_payload)


class MemberUpdated(TypedDict):
    type: str
    room_id: int
    member: dict[str, Any]


class MemberRemoved(TypedDict):
    type: str
    room_id: int
    membership_id: int
    reason: str  # RemovalReason


class RoomUpdated(TypedDict):
    type: str
    room_id: int
    slow_mode_seconds: int


class RoomAnnouncement(TypedDict):
    type: str
    room_id: int
    # {"body", "pinned_at", "pinned_by", "message"} (rooms.selectors.announcement_payload),
    # or None when unpinned
    announcement: dict[str, Any] | None


class RoomSuspended(TypedDict):
    type: str
    room_id: int
    is_suspended: bool


class RoomArchived(TypedDict):
    type: str
    room_id: int


class RoomsJoined(TypedDict):
    type: str
    room_id: int
    membership_id: int


class NotificationCreated(TypedDict):
    type: str
    notification: dict[str, Any]  # community.notifications.selectors.notification_payload


class NotificationUpdated(TypedDict):
    type: str
    notification: dict[str, Any]


class NotificationDeleted(TypedDict):
    type: str
    ids: list[int]


class UnreadUpdated(TypedDict):
    type: str
    messages: int
    mentions: int
    notifications: int


class ModerationWarning(TypedDict):
    type: str
    room_id: int | None
    message: str


class JoinRequestCreated(TypedDict):
    type: str
    room_id: int
    request_id: int
    nickname: str


class ChatActivity(TypedDict):
    type: str
    room_ids: list[int]


class SessionRevoked(TypedDict):
    type: str


class BlocksReload(TypedDict):
    type: str


class BlocksChanged(TypedDict):
    type: str
    room_id: int
    collapsed_membership_ids: list[int]


class RoomReady(TypedDict):
    type: str
    protocol: int
    room_id: int
    membership_id: int
    nickname: str
    role: str
    last_seq: int
    last_read_seq: int
    slow_mode_seconds: int
    permissions: dict[str, bool]
    announcement: dict[str, Any] | None  # the room's notice, as in room.announcement


class MeReady(TypedDict):
    type: str
    protocol: int
    unread: dict[str, int]


class ResyncDone(TypedDict):
    type: str
    room_id: int
    last_seq: int


class ReadOk(TypedDict):
    type: str
    room_id: int
    seq: int


class RoomPong(TypedDict):
    type: str
    last_seq: int
    ref: NotRequired[str | int]


class MePong(TypedDict):
    type: str


class Error(TypedDict):
    type: str
    code: str
    message: str
    fields: NotRequired[dict[str, Any]]
    retry_after: NotRequired[int]
    ref: NotRequired[str | int]


# --- builders -------------------------------------------------------------------------------


def message_created(*, message: dict[str, Any]) -> MessageCreated:
    return {"type": MESSAGE_CREATED, "message": message}


def message_updated(*, message: dict[str, Any]) -> MessageUpdated:
    return {"type": MESSAGE_UPDATED, "message": message}


def message_deleted(*, room_id: int, message_id: int, seq: int, deleted_at: str) -> MessageDeleted:
    return {
        "type": MESSAGE_DELETED,
        "room_id": room_id,
        "id": message_id,
        "seq": seq,
        "deleted_at": deleted_at,
    }


def read_updated(
    *, room_id: int, from_seq: int, to_seq: int, unread: list[list[int]]
) -> ReadUpdated:
    return {
        "type": READ_UPDATED,
        "room_id": room_id,
        "from_seq": from_seq,
        "to_seq": to_seq,
        "unread": unread,
    }


def reaction_updated(
    *,
    target_type: str,
    target_id: int,
    room_id: int,
    emoji: str,
    action: str,
    membership_id: int | None,
    reactions: list[dict[str, Any]],
) -> ReactionUpdated:
    return {
        "type": REACTION_UPDATED,
        "target_type": target_type,
        "target_id": target_id,
        "room_id": room_id,
        "emoji": emoji,
        "action": action,
        # The reactor as the room knows them; clients compare it with their own
        # membership id to flip their "me" flag.
        "membership_id": membership_id,
        "reactions": reactions,
    }


def poll_updated(
    *,
    room_id: int,
    message_id: int,
    poll_id: int,
    tallies: list[dict[str, Any]],
    total_voters: int,
    closed: bool,
) -> PollUpdated:
    return {
        "type": POLL_UPDATED,
        "room_id": room_id,
        "message_id": message_id,
        "poll_id": poll_id,
        "tallies": tallies,
        "total_voters": total_voters,
        "closed": closed,
    }


def meetup_updated(
    *, room_id: int, message_id: int, meetup_id: int, counts: dict[str, int], full: bool
) -> MeetupUpdated:
    return {
        "type": MEETUP_UPDATED,
        "room_id": room_id,
        "message_id": message_id,
        "meetup_id": meetup_id,
        "counts": counts,
        "full": full,
    }


def typing(*, room_id: int, membership_id: int, nickname: str) -> Typing:
    return {
        "type": TYPING,
        "room_id": room_id,
        "membership_id": membership_id,
        "nickname": nickname,
    }


def presence(*, room_id: int, online: int) -> Presence:
    return {"type": PRESENCE, "room_id": room_id, "online": online}


def member_joined(*, room_id: int, member: dict[str, Any]) -> MemberJoined:
    return {"type": MEMBER_JOINED, "room_id": room_id, "member": member}


def member_updated(*, room_id: int, member: dict[str, Any]) -> MemberUpdated:
    return {"type": MEMBER_UPDATED, "room_id": room_id, "member": member}


def member_removed(*, room_id: int, membership_id: int, reason: RemovalReason) -> MemberRemoved:
    if reason not in CLOSE_CODE_BY_REASON:
        raise ValueError(f"unknown removal reason {reason!r}")
    return {
        "type": MEMBER_REMOVED,
        "room_id": room_id,
        "membership_id": membership_id,
        "reason": reason,
    }


def room_updated(*, room_id: int, slow_mode_seconds: int) -> RoomUpdated:
    return {"type": ROOM_UPDATED, "room_id": room_id, "slow_mode_seconds": slow_mode_seconds}


def room_announcement(*, room_id: int, announcement: dict[str, Any] | None) -> RoomAnnouncement:
    return {"type": ROOM_ANNOUNCEMENT, "room_id": room_id, "announcement": announcement}


def room_suspended(*, room_id: int, is_suspended: bool) -> RoomSuspended:
    return {"type": ROOM_SUSPENDED, "room_id": room_id, "is_suspended": is_suspended}


def room_archived(*, room_id: int) -> RoomArchived:
    return {"type": ROOM_ARCHIVED, "room_id": room_id}


def rooms_joined(*, room_id: int, membership_id: int) -> RoomsJoined:
    return {"type": ROOMS_JOINED, "room_id": room_id, "membership_id": membership_id}


def notification_created(*, notification: dict[str, Any]) -> NotificationCreated:
    return {"type": NOTIFICATION_CREATED, "notification": notification}


def notification_updated(*, notification: dict[str, Any]) -> NotificationUpdated:
    return {"type": NOTIFICATION_UPDATED, "notification": notification}


def notification_deleted(*, ids: list[int]) -> NotificationDeleted:
    return {"type": NOTIFICATION_DELETED, "ids": sorted(ids)}


def unread_updated(*, messages: int, mentions: int, notifications: int) -> UnreadUpdated:
    return {
        "type": UNREAD_UPDATED,
        "messages": messages,
        "mentions": mentions,
        "notifications": notifications,
    }


def moderation_warning(*, room_id: int | None, message: str) -> ModerationWarning:
    return {"type": MODERATION_WARNING, "room_id": room_id, "message": message}


def join_request_created(*, room_id: int, request_id: int, nickname: str) -> JoinRequestCreated:
    return {
        "type": JOIN_REQUEST_CREATED,
        "room_id": room_id,
        "request_id": request_id,
        "nickname": nickname,
    }


def chat_activity(*, room_ids: list[int]) -> ChatActivity:
    return {"type": CHAT_ACTIVITY, "room_ids": sorted(room_ids)}


def session_revoked() -> SessionRevoked:
    return {"type": SESSION_REVOKED}


def blocks_reload() -> BlocksReload:
    return {"type": BLOCKS_RELOAD}


def blocks_changed(*, room_id: int, collapsed_membership_ids: list[int]) -> BlocksChanged:
    return {
        "type": BLOCKS_CHANGED,
        "room_id": room_id,
        "collapsed_membership_ids": sorted(collapsed_membership_ids),
    }


def room_ready(
    *,
    protocol: int,
    room_id: int,
    membership_id: int,
    nickname: str,
    role: str,
    last_seq: int,
    last_read_seq: int,
    slow_mode_seconds: int,
    permissions: dict[str, bool],
    announcement: dict[str, Any] | None,
) -> RoomReady:
    return {
        "type": READY,
        "protocol": protocol,
        "room_id": room_id,
        "membership_id": membership_id,
        "nickname": nickname,
        "role": role,
        "last_seq": last_seq,
        "last_read_seq": last_read_seq,
        "slow_mode_seconds": slow_mode_seconds,
        "permissions": permissions,
        "announcement": announcement,
    }


def me_ready(*, protocol: int, unread: dict[str, int]) -> MeReady:
    return {"type": READY, "protocol": protocol, "unread": unread}


def resync_done(*, room_id: int, last_seq: int) -> ResyncDone:
    return {"type": RESYNC_DONE, "room_id": room_id, "last_seq": last_seq}


def read_ok(*, room_id: int, seq: int) -> ReadOk:
    return {"type": READ_OK, "room_id": room_id, "seq": seq}


def room_pong(*, last_seq: int, ref: str | int | None = None) -> RoomPong:
    pong: RoomPong = {"type": PONG, "last_seq": last_seq}
    if ref is not None:
        pong["ref"] = ref
    return pong


def me_pong() -> MePong:
    return {"type": PONG}


def error(
    *,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    retry_after: int | None = None,
    ref: str | int | None = None,
) -> Error:
    event: Error = {"type": ERROR, "code": code, "message": message}
    if fields:
        event["fields"] = fields
    if retry_after is not None:
        event["retry_after"] = retry_after
    if ref is not None:
        event["ref"] = ref
    return event


# --- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One event: its type and shape, the groups it is sent to (none: a consumer writes
    it to its own socket only), the sockets whose clients get it (none: the consumers
    keep it), and the code that handles it (consumer classes, web-app scripts)."""

    type: str
    shape: type
    builder: Any
    groups: tuple[str, ...]
    sockets: tuple[str, ...]
    receivers: tuple[str, ...]
    about: str


EVENTS: tuple[Spec, ...] = (
    # The room's stream (room.<id>): room sockets forward them to clients.
    Spec(MESSAGE_CREATED, MessageCreated, message_created, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer", "MeConsumer", "chat.js"), "a new message (also catch-up and retries)"),
    Spec(MESSAGE_UPDATED, MessageUpdated, message_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer", "chat.js"), "an edit, or the message's media changed"),
    Spec(MESSAGE_DELETED, MessageDeleted, message_deleted, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer", "chat.js"), "deleted by its author, or hidden by a host or moderator"),
    Spec(READ_UPDATED, ReadUpdated, read_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat-reads.js",), "read markers moved: the latest messages' unread counts"),
    Spec(REACTION_UPDATED, ReactionUpdated, reaction_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat.js", "reactions.js"), "a reaction added or removed: the target's counts"),
    Spec(POLL_UPDATED, PollUpdated, poll_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat-polls.js",), "a poll's tallies changed, or it closed"),
    Spec(MEETUP_UPDATED, MeetupUpdated, meetup_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat-meetups.js",), "a meetup's RSVP counts changed"),
    Spec(TYPING, Typing, typing, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer", "chat.js"), "a member is typing (not sent back to them)"),
    Spec(PRESENCE, Presence, presence, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat.js",), "distinct members online"),
    Spec(MEMBER_JOINED, MemberJoined, member_joined, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer",), "someone joined: the member payload"),
    Spec(MEMBER_UPDATED, MemberUpdated, member_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer", "chat.js"), "role, nickname, profile or mute changed"),
    Spec(MEMBER_REMOVED, MemberRemoved, member_removed, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("RoomConsumer", "chat.js"),
         "left, kicked, banned or suspended: the member's own sockets then close"),
    Spec(ROOM_UPDATED, RoomUpdated, room_updated, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat.js",), "the room's settings changed (refetch the room for the rest)"),
    Spec(ROOM_ANNOUNCEMENT, RoomAnnouncement, room_announcement, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat.js",), "the pinned announcement changed (null: unpinned)"),
    Spec(ROOM_SUSPENDED, RoomSuspended, room_suspended, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat.js",), "suspended or restored by a moderator"),
    Spec(ROOM_ARCHIVED, RoomArchived, room_archived, (ROOM_GROUP,), (ROOM_SOCKET,),
         ("chat.js",), "the owner archived the room: read-only"),
    # The user's own group (user.<id>): /ws/me/ forwards them to clients.
    Spec(ROOMS_JOINED, RoomsJoined, rooms_joined, (USER_GROUP,), (),
         ("MeConsumer",), "the user joined a room: /ws/me/ follows its stream"),
    Spec(NOTIFICATION_CREATED, NotificationCreated, notification_created, (USER_GROUP,),
         (ME_SOCKET,), ("MeConsumer", "badge.js"), "a new notification"),
    Spec(NOTIFICATION_UPDATED, NotificationUpdated, notification_updated, (USER_GROUP,),
         (ME_SOCKET,), ("MeConsumer", "badge.js"), "a grouped notification grew"),
    Spec(NOTIFICATION_DELETED, NotificationDeleted, notification_deleted, (USER_GROUP,),
         (ME_SOCKET,), ("MeConsumer", "badge.js"), "notifications withdrawn"),
    Spec(UNREAD_UPDATED, UnreadUpdated, unread_updated, (USER_GROUP,), (ME_SOCKET,),
         ("MeConsumer", "badge.js"), "the unread totals changed"),
    Spec(MODERATION_WARNING, ModerationWarning, moderation_warning, (USER_GROUP,), (ME_SOCKET,),
         ("MeConsumer", "badge.js"), "a moderator warned the user"),
    Spec(JOIN_REQUEST_CREATED, JoinRequestCreated, join_request_created, (USER_GROUP,),
         (ME_SOCKET,), ("MeConsumer", "badge.js"), "to each host: someone asks to join"),
    Spec(SESSION_REVOKED, SessionRevoked, session_revoked, (USER_GROUP, BLOCKS_GROUP), (),
         ("RoomConsumer", "MeConsumer"), "logged out everywhere: every socket closes with 4401"),
    # The user's blocks group (blocks.<id>), heard by their room sockets.
    Spec(BLOCKS_RELOAD, BlocksReload, blocks_reload, (BLOCKS_GROUP,), (),
         ("RoomConsumer",), "the user's blocks changed: each room socket sends blocks.changed"),
    # Frames a consumer writes to its own socket.
    Spec(BLOCKS_CHANGED, BlocksChanged, blocks_changed, (), (ROOM_SOCKET,),
         ("chat.js",), "the memberships whose messages are now collapsed for the reader"),
    Spec(READY, RoomReady, room_ready, (), (ROOM_SOCKET,),
         ("chat.js",), "first event on every accepted room socket"),
    Spec(RESYNC_DONE, ResyncDone, resync_done, (), (ROOM_SOCKET,),
         ("chat.js",), "catch-up finished (only with ?after=)"),
    Spec(READ_OK, ReadOk, read_ok, (), (ROOM_SOCKET,), ("chat.js",), "answer to read"),
    Spec(PONG, RoomPong, room_pong, (), (ROOM_SOCKET,),
         ("chat.js",), "answer to ping, with the room's committed last seq"),
    Spec(ERROR, Error, error, (), (ROOM_SOCKET, ME_SOCKET),
         ("chat.js",), "a frame was refused; the socket stays open"),
    Spec(READY, MeReady, me_ready, (), (ME_SOCKET,), ("badge.js",), "first event on /ws/me/"),
    Spec(CHAT_ACTIVITY, ChatActivity, chat_activity, (), (ME_SOCKET,), ("badge.js",),
         "messages came, changed or went in these joined rooms: refetch their chat-list rows"),
    Spec(PONG, MePong, me_pong, (), (ME_SOCKET,), ("badge.js",), "answer to ping"),
)  # fmt: skip

# Events sent to groups, by type (each has one shape).
GROUP_EVENTS: dict[str, Spec] = {spec.type: spec for spec in EVENTS if spec.groups}


def spec_for(event_type: str, *, socket: str | None = None) -> Spec | None:
    """The definition of ``event_type`` (on ``socket``, when given: ``ready`` and
    ``pong`` differ between the room socket and ``/ws/me/``)."""
    for spec in EVENTS:
        if spec.type == event_type and (socket is None or socket in spec.sockets):
            return spec
    return None


# --- sending --------------------------------------------------------------------------------


def _check_sendable(events: tuple[dict[str, Any], ...]) -> None:
    for event in events:
        if event.get("type") not in GROUP_EVENTS:
            raise ValueError(f"not a group event: {event.get('type')!r} (see community/events.py)")


# --- what the channel layer carries -----------------------------------------------------------
# A message event goes to every socket of its room: it travels as its client frame's JSON
# text, encoded once by the sender, and each socket writes that text as is (no
# ``json.dumps`` per socket, and one string is cheaper for the layer to decode than the
# payload's dicts). Beside it, what the consumers decide by without decoding it: the
# event's type, the message's seq (delivery in seq order) and room, and the authors
# (memberships) of the message and of the one it replies to, whose blocks fold it for a
# viewer (``collapsed``). Only a socket whose viewer blocked one of them decodes the text
# and flags its copy. Every other event travels as itself.
ENCODED_EVENTS = frozenset({MESSAGE_CREATED, MESSAGE_UPDATED})


class EncodedMessageEvent(TypedDict):
    """A message event on the channel layer (``layer_message``)."""

    type: str  # config.realtime.CONSUMER_HANDLER_TYPE
    text: str  # json.dumps(event): the frame every socket sends as is
    kind: str  # the event's type
    seq: int | None
    room_id: int | None
    author: int | None  # membership ids
    reply_author: int | None


def _author_id(payload: dict[str, Any] | None) -> int | None:
    return ((payload or {}).get("author") or {}).get("membership_id")


def layer_message(event: dict[str, Any]) -> EncodedMessageEvent | dict[str, Any]:
    """What the channel layer carries for ``event`` (``config.realtime`` sends it)."""
    if event.get("type") in ENCODED_EVENTS:
        message = event.get("message") or {}
        reply = message.get("reply_to")
        # A shared broadcast payload flags nothing collapsed (each socket flags its own
        # copy): the text is then what a viewer who blocks neither author gets.
        if message.get("collapsed") is False and (reply is None or reply.get("collapsed") is False):
            encoded: EncodedMessageEvent = {
                "type": realtime.CONSUMER_HANDLER_TYPE,
                "text": json.dumps(event),
                "kind": event["type"],
                "seq": message.get("seq"),
                "room_id": message.get("room_id"),
                "author": _author_id(message),
                "reply_author": _author_id(reply),
            }
            return encoded
    return {"type": realtime.CONSUMER_HANDLER_TYPE, "event": event}


realtime.set_layer_message(layer_message)


def event_from_layer(message: dict[str, Any]) -> dict[str, Any]:
    """The client event a channel-layer message carries (the inverse of
    ``layer_message``), for code that reads the layer itself."""
    if "text" in message:
        return json.loads(message["text"])
    return message["event"]


def send_on_commit(group: str, *events: dict[str, Any]) -> None:
    """Send ``events`` (built above) to ``group`` once the current transaction commits,
    in order, in one bounded hand-off to the channel layer (``config.realtime``)."""
    _check_sendable(events)
    realtime.broadcast_on_commit(group, *events)


def send_now(group: str, *events: dict[str, Any]) -> bool:
    """Send at once, for code that already runs after its commit; False (logged) when
    the channel layer is unreachable."""
    _check_sendable(events)
    return realtime.send_now(group, *events)
