"""Who is online in a room, counted across every ASGI process.

Each open socket is an entry ``"<membership_id>|<channel_name>"`` that expires unless
the socket's pings refresh it, so a crashed process's sockets fade out on their own.
The count is of distinct memberships (two tabs count once). On Redis it is a sorted
set scored by expiry time; on the local-memory cache (development, tests) a dict.

Small rooms hear every change at once. In a large room every socket that opens or
closes would otherwise send the count to every member (N² frames while a room fills),
so there the count goes out at most once per ``LARGE_ROOM_BROADCAST_SECONDS``; a change
that falls inside the window is sent by the next event after it, and a busy room has
plenty: every socket pings every 25 s.
"""

import logging
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from community import events

logger = logging.getLogger(__name__)

# Clients ping every 25 s; an entry outlives two missed pings.
PRESENCE_TTL_SECONDS = 70
_KEY = "presence:room:{}"
# Above this many members online a room's count is broadcast at most once per window.
LARGE_ROOM_ONLINE = 50
LARGE_ROOM_BROADCAST_SECONDS = 2
_SENT_KEY = "presence-sent:{}"
_DIRTY_KEY = "presence-dirty:{}"


def _entry(membership_id: int, channel_name: str) -> str:
    return f"{membership_id}|{channel_name}"


def _count(entries) -> int:
    return len({str(entry).split("|", 1)[0] for entry in entries})


def _touch(room_id: int, entry: str, *, remove: bool) -> int:
    now = time.time()
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        key = cache.make_and_validate_key(_KEY.format(room_id))
        client = cache._cache.get_client(key, write=True)
        pipe = client.pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        if remove:
            pipe.zrem(key, entry)
        else:
            pipe.zadd(key, {entry: now + PRESENCE_TTL_SECONDS})
        pipe.expire(key, PRESENCE_TTL_SECONDS * 2)
        pipe.zrange(key, 0, -1)
        members = pipe.execute()[-1]
        return _count(
            member.decode() if isinstance(member, bytes) else member for member in members
        )
    key = _KEY.format(room_id)
    entries = {k: v for k, v in (cache.get(key) or {}).items() if v > now}
    if remove:
        entries.pop(entry, None)
    else:
        entries[entry] = now + PRESENCE_TTL_SECONDS
    cache.set(key, entries, PRESENCE_TTL_SECONDS * 2)
    return _count(entries)


def _update(*, room_id: int, membership_id: int, channel_name: str, remove: bool) -> int | None:
    try:
        return _touch(room_id, _entry(membership_id, channel_name), remove=remove)
    except Exception:  # presence is best effort; chat works without it
        logger.warning("presence unavailable for room %s", room_id)
        return None


def _broadcast_count(*, room_id: int, group: str, count: int, changed: bool) -> None:
    """Send the count now, or (large rooms) once the window allows; see the module doc."""
    cache = caches["default"]
    try:
        if count > LARGE_ROOM_ONLINE:
            if changed:
                cache.set(_DIRTY_KEY.format(room_id), 1, PRESENCE_TTL_SECONDS)
            elif not cache.get(_DIRTY_KEY.format(room_id)):
                return
            if not cache.add(_SENT_KEY.format(room_id), 1, LARGE_ROOM_BROADCAST_SECONDS):
                return
            cache.delete(_DIRTY_KEY.format(room_id))
        elif not changed:
            return
    except Exception:
        logger.warning("presence throttle unavailable for room %s", room_id)
        if not changed:
            return
    events.send_on_commit(group, events.presence(room_id=room_id, online=count))


def socket_online(*, room_id: int, group: str, membership_id: int, channel_name: str) -> int | None:
    """Record an open socket (or refresh it) and broadcast the room's online count."""
    count = _update(
        room_id=room_id, membership_id=membership_id, channel_name=channel_name, remove=False
    )
    if count is not None:
        _broadcast_count(room_id=room_id, group=group, count=count, changed=True)
    return count


def socket_heartbeat(
    *, room_id: int, group: str, membership_id: int, channel_name: str
) -> int | None:
    """Refresh an open socket's entry; sends a large room's count held back earlier."""
    count = _update(
        room_id=room_id, membership_id=membership_id, channel_name=channel_name, remove=False
    )
    if count is not None:
        _broadcast_count(room_id=room_id, group=group, count=count, changed=False)
    return count


def socket_offline(*, room_id: int, group: str, membership_id: int, channel_name: str) -> None:
    count = _update(
        room_id=room_id, membership_id=membership_id, channel_name=channel_name, remove=True
    )
    if count is not None:
        _broadcast_count(room_id=room_id, group=group, count=count, changed=True)


def online_membership_ids(*, room_id: int) -> set[int]:
    """The memberships with the room open on at least one socket right now (push
    notifications skip them: they are reading). Empty when presence is unavailable."""
    now = time.time()
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache):
            key = cache.make_and_validate_key(_KEY.format(room_id))
            client = cache._cache.get_client(key)
            entries = client.zrangebyscore(key, now, "+inf")
            entries = [e.decode() if isinstance(e, bytes) else e for e in entries]
        else:
            entries = [k for k, v in (cache.get(_KEY.format(room_id)) or {}).items() if v > now]
    except Exception:
        logger.warning("presence unavailable for room %s", room_id)
        return set()
    return {int(str(entry).split("|", 1)[0]) for entry in entries}
