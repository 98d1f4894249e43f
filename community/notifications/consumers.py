"""``/ws/me/``: the per-user socket for notifications and unread counts
(protocol in docs/realtime.md, "Per-user socket").

It listens to the user's ``user.<id>`` group (notifications, unread totals) and to the
groups of the rooms they are in (those at connect time, and each one they join later:
``rooms.joined``), so new messages there refresh the unread totals; bursts are
coalesced into one ``unread.updated`` per second. Events for the user (notifications,
totals, a moderator's warning, a join request for a room they host) are forwarded.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from community import events
from community.notifications.selectors import unread_counts
from community.notifications.services import user_group
from community.rooms.models import Membership
from config.realtime import ClosedSocketGuard

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
CLOSE_NOT_AUTHENTICATED = events.CLOSE_NOT_AUTHENTICATED
CLOSE_TRY_AGAIN_LATER = events.CLOSE_TRY_AGAIN_LATER
# Rooms followed live per socket; counts for others refresh on the next event.
MAX_ROOM_GROUPS = 500
# New room messages refresh the totals at most this often.
UNREAD_COALESCE_SECONDS = 1.0
# Rooms with new, edited or deleted messages are announced (``chat.activity``, for the
# chat list) at most this often, together.
ACTIVITY_COALESCE_SECONDS = 0.5
ACTIVITY_EVENTS = {events.MESSAGE_CREATED, events.MESSAGE_UPDATED, events.MESSAGE_DELETED}
FORWARDED_EVENTS = {
    events.NOTIFICATION_CREATED,
    events.NOTIFICATION_UPDATED,
    # A hidden or deleted message's notifications were withdrawn: drop them.
    events.NOTIFICATION_DELETED,
    events.UNREAD_UPDATED,
    events.MODERATION_WARNING,
    # To each host of the room, on whatever page they are.
    events.JOIN_REQUEST_CREATED,
}


def _memberships(user_id: int) -> dict[int, int]:
    """room id -> membership id of the user's active memberships."""
    return dict(
        Membership.objects.filter(user_id=user_id, state=Membership.State.ACTIVE)
        .order_by("-room__last_activity_at")
        .values_list("room_id", "id")[:MAX_ROOM_GROUPS]
    )


class MeConsumer(ClosedSocketGuard, AsyncJsonWebsocketConsumer):
    groups_joined: list[str]
    refresh_task: asyncio.Task | None = None
    activity_task: asyncio.Task | None = None

    async def connect(self):
        self.groups_joined = []
        self.active_room_ids: set[int] = set()
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return await self.close(code=CLOSE_NOT_AUTHENTICATED)
        self.user_id = user.pk
        self.memberships = await database_sync_to_async(_memberships)(self.user_id)
        self.my_membership_ids = set(self.memberships.values())
        groups = [user_group(user_id=self.user_id)] + [
            f"room.{room_id}" for room_id in self.memberships
        ]
        try:
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
                self.groups_joined.append(group)
        except Exception:
            logger.warning("channel layer unavailable; /ws/me/ for %s refused", self.user_id)
            await self._leave_groups()
            return await self.close(code=CLOSE_TRY_AGAIN_LATER)
        counts = await database_sync_to_async(unread_counts)(user_id=self.user_id)
        await self.send_json(events.me_ready(protocol=PROTOCOL_VERSION, unread=counts))

    async def _leave_groups(self):
        for group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.warning("channel layer unavailable while leaving %s", group)
        self.groups_joined = []

    async def disconnect(self, code):
        for task in (self.refresh_task, self.activity_task):
            if task is not None:
                task.cancel()
        await self._leave_groups()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = await self.decode_json(text_data) if text_data else None
        except ValueError:
            content = None
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        # The only client frame: a ping that keeps proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json(events.me_pong())
        else:
            await self.send_json(
                events.error(code="unknown_frame", message=_("Unknown frame type."))
            )

    async def moim_event(self, message):
        if "text" in message:
            # A room's message event as its frame's text (events.layer_message): what
            # this socket needs of it travels beside the text, never decoded here.
            kind, event = message["kind"], None
            author_id, room_id = message["author"], message["room_id"]
        else:
            event = message["event"]
            kind = event.get("type")
            # A message payload on message events only (a warning's "message" is text).
            payload = (event.get("message") or {}) if kind in ACTIVITY_EVENTS else {}
            author_id = (payload.get("author") or {}).get("membership_id")
            room_id = event.get("room_id") or payload.get("room_id")
        if kind == events.SESSION_REVOKED:  # "log out everywhere"
            return await self.close(code=CLOSE_NOT_AUTHENTICATED)
        if kind in FORWARDED_EVENTS:
            if event is None:
                await self.send_text(message["text"], frame_type=kind)
            else:
                await self.send_json(event)
        elif kind == events.ROOMS_JOINED:
            await self._follow_room(event["room_id"], event["membership_id"])
        if kind == events.MESSAGE_CREATED and author_id not in self.my_membership_ids:
            self._schedule_refresh()
        if kind in ACTIVITY_EVENTS and room_id:
            self._note_activity(int(room_id))
        # Other room events (typing, presence...) are not for this socket.

    async def layer_reconnected(self, message):
        # Events may have been lost (pub/sub layer): send the unread counts again.
        if getattr(self, "user_id", None) is not None:
            self._schedule_refresh()

    async def _follow_room(self, room_id: int, membership_id: int) -> None:
        self.my_membership_ids.add(membership_id)
        group = f"room.{room_id}"
        if group in self.groups_joined or len(self.groups_joined) > MAX_ROOM_GROUPS:
            return
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception:  # counts for it still refresh on the user's other events
            logger.warning("channel layer unavailable; /ws/me/ not following %s", group)
            return
        self.groups_joined.append(group)
        # Anything said between the join and this subscription was broadcast before this
        # socket listened: fresh totals count it.
        self._schedule_refresh()

    def _note_activity(self, room_id: int) -> None:
        self.active_room_ids.add(room_id)
        if self.activity_task is None or self.activity_task.done():
            self.activity_task = asyncio.ensure_future(self._announce_activity_later())

    async def _announce_activity_later(self):
        await asyncio.sleep(ACTIVITY_COALESCE_SECONDS)
        room_ids, self.active_room_ids = self.active_room_ids, set()
        await self.send_json(events.chat_activity(room_ids=list(room_ids)))

    def _schedule_refresh(self):
        if self.refresh_task is None or self.refresh_task.done():
            self.refresh_task = asyncio.ensure_future(self._refresh_later())

    async def _refresh_later(self):
        await asyncio.sleep(UNREAD_COALESCE_SECONDS)
        counts = await database_sync_to_async(unread_counts)(user_id=self.user_id)
        await self.send_json(events.unread_updated(**counts))
