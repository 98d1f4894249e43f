"""``/ws/rooms/<room_id>/``: the room's live chat socket (protocol in docs/realtime.md).

The consumer only translates frames to service calls and events to frames; every
write goes through ``community.chat.services``, every read through the selectors.
"""

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from community import access, events
from community.chat import presence
from community.chat.selectors import (
    membership_for_user,
    message_payload_by_id,
    message_payloads,
    room_history,
)
from community.chat.services import (
    PendingSend,
    check_send_messages,
    delete_message,
    edit_message,
    mark_read,
    notify_typing,
)
from community.rooms.models import Membership, Room
from community.rooms.selectors import room_announcement
from config.db_lanes import in_lane, in_lane_batch
from config.errors import DomainError, PermissionDeniedError, RateLimitedError
from config.i18n import in_language
from config.realtime import ClosedSocketGuard
from profiles.selectors import (
    blocked_member_ids_in_room,
    blocks_group_name,
    viewer_blocks_anyone,
    with_collapsed_flags,
)

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_FRAME_CHARS = 20_000
CATCH_UP_PAGE = 100
# channels-redis forgets a group member after ``group_expiry`` (a day); a long-lived
# socket re-joins well before that, on a ping.
GROUP_REFRESH_SECONDS = 3600

# Close codes (docs/realtime.md; defined with the events). 4xxx: do not reconnect until
# the cause changes.
CLOSE_NOT_AUTHENTICATED = events.CLOSE_NOT_AUTHENTICATED
CLOSE_NOT_MEMBER = events.CLOSE_NOT_MEMBER
CLOSE_ROOM_NOT_FOUND = events.CLOSE_ROOM_NOT_FOUND
CLOSE_BANNED = events.CLOSE_BANNED
CLOSE_LEFT = events.CLOSE_LEFT
CLOSE_SUSPENDED = events.CLOSE_SUSPENDED
CLOSE_RESYNC = events.CLOSE_RESYNC
# Server events re-read the member's standing at most this often (seconds): a ban,
# removal or suspension whose live event was lost (or an account suspended without one)
# still closes the socket before it is sent anything more.
MEMBERSHIP_RECHECK_SECONDS = 15
# A socket's sends are screened with the membership its last send read, for at most
# this long (seconds). The send re-reads the member under the room's lock anyway (a ban,
# removal, mute or suspension refuses the write there, and a refusal that closes the
# socket is read afresh), so a busy socket's frames skip a read of their own.
SEND_MEMBERSHIP_REUSE_SECONDS = 2.0
# 1013 "try again later": the channel layer is down; reconnect with backoff.
CLOSE_TRY_AGAIN_LATER = events.CLOSE_TRY_AGAIN_LATER


def _close_code_for(membership: Membership | None) -> int | None:
    if membership is None:
        return CLOSE_NOT_MEMBER
    if membership.state == Membership.State.BANNED:
        return CLOSE_BANNED
    if membership.state != Membership.State.ACTIVE:
        return CLOSE_LEFT if membership.state == Membership.State.LEFT else CLOSE_NOT_MEMBER
    return _suspension_close_code(membership)


def _suspension_close_code(membership: Membership) -> int | None:
    """4413 when the member's account is suspended site-wide (or deactivated): refused
    at connect, on every frame and on the periodic re-check of server events."""
    user = membership.user
    if not user.is_active or (user.suspended_until and user.suspended_until > timezone.now()):
        return CLOSE_SUSPENDED
    return None


def _ready_state(membership: Membership) -> tuple[dict[str, bool], dict | None]:
    """The member's ``can_*`` flags (community.access) and the room's notice, for the
    ``ready`` frame."""
    permissions = access.room_permissions(
        membership.room, user=membership.user, membership=membership
    )
    return permissions, room_announcement(room_id=membership.room_id)


def _membership_close_code(room_id: int, user_id: int) -> int | None:
    return _close_code_for(membership_for_user(room_id=room_id, user_id=user_id))


def _room_known_to_outsiders(room_id: int) -> bool:
    """Whether someone without a membership may learn the room exists: private and
    suspended rooms close 4404 exactly like a missing room (docs/realtime.md)."""

    room = Room.objects.filter(pk=room_id).only("visibility", "is_suspended").first()
    return room is not None and not access.room_is_hidden_from_non_members(room)


def _viewer_blocks(user_id: int, room_id: int) -> tuple[bool, frozenset[int]]:
    """Whether the viewer blocked anyone, and the room memberships whose messages they
    fold (one query for the many who block no one). Account blocks fold only members
    shown with their main profile; open profiles fold only by a member block."""
    if not viewer_blocks_anyone(user_id):
        return False, frozenset()
    return True, frozenset(blocked_member_ids_in_room(user_id, room_id))


def _history_page(room_id: int, after: int, viewer) -> tuple[list[dict], bool]:
    messages, has_more = room_history(room_id=room_id, after=after, limit=CATCH_UP_PAGE)
    return message_payloads(messages, viewer=viewer), has_more


def _gap_page(room_id: int, user_id: int, after: int, viewer) -> tuple[list[dict], bool] | None:
    """Messages after ``after`` for a live socket's gap, or None when the viewer is no
    longer an active member (their socket is being closed by a removal event)."""
    if _close_code_for(membership_for_user(room_id=room_id, user_id=user_id)):
        return None
    return _history_page(room_id, after, viewer)


# Events whose message payload each socket flags ``collapsed`` for its own viewer.
MESSAGE_EVENTS = {events.MESSAGE_CREATED, events.MESSAGE_UPDATED}


class FrameError(DomainError):
    code = "invalid_frame"


def _int_field(content: dict, name: str, *, required: bool = True) -> int | None:
    value = content.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(
            _("%(field)s must be a non-negative integer.") % {"field": name},
            fields={name: [_("Invalid.")]},
        )
    return value


def _str_field(content: dict, name: str, *, required: bool = True) -> str:
    value = content.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise FrameError(
            _("%(field)s must be a string.") % {"field": name}, fields={name: [_("Invalid.")]}
        )
    return value


@dataclass(frozen=True)
class Frame:
    content: dict
    ref: str | int | None
    viewer: object
    channel_name: str


def _handle_frame(
    handler: Callable[[Membership, Frame], dict | None], *, room_id: int, user_id: int, frame: Frame
) -> tuple[int | None, dict | None]:
    """One trip to the database thread per frame: ``(close code, reply)``.

    Bans, removals and mutes are checked on every frame, from the database; the
    membership read here goes on to the service (which re-reads it under its lock).
    """
    membership = membership_for_user(room_id=room_id, user_id=user_id)
    refusal = _close_code_for(membership)
    if refusal:
        return refusal, None
    return None, handler(membership, frame)


@dataclass(frozen=True)
class SendJob:
    """A ``message.send`` waiting for its room's lane. ``known``: the membership the
    socket read for a send less than ``SEND_MEMBERSHIP_REUSE_SECONDS`` ago, used to
    screen (the write re-reads the member under the room's lock)."""

    known: Membership | None
    room_id: int
    user_id: int
    frame: Frame
    language: str | None


def _send_frames(jobs: Sequence[SendJob]) -> list:
    """The room's ``message.send`` frames that waited for its lane, sent together
    (``check_send_messages``: one transaction and room lock). Each job's result is
    ``(close code, reply, the membership read here, for the socket's next sends)`` or
    the error to answer with. A refusal of the member's standing seen through a kept
    membership is read again, to close the socket with its code as a fresh read would."""
    results: list = [None] * len(jobs)
    pending: list[tuple[int, SendJob, Membership | None]] = []
    sends: list[PendingSend] = []
    for index, job in enumerate(jobs):
        with in_language(job.language):
            try:
                membership, read = job.known, None
                if membership is None:
                    read = membership_for_user(room_id=job.room_id, user_id=job.user_id)
                    membership = read
                    refusal = _close_code_for(membership)
                    if refusal:
                        results[index] = (refusal, None, None)
                        continue
                send = PendingSend(
                    membership=membership,
                    body=_str_field(job.frame.content, "body"),
                    client_id=_str_field(job.frame.content, "client_id", required=False),
                    reply_to_id=_int_field(job.frame.content, "reply_to", required=False),
                    language=job.language,
                )
            except Exception as error:
                results[index] = error
                continue
        pending.append((index, job, read))
        sends.append(send)
    for (index, job, read), sent in zip(pending, check_send_messages(sends=sends), strict=True):
        with in_language(job.language):
            try:
                results[index] = _send_result(job, read, sent)
            except Exception as error:  # the close code's read failed
                results[index] = error
    return results


def _send_result(job: SendJob, read: Membership | None, sent):
    if isinstance(sent, PermissionDeniedError) and job.known is not None:
        refusal = _membership_close_code(job.room_id, job.user_id)
        return (refusal, None, None) if refusal else sent
    if isinstance(sent, Exception):
        return sent
    if sent.created:
        return None, None, read  # the room's broadcast brings it back
    # A retry: the room saw it already, so only the sender gets it back.
    payload = message_payload_by_id(sent.message.pk, viewer=job.frame.viewer)
    return None, events.message_created(message=payload), read


def _frame_message_edit(membership: Membership, frame: Frame) -> None:
    edit_message(
        user_id=membership.user_id,
        message_id=_int_field(frame.content, "id"),
        body=_str_field(frame.content, "body"),
    )


def _frame_message_delete(membership: Membership, frame: Frame) -> None:
    delete_message(user_id=membership.user_id, message_id=_int_field(frame.content, "id"))


def _frame_typing(membership: Membership, frame: Frame) -> None:
    notify_typing(membership=membership)


def _frame_read(membership: Membership, frame: Frame) -> dict:
    seq = mark_read(membership=membership, seq=_int_field(frame.content, "seq"))
    return events.read_ok(room_id=membership.room_id, seq=seq)


def _frame_ping(membership: Membership, frame: Frame) -> dict:
    presence.socket_heartbeat(
        room_id=membership.room_id,
        group=membership.room.group_name,
        membership_id=membership.pk,
        channel_name=frame.channel_name,
    )
    # The room's committed seq: the socket checks it has delivered up to there.
    return events.room_pong(last_seq=membership.room.last_message_seq, ref=frame.ref)


# Frames handled one by one; ``message.send`` goes to the room's batch (_send_frames).
MESSAGE_SEND = "message.send"
FRAME_HANDLERS = {
    "message.edit": _frame_message_edit,
    "message.delete": _frame_message_delete,
    "typing": _frame_typing,
    "read": _frame_read,
    "ping": _frame_ping,
}


class RoomConsumer(ClosedSocketGuard, AsyncJsonWebsocketConsumer):
    membership_id: int | None = None
    joined_group = False
    blocks_group: str | None = None
    # Memberships in this room of users the viewer blocked: their messages are collapsed.
    blocked_member_ids: frozenset[int] = frozenset()
    blocks_anyone = False
    closing = False
    # Highest seq sent during catch-up: live copies of those messages are skipped.
    history_high_water = 0
    # When the member's standing (membership state, account suspension) was last read.
    standing_checked_at = 0.0
    # The membership a send read, reused by the next sends for a moment (``_send``).
    send_membership: Membership | None = None
    send_membership_read_at = 0.0

    # --- connection ---------------------------------------------------------------

    def _db(self, func):
        """``func`` on this room's database lane (config/db_lanes.py): the room's calls
        in order, other rooms' in parallel."""
        return in_lane(self.room_id, func)

    async def connect(self):
        self.room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        self.group = f"room.{self.room_id}"
        # Accept first so the refusal reaches the client as a close code, not a bare 403.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return await self._close(CLOSE_NOT_AUTHENTICATED)
        self.user_id = user.pk
        membership = await self._db(membership_for_user)(room_id=self.room_id, user_id=self.user_id)
        if membership is None and not await self._db(_room_known_to_outsiders)(self.room_id):
            return await self._close(CLOSE_ROOM_NOT_FOUND)
        refusal = _close_code_for(membership)
        if refusal:
            return await self._close(refusal)
        self.membership_id = membership.pk
        after = self._after_from_query()

        # Join the group BEFORE reading history: anything committed from now on is in
        # this channel's queue, which buffers it until this handler returns (a
        # consumer handles one message at a time). History then covers everything
        # before, and the buffered copies of messages already sent are skipped.
        # The user's blocks group carries ``blocks.reload``; joined before the blocks
        # are read, for the same reason.
        self.blocks_group = blocks_group_name(self.user_id)
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
            self.joined_group = True
            await self.channel_layer.group_add(self.blocks_group, self.channel_name)
        except Exception:
            logger.warning("channel layer unavailable; socket for room %s refused", self.room_id)
            return await self._close(CLOSE_TRY_AGAIN_LATER)
        self.group_joined_at = time.monotonic()
        await self._load_blocked_members()

        membership = await self._db(membership_for_user)(room_id=self.room_id, user_id=self.user_id)
        refusal = _close_code_for(membership)
        if refusal:  # removed between the two reads
            return await self._close(refusal)
        self.standing_checked_at = time.monotonic()
        permissions, announcement = await self._db(_ready_state)(membership)
        await self.send_json(
            events.room_ready(
                protocol=PROTOCOL_VERSION,
                room_id=self.room_id,
                membership_id=membership.pk,
                nickname=membership.nickname,
                role=membership.role,
                last_seq=membership.room.last_message_seq,
                last_read_seq=membership.last_read_seq,
                slow_mode_seconds=membership.room.slow_mode_seconds,
                # What the viewer may do (community.access): clients never infer it.
                permissions=permissions,
                # The notice, so a (re)connecting client shows the current one.
                announcement=announcement,
            )
        )
        self.delivered_seq = self.live_floor = membership.room.last_message_seq
        if after is not None:
            await self._catch_up(after, last_seq=membership.room.last_message_seq)
            self.delivered_seq, self.live_floor = self.history_high_water, -1
        await self._db(presence.socket_online)(
            room_id=self.room_id,
            group=self.group,
            membership_id=self.membership_id,
            channel_name=self.channel_name,
        )

    async def _load_blocked_members(self) -> None:
        self.blocks_anyone, self.blocked_member_ids = await self._db(_viewer_blocks)(
            self.user_id, self.room_id
        )

    def _blocks_event(self) -> dict:
        return events.blocks_changed(
            room_id=self.room_id, collapsed_membership_ids=list(self.blocked_member_ids)
        )

    def _after_from_query(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("after") or [""])[0]
        return int(raw) if raw.isdigit() else None

    async def _catch_up(self, after: int, *, last_seq: int) -> None:
        # A cursor beyond the room's last message (a stale client) must not hide new
        # messages: without replayed messages the skip mark is the room's last seq.
        cursor = min(after, last_seq)
        while True:
            payloads, has_more = await self._db(_history_page)(
                self.room_id, cursor, self.scope["user"]
            )
            for payload in payloads:
                await self.send_json(events.message_created(message=payload))
                cursor = payload["seq"]
            if not has_more:
                break
        self.history_high_water = cursor
        await self.send_json(events.resync_done(room_id=self.room_id, last_seq=cursor))

    async def disconnect(self, code):
        if not self.joined_group:
            return
        self.joined_group = False
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.blocks_group, self.channel_name)
        except Exception:
            logger.warning("channel layer unavailable while leaving room %s", self.room_id)
        await self._db(presence.socket_offline)(
            room_id=self.room_id,
            group=self.group,
            membership_id=self.membership_id,
            channel_name=self.channel_name,
        )

    async def _close(self, code: int) -> None:
        self.closing = True
        await self.close(code=code)

    # --- client frames ------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:
            return
        if text_data is None:
            return await self._send_error(FrameError(_("Frames are JSON text.")))
        if len(text_data) > MAX_FRAME_CHARS:
            return await self._send_error(FrameError(_("Frame too large."), code="too_large"))
        try:
            content = await self.decode_json(text_data)
            # A lone surrogate ("\ud800") decodes to a str nothing can store or send.
            json.dumps(content, ensure_ascii=False).encode()
        except (ValueError, RecursionError):  # UnicodeError is a ValueError
            return await self._send_error(FrameError(_("Frames are JSON objects.")))
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            return await self._send_error(FrameError(_("A frame needs a type.")))
        ref = content.get("ref")
        ref = ref if isinstance(ref, str | int) and not isinstance(ref, bool) else None
        retry_after = self._frame_budget_exceeded()
        if retry_after:
            return await self._send_error(
                RateLimitedError(_("Too many frames."), retry_after=retry_after), ref
            )
        handler = FRAME_HANDLERS.get(content["type"])
        if handler is None and content["type"] != MESSAGE_SEND:
            return await self._send_error(
                FrameError(_("Unknown frame type."), code="unknown_frame"), ref
            )
        if content["type"] == "ping":
            await self._refresh_groups()
        frame = Frame(
            content=content,
            ref=ref,
            viewer=self.scope["user"],
            channel_name=self.channel_name,
        )
        try:
            if handler is None:
                refusal, reply = await self._send(frame)
            else:
                refusal, reply = await self._db(_handle_frame)(
                    handler, room_id=self.room_id, user_id=self.user_id, frame=frame
                )
        except DomainError as error:
            return await self._send_error(error, ref)
        except Exception:  # a database error mid-frame: the frame failed, not the socket
            logger.exception("frame %s failed in room %s", content["type"], self.room_id)
            return await self._send_error(
                DomainError(_("Something went wrong. Try again."), code="try_again"), ref
            )
        if refusal:
            return await self._close(refusal)
        if reply is not None:
            await self.send_json(reply)
        if reply is not None and reply.get("type") == events.PONG:
            self._expect_seq(reply["last_seq"])

    async def _send(self, frame: Frame) -> tuple[int | None, dict | None]:
        started = time.monotonic()
        known = self.send_membership
        if known is not None and started - self.send_membership_read_at > (
            SEND_MEMBERSHIP_REUSE_SECONDS
        ):
            known = self.send_membership = None
        try:
            job = SendJob(
                known=known,
                room_id=self.room_id,
                user_id=self.user_id,
                frame=frame,
                language=translation.get_language(),
            )
            refusal, reply, read = await in_lane_batch(self.room_id, _send_frames, job)
        except DomainError:
            # Refused (muted by that flood, say): the next send reads the member afresh.
            self.send_membership = None
            raise
        if read is not None:
            self.send_membership, self.send_membership_read_at = read, started
        return refusal, reply

    def _frame_budget_exceeded(self) -> int:
        """Seconds to wait when this socket sent too many frames lately, else 0."""
        now = time.monotonic()
        if not hasattr(self, "frame_times"):
            self.frame_times = deque()
        # Refused without touching the database; the per-user message limit
        # (CHAT_SEND_RATE) is separate and shared by REST.
        limit, window = settings.CHAT_FRAME_RATE
        while self.frame_times and now - self.frame_times[0] > window:
            self.frame_times.popleft()
        if len(self.frame_times) >= limit:
            return max(1, int(window - (now - self.frame_times[0])) + 1)
        self.frame_times.append(now)
        return 0

    async def _send_error(self, error: DomainError, ref=None) -> None:
        await self.send_json(
            events.error(
                code=error.code,
                message=error.message,
                fields=error.fields,
                retry_after=error.retry_after,
                ref=ref,
            )
        )

    async def _refresh_groups(self) -> None:
        if time.monotonic() - self.group_joined_at <= GROUP_REFRESH_SECONDS:
            return
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.channel_layer.group_add(self.blocks_group, self.channel_name)
            self.group_joined_at = time.monotonic()
        except Exception:  # retried on the next ping
            logger.warning("channel layer unavailable; group refresh for %s", self.room_id)

    # --- server events ----------------------------------------------------------------

    async def _standing_revoked(self) -> bool:
        """Re-read the member's standing when the last read is older than
        ``MEMBERSHIP_RECHECK_SECONDS``; close (and send nothing more) when they were
        banned, removed or suspended. Bans and removals normally arrive first as
        ``member.removed``; this catches a lost event or a suspension made without one."""
        if time.monotonic() - self.standing_checked_at < MEMBERSHIP_RECHECK_SECONDS:
            return False
        self.standing_checked_at = time.monotonic()
        try:
            refusal = await self._db(_membership_close_code)(self.room_id, self.user_id)
        except Exception:  # the database is unreachable: frames still check; retry later
            logger.warning("membership re-check failed for room %s", self.room_id)
            return False
        if refusal:
            await self._close(refusal)
            return True
        return False

    async def moim_event(self, message):
        """An event from the channel layer: ``{"event": ...}``, or a message event as its
        frame's text with what delivery decides by (``events.layer_message``). Held and
        ordered as it came, so a socket that sends it unchanged never decodes it."""
        if self.closing:
            return
        if await self._standing_revoked():
            return
        seq = message.get("seq") if "text" in message else _event_seq(message["event"])
        if isinstance(seq, int) and seq > self.live_floor:
            return await self._deliver_in_order(message, seq)
        await self._forward_delivery(message)

    async def layer_reconnected(self, message):
        """The channel layer's subscription was down for a while (pub/sub layer): send
        what was committed meanwhile from storage, and re-read the member's standing
        (a removal or ban may have been among the lost events)."""
        if self.closing or self.socket_closed or self.membership_id is None:
            return
        self.standing_checked_at = 0.0
        self.send_membership = None  # a change of standing may have been lost too
        if await self._standing_revoked():
            return
        try:
            await self._load_blocked_members()
            await self._fill_from_storage()
        except Exception:
            logger.exception("resync after reconnect failed in room %s", self.room_id)
            self.closing = True
            await self._abandon(CLOSE_RESYNC)

    async def _forward_delivery(self, delivery: dict) -> None:
        """Send a channel-layer event (``moim_event``'s ``message``) to the client."""
        if "text" not in delivery:
            return await self._forward(delivery["event"])
        if self.blocked_member_ids and not self.blocked_member_ids.isdisjoint(
            (delivery["author"], delivery["reply_author"])
        ):
            # This viewer blocked its author (or the replied-to one): flag their copy.
            return await self._forward(json.loads(delivery["text"]))
        await self.send_text(delivery["text"], frame_type=delivery["kind"])

    async def _forward(self, event: dict) -> None:
        kind = event.get("type")
        if kind == events.TYPING and event.get("membership_id") == self.membership_id:
            return
        if kind == events.SESSION_REVOKED:  # "log out everywhere", sent to the blocks group
            return await self._close(CLOSE_NOT_AUTHENTICATED)
        if kind == events.BLOCKS_RELOAD:
            await self._load_blocked_members()
            return await self.send_json(self._blocks_event())
        if kind in (events.MEMBER_JOINED, events.MEMBER_UPDATED) and self.blocks_anyone:
            # The one joining (or turning their main profile on or off) may be someone
            # the viewer blocked by account: their messages arrive collapsed when they
            # show their main profile (no frame says so, to tell nobody who).
            await self._load_blocked_members()
        if kind in MESSAGE_EVENTS and self.blocked_member_ids:
            (message,) = with_collapsed_flags([event["message"]], self.blocked_member_ids)
            event = {**event, "message": message}
        await self.send_json(event)
        if kind == events.MEMBER_REMOVED and event["membership_id"] == self.membership_id:
            # The removed member's own sockets close with the reason's code.
            await self._close(events.CLOSE_CODE_BY_REASON.get(event["reason"], CLOSE_LEFT))

    # --- delivery in seq order ----------------------------------------------------------
    # Events from several server processes (and from concurrent requests in one) reach a
    # socket out of seq order, and the channel layer can lose some (a failed broadcast,
    # a full queue, Redis restarted). So each socket delivers message events in seq order:
    # one that arrives early is held until the ones before it arrive, and a missing one
    # is sent from storage after REALTIME_GAP_WAIT_SECONDS. Pongs carry the room's
    # committed seq, so a message whose broadcast never came is found within a ping.

    delivered_seq = 0  # every message up to here was delivered (or the client has it)
    live_floor = 0  # message events at or below it predate the socket: passed through
    gap_task: asyncio.Task | None = None

    # Events are held and forwarded as channel-layer deliveries (``moim_event``'s
    # ``message``); messages read from storage are wrapped as ``{"event": ...}``.

    async def _deliver_in_order(self, delivery: dict, seq: int) -> None:
        if not hasattr(self, "held"):
            self.held: list[tuple[int, dict]] = []
        if _delivery_type(delivery) == events.MESSAGE_CREATED:
            if seq <= self.delivered_seq:
                return  # already delivered (catch-up, storage, or a repeat)
            if seq > self.delivered_seq + 1:
                self.held.append((seq, delivery))
                return self._expect_seq(seq - 1)
            await self._forward_delivery(delivery)
            self.delivered_seq = seq
            return await self._release_held()
        if seq > self.delivered_seq:  # an edit or delete of a message still held
            self.held.append((seq, delivery))
            return
        await self._forward_delivery(delivery)

    async def _release_held(self) -> None:
        while self.held:
            ready = [item for item in self.held if item[0] <= self.delivered_seq + 1]
            if not ready:
                return
            self.held = [item for item in self.held if item[0] > self.delivered_seq + 1]
            # A message's own created event before its updates (a link preview's task
            # may broadcast an update before the send's created event goes out).
            ready.sort(
                key=lambda item: (item[0], _delivery_type(item[1]) != events.MESSAGE_CREATED)
            )
            for seq, delivery in ready:
                created = _delivery_type(delivery) == events.MESSAGE_CREATED
                if created and seq <= self.delivered_seq:
                    continue
                await self._forward_delivery(delivery)
                if created:
                    self.delivered_seq = max(self.delivered_seq, seq)

    def _expect_seq(self, seq: int) -> None:
        """Messages up to ``seq`` are committed: if they have not all been delivered when
        the gap wait ends, send the rest from storage."""
        if seq > self.delivered_seq and (self.gap_task is None or self.gap_task.done()):
            self.gap_task = asyncio.ensure_future(self._fill_gap_later(seq))

    async def _fill_gap_later(self, seq: int) -> None:
        await asyncio.sleep(settings.REALTIME_GAP_WAIT_SECONDS)
        if self.closing or self.socket_closed or self.delivered_seq >= seq:
            return
        try:
            await self._fill_from_storage()
        except Exception:
            logger.exception("gap fill failed in room %s; socket resyncs", self.room_id)
            self.closing = True
            await self._abandon(CLOSE_RESYNC)

    async def _fill_from_storage(self) -> None:
        while True:
            page = await self._db(_gap_page)(
                self.room_id, self.user_id, self.delivered_seq, self.scope["user"]
            )
            if page is None or self.closing:
                return
            payloads, has_more = page
            logger.info(
                "room %s socket filled %s missing message(s) from storage after seq %s",
                self.room_id,
                len(payloads),
                self.delivered_seq,
            )
            for payload in payloads:
                if payload["seq"] > self.delivered_seq:
                    await self._forward(events.message_created(message=payload))
                    self.delivered_seq = payload["seq"]
            if not has_more:
                break
        # Held events: created copies are now stale duplicates; edits and deletes go out.
        held, self.held = getattr(self, "held", []), []
        for seq, delivery in sorted(held, key=lambda item: item[0]):
            if _delivery_type(delivery) != events.MESSAGE_CREATED:
                await self._forward_delivery(delivery)
            elif seq > self.delivered_seq:
                self.held.append((seq, delivery))
        await self._release_held()


def _delivery_type(delivery: dict) -> str | None:
    """The client event type of a channel-layer delivery (``moim_event``)."""
    return delivery["kind"] if "text" in delivery else delivery["event"].get("type")


def _event_seq(event: dict) -> int | None:
    """The seq of the message a message event is about, if it is one."""
    kind = event.get("type")
    if kind in MESSAGE_EVENTS:
        seq = (event.get("message") or {}).get("seq")
    elif kind == events.MESSAGE_DELETED:
        seq = event.get("seq")
    else:
        return None
    return seq if isinstance(seq, int) else None
