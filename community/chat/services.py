"""Writes for chat messages.

``check_send_message`` validates, applies the limits and locks; ``do_send_message``
writes and broadcasts after commit. Every other caller (REST, the socket consumer,
seed_demo) goes through them, so a message sent any way is the same message with the
same broadcast.
"""

import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import connections, router, transaction
from django.db.models import BigIntegerField, OuterRef, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.translation import gettext as _

from community import access, events
from community.chat.models import Message, MessageEdit
from community.chat.screening import (
    BLOCK,
    HOLD,
    FilterVerdict,
    MessageFilteredError,
    RuleKind,
    flood_counter,
    hold_message,
    rules_cache_keys,
    screen_message,
)
from community.chat.selectors import message_payload, message_payload_by_id
from community.media import services as media_services
from community.media.models import MediaAsset
from community.moderation.models import AuditLogEntry, RoomAnnouncement
from community.notifications.selectors import unread_addressed_in_room
from community.notifications.services import (
    broadcast_unread,
    mark_room_notifications_read,
    record_message_mentions,
    withdraw_message_notifications,
)
from community.reads.services import read_marker_moved
from community.rooms.models import Membership, Room
from config import metrics
from config.compiled_queries import CompiledQuery
from config.counters import (
    WindowCount,
    count_in_window,
    count_many_in_window_and_get,
    uncount_in_window,
)
from config.errors import (
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from config.i18n import in_language
from profiles.models import User

logger = logging.getLogger(__name__)

CLIENT_ID_MAX_LENGTH = 64
# Typing events from one member are broadcast at most this often.
TYPING_THROTTLE_SECONDS = 3


@dataclass(frozen=True)
class SentMessage:
    message: Message
    # False when the client_id was seen before: the stored message is returned as is.
    created: bool


# --- validation helpers -------------------------------------------------------------


def _clean_body(body: str | None, *, required: bool = True) -> str:
    # NUL cannot be stored in a PostgreSQL text column; it has no meaning in chat.
    body = (body or "").replace("\x00", "").strip()
    if not body and required:
        raise DomainError(_("A message cannot be empty."), fields={"body": [_("Required.")]})
    if len(body) > settings.MESSAGE_MAX_LENGTH:
        raise DomainError(
            _("A message can be at most %(max)s characters.")
            % {"max": settings.MESSAGE_MAX_LENGTH},
            code="too_long",
            fields={"body": [_("Too long.")]},
        )
    return body


def _clean_client_id(client_id: str | None) -> str:
    client_id = (client_id or "").replace("\x00", "").strip()
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        raise DomainError(
            _("client_id can be at most %(max)s characters.") % {"max": CLIENT_ID_MAX_LENGTH},
            fields={"client_id": [_("Too long.")]},
        )
    return client_id


def ensure_can_post(*, membership: Membership, room: Room) -> None:
    """Raise unless ``membership`` (freshly read) may write in ``room`` right now."""
    if membership.state == Membership.State.BANNED:
        raise PermissionDeniedError(_("You are banned from this room."), code="banned")
    if membership.state != Membership.State.ACTIVE:
        raise PermissionDeniedError(_("You are not a member of this room."), code="not_member")
    if room.is_suspended or room.is_archived:
        raise PermissionDeniedError(_("This room is read-only."), code="room_closed")
    now = timezone.now()
    user = membership.user
    if not user.is_active or (user.suspended_until and user.suspended_until > now):
        raise PermissionDeniedError(_("Your account is suspended."), code="suspended")
    if membership.muted_until and membership.muted_until > now:
        raise PermissionDeniedError(
            _("You are muted in this room."),
            code="muted",
            retry_after=math.ceil((membership.muted_until - now).total_seconds()),
        )


def _check_rate_limit(*, user_id: int, rate: "_RateCount | None" = None) -> None:
    """A fixed-window per-user send limit kept in the shared cache (``rate``: counted
    ahead, with the send's screening: ``check_send_messages``).

    Fails open: with the cache down, messages are still accepted (and stored).
    """
    count_limit, window = settings.CHAT_SEND_RATE
    if rate is not None:
        rate.used = True
        sent = rate.counted
    else:
        try:
            sent = count_in_window(_rate_name(user_id), window=window)
        except Exception:
            logger.warning("rate limit cache unavailable; send allowed")
            return
    if sent.count > count_limit:
        raise RateLimitedError(
            _("You are sending messages too fast."), retry_after=sent.retry_after
        )


def _check_slow_mode(*, membership: Membership, room: Room) -> None:
    if not room.slow_mode_seconds or access.is_host(membership):
        return
    last_sent_at = (
        Message.objects.filter(author=membership)
        .order_by("-seq")
        .values_list("created_at", flat=True)
        .first()
    )
    if last_sent_at is None:
        return
    wait = room.slow_mode_seconds - (timezone.now() - last_sent_at).total_seconds()
    if wait > 0:
        raise RateLimitedError(
            _("Slow mode is on: one message every %(seconds)s seconds.")
            % {"seconds": room.slow_mode_seconds},
            code="slow_mode",
            retry_after=math.ceil(wait),
        )


def _load_message_for_update(message_id: int) -> tuple[Message, Room]:
    message = Message.objects.filter(pk=message_id).only("id", "room_id").first()
    if message is None:
        raise NotFoundError(_("No such message."))
    # Room first, then message: the same order as sending, so no deadlock.
    room = Room.objects.select_for_update().get(pk=message.room_id)
    message = Message.objects.select_for_update().get(pk=message_id)
    return message, room


def _membership_for_message(*, room: Room, user_id: int) -> Membership:
    """The caller's membership for acting on one of the room's messages; outside a room
    they may not see, the message is missing (not "not a member": that admits it)."""
    try:
        return _fresh_membership(room=room, user_id=user_id)
    except PermissionDeniedError:
        if access.room_is_hidden_from_non_members(room):
            raise NotFoundError(_("No such message.")) from None
        raise


def _membership_query(room_id, user_id):
    # The room avatar rides along: the sent message's payload shows it, no extra trip.
    # The latest membership is the current one (a rejoin makes a new membership).
    return Membership.objects.select_related("user", "avatar_media").filter(
        room_id=room_id, user_id=user_id
    )


def _membership_for_send(room_id, user_id, client_id=None):
    # A send reads in the same statement, under the room's lock: whether the member has
    # unread mentions or replies here (the send marks them read), and the id of their
    # message with this client_id (a retry).
    duplicate = (
        Subquery(
            Message.objects.filter(author=OuterRef("pk"), client_id=client_id)
            .order_by()
            .values("pk")[:1]
        )
        if client_id is not None
        else Value(None, output_field=BigIntegerField())
    )
    return (
        _membership_query(room_id, user_id)
        .annotate(has_unread_addressed=unread_addressed_in_room(), duplicate_id=duplicate)
        .order_by("-id")[:1]
    )


# The statements of every send, compiled once per process (config/compiled_queries.py).
_LOCKED_ROOM = CompiledQuery(
    Room,
    lambda room_id: Room.objects.select_for_update().filter(pk=room_id),
    kinds=(int,),
    write=True,
)
_SEND_MEMBERSHIP = CompiledQuery(
    Membership, lambda room_id, user_id: _membership_for_send(room_id, user_id), kinds=(int, int)
)
_SEND_MEMBERSHIP_WITH_CLIENT_ID = CompiledQuery(
    Membership, _membership_for_send, kinds=(int, int, str)
)


def _lock_room(room_id: int) -> Room:
    """The room, locked until the transaction ends: every write in a room takes it first."""
    room = _LOCKED_ROOM.first(room_id)
    if room is None:
        raise access.room_not_found_error()
    return room


def _fresh_membership(*, room: Room, user_id: int, for_send: str | None = None) -> Membership:
    """The member's current membership in ``room`` (with its user and avatar). A send
    passes its ``client_id`` (possibly empty) as ``for_send``: the membership then carries
    ``has_unread_addressed`` and ``duplicate_id`` (None unless the client_id was seen)."""
    if for_send is None:
        membership = _membership_query(room.pk, user_id).order_by("-id").first()
    elif for_send:
        membership = _SEND_MEMBERSHIP_WITH_CLIENT_ID.first(room.pk, user_id, for_send)
    else:
        membership = _SEND_MEMBERSHIP.first(room.pk, user_id)
    if membership is None:
        raise _not_a_member()
    membership.room = room
    return membership


def _not_a_member() -> PermissionDeniedError:
    return PermissionDeniedError(_("You are not a member of this room."), code="not_member")


def _batch_memberships(room_id):
    # What ``_membership_for_send`` reads, for several members (filtered by the caller).
    return (
        Membership.objects.select_related("user", "avatar_media")
        .filter(room_id=room_id)
        .annotate(has_unread_addressed=unread_addressed_in_room())
        .order_by("-id")
    )


_BATCH_MEMBERSHIPS = CompiledQuery(
    Membership,
    lambda room_id, user_ids: _batch_memberships(room_id).filter(
        user_id__in=RawSQL("SELECT unnest(%s::bigint[])", (user_ids,))
    ),
    kinds=(int, list),
    write=True,
)


@functools.cache
def _stored_client_ids_sql(db: str) -> str:
    """The messages stored under some of a batch's (author, client_id) pairs: a superset
    (each id matched against each client_id), the caller keeps the pairs it asked for."""
    quote = connections[db].ops.quote_name
    meta = Message._meta
    author = quote(meta.get_field("author").column)
    client_id = quote(meta.get_field("client_id").column)
    return (
        f"SELECT {author}, {client_id}, {quote(meta.pk.column)} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {author} = ANY(%s) AND {client_id} = ANY(%s)"
    )


class _BatchMemberships:
    """The members of a batch of sends (``check_send_messages``), read under the room's
    lock in two statements for the whole batch instead of one per send: each sender's
    current membership as ``_fresh_membership(for_send=...)`` reads it, and the messages
    already stored under the batch's client_ids (kept up to date as the batch writes)."""

    def __init__(self, *, room: Room, sends: Sequence[tuple[int, str]]) -> None:
        """``sends``: each send's ``(user id, client_id)``."""
        self.room = room
        self.current: dict[int, Membership] = {}
        user_ids = sorted({user_id for user_id, _ in sends})
        db = router.db_for_write(Membership)
        # PostgreSQL: statements compiled once, the ids as one array; elsewhere the ORM.
        arrays = connections[db].vendor == "postgresql"
        if arrays:
            members = _BATCH_MEMBERSHIPS.all(room.pk, user_ids)
        else:
            members = _batch_memberships(room.pk).filter(user_id__in=user_ids)
        for membership in members:  # the latest is the current one (a rejoin makes one)
            if self.current.setdefault(membership.user_id, membership) is membership:
                membership.room = room
        wanted = {
            (self.current[user_id].pk, client_id)
            for user_id, client_id in sends
            if client_id and user_id in self.current
        }
        self.stored: dict[tuple[int, str], int] = {}
        if not wanted:
            return
        authors = sorted({author for author, _ in wanted})
        client_ids = sorted({client_id for _, client_id in wanted})
        if arrays:
            with connections[db].cursor() as cursor:
                cursor.execute(_stored_client_ids_sql(db), [authors, client_ids])
                rows = cursor.fetchall()
        else:
            rows = Message.objects.filter(
                author_id__in=authors, client_id__in=client_ids
            ).values_list("author_id", "client_id", "pk")
        for author, client_id, message_id in rows:
            if (author, client_id) in wanted:
                self.stored.setdefault((author, client_id), message_id)

    def for_send(self, *, user_id: int, client_id: str) -> Membership:
        """As ``_fresh_membership(for_send=client_id)``: with ``duplicate_id``."""
        membership = self.current.get(user_id)
        if membership is None:
            raise _not_a_member()
        membership.duplicate_id = self.stored.get((membership.pk, client_id)) if client_id else None
        return membership

    def sent(self, message: Message) -> None:
        if message.client_id:
            self.stored[(message.author_id, message.client_id)] = message.pk


# --- sending --------------------------------------------------------------------------


def check_send_message(
    *,
    membership: Membership,
    body: str,
    client_id: str = "",
    reply_to_id: int | None = None,
    kind: str = Message.Kind.TEXT,
    enforce_limits: bool = True,
    media: MediaAsset | None = None,
    screened: bool = False,
    attach: Callable[[Message], None] | None = None,
) -> SentMessage:
    """Screen with the automatic moderation rules, then send under the room lock.

    The one send pipeline for text, image and video messages (the media service calls
    it too). Screening runs outside the send's transaction: a flood mute or a held
    message is stored even though this send is refused. Trusted sends
    (``enforce_limits=False``: seeding, a held message a host approved) skip it. An
    image/video message passes its (already stored) ``media``; ``body`` is then an
    optional caption. A caller that screened already (:func:`screen_send`, before its
    own transaction) passes ``screened=True``. A poll or meetup passes ``attach``
    (see :func:`do_send_message`).
    """
    if enforce_limits and not screened:
        body = _clean_body(body, required=media is None and kind == Message.Kind.TEXT)
        verdict = screen_send(membership=membership, body=body)
        if not verdict.allowed:
            refuse_filtered(membership=membership, body=body, verdict=verdict, media=media)
    return _check_send_message_locked(
        membership=membership,
        body=body,
        client_id=client_id,
        reply_to_id=reply_to_id,
        kind=kind,
        enforce_limits=enforce_limits,
        media=media,
        attach=attach,
    )


def screen_send(*, membership: Membership, body: str):
    """The automatic rules' verdict on a message (text, or a media message's caption).

    Call it before the send's transaction opens: a flood mute is committed here, in its
    own transaction, whatever happens to the send. Refusals that are not moderation (not
    a member, muted, suspended) are raised first, so a muted member's message is neither
    held nor counted as flood.
    """

    membership = _screening_membership(membership)
    ensure_can_post(membership=membership, room=membership.room)
    return screen_message(
        room=membership.room, membership=membership, body=_clean_body(body, required=False)
    )


def _screening_membership(membership: Membership) -> Membership:
    if not (Membership.room.is_cached(membership) and Membership.user.is_cached(membership)):
        room = Room.objects.get(pk=membership.room_id)
        return _fresh_membership(room=room, user_id=membership.user_id)
    # The socket and the REST view read it with its room and user for this very send
    # (``membership_for_user`` / ``access.active_membership``); the lock re-reads it anyway.
    return membership


def refuse_filtered(*, membership: Membership, body: str, verdict, media: MediaAsset | None = None):
    """Store a held message (with its image or video) for the hosts, then raise
    ``MessageFilteredError`` (``message_held`` or ``message_blocked``). Call it outside
    the send's transaction, so the held message is not rolled back with the refusal.

    Screening may have used a membership read a moment before (the chat socket's, see
    community/chat/consumers.py): the member's standing is read again first, so someone
    banned or muted meanwhile is told that, and their message never reaches review (a
    flood's refusal comes with the mute screening just made: nothing to read again)."""
    if verdict.rule_kind != RuleKind.FLOOD:
        fresh = _fresh_membership(room=membership.room, user_id=membership.user_id)
        ensure_can_post(membership=fresh, room=membership.room)
    raise filtered_error(membership=membership, body=body, verdict=verdict, media=media)


def filtered_error(*, membership: Membership, body: str, verdict, media: MediaAsset | None = None):
    """The refusal for a verdict that did not allow the message, storing the held
    message first when a hold rule applies (in the caller's transaction, or its own).
    The caller raises it once that transaction committed."""
    if verdict.action == HOLD:
        hold_message(
            membership=membership,
            body=_clean_body(body, required=False),
            rule_kind=verdict.rule_kind,
            media=media,
        )
    return MessageFilteredError(verdict)


@transaction.atomic
def _check_send_message_locked(
    *,
    membership: Membership,
    body: str,
    client_id: str = "",
    reply_to_id: int | None = None,
    kind: str = Message.Kind.TEXT,
    enforce_limits: bool = True,
    media: MediaAsset | None = None,
    attach: Callable[[Message], None] | None = None,
    rate: "_RateCount | None" = None,
) -> SentMessage:
    """Validate, lock the room, apply the limits, then write (or return the duplicate)."""
    # Image and video messages (``media``) may come without a caption.
    body = _clean_body(body, required=media is None and kind == Message.Kind.TEXT)
    client_id = _clean_client_id(client_id)
    if kind not in Message.Kind.values or kind == Message.Kind.SYSTEM:
        raise DomainError(_("Unknown message kind."), fields={"kind": [_("Invalid.")]})
    if (kind in (Message.Kind.IMAGE, Message.Kind.VIDEO)) != (media is not None):
        raise DomainError(
            _("Image and video messages are sent with their file."),
            fields={"file": [_("Required.")]},
        )
    # The room lock serialises every send in the room: seq stays gap-free and two
    # concurrent sends with one client_id cannot both pass the duplicate check.
    return _send_in_locked_room(
        room=_lock_room(membership.room_id),
        user_id=membership.user_id,
        body=body,
        client_id=client_id,
        reply_to_id=reply_to_id,
        kind=kind,
        enforce_limits=enforce_limits,
        media=media,
        attach=attach,
        rate=rate,
    )


def _send_in_locked_room(
    *,
    room: Room,
    user_id: int,
    body: str,
    client_id: str,
    reply_to_id: int | None,
    kind: str = Message.Kind.TEXT,
    enforce_limits: bool = True,
    media: MediaAsset | None = None,
    attach: Callable[[Message], None] | None = None,
    members: _BatchMemberships | None = None,
    rate: "_RateCount | None" = None,
) -> SentMessage:
    """Re-read the member under ``room``'s lock (a batch read them all: ``members``),
    check, then write. Every refusal is raised before the first write (a batch goes on
    after one: ``check_send_messages``)."""
    if members is None:
        membership = _fresh_membership(room=room, user_id=user_id, for_send=client_id)
    else:
        membership = members.for_send(user_id=user_id, client_id=client_id)
    if membership.duplicate_id is not None:
        return SentMessage(message=Message.objects.get(pk=membership.duplicate_id), created=False)
    ensure_can_post(membership=membership, room=room)
    reply_to = None
    if reply_to_id is not None:
        reply_to = (
            Message.objects.select_related("author")
            .filter(pk=reply_to_id, room=room, deleted_at__isnull=True)
            .first()
        )
        if reply_to is None:
            raise DomainError(
                _("You can only reply to a message in this room that was not deleted."),
                fields={"reply_to": [_("Not found in this room.")]},
            )
    if enforce_limits:
        _check_slow_mode(membership=membership, room=room)
        _check_rate_limit(user_id=membership.user_id, rate=rate)
    message = do_send_message(
        room=room,
        membership=membership,
        body=body,
        client_id=client_id,
        reply_to=reply_to,
        kind=kind,
        media=media,
        attach=attach,
    )
    if members is not None:
        members.sent(message)
    return SentMessage(message=message, created=True)


@dataclass(frozen=True)
class PendingSend:
    """One member's text message waiting to be sent (``check_send_messages``)."""

    membership: Membership
    body: str
    client_id: str = ""
    reply_to_id: int | None = None
    # The language its refusal is worded in (the sender's); None: the active one.
    language: str | None = None


def check_send_messages(*, sends: Sequence[PendingSend]) -> list[SentMessage | Exception]:
    """Text messages of several members of ONE room, each sent as
    :func:`check_send_message` would send it, in order, with ONE transaction and room
    lock for all: group commit for a busy room (the chat socket's sends that waited for
    their room's lane, config/db_lanes.py). Each send gets its result or its refusal;
    a refusal does not stop the others (every refusal comes before a send's first write).
    Any other error rolls the whole batch back, and each send is then made on its own,
    so one failing send fails alone.

    Every send's flood and rate counters and the screening rules are counted and read
    in one round trip for the batch; a send refused before its rate check (or a retry of
    a stored one) is taken back from its rate count, as if it had never been counted."""
    results: list[SentMessage | Exception | None] = [None] * len(sends)
    eligible: list[tuple[int, PendingSend, Membership, str]] = []
    for index, send in enumerate(sends):
        with in_language(send.language):
            try:
                body = _clean_body(send.body)
                membership = _screening_membership(send.membership)
                ensure_can_post(membership=membership, room=membership.room)
            except Exception as error:  # the caller raises it, as check_send_message would
                results[index] = error
                continue
        eligible.append((index, send, membership, body))
    if not eligible:
        return results
    counted = _count_batch([membership for _, _, membership, _ in eligible])
    screened: list[tuple[int, PendingSend, str, str, _RateCount]] = []
    rates = []
    for (index, send, membership, body), (flood, found, rate) in zip(
        eligible, counted, strict=True
    ):
        rates.append(rate)
        with in_language(send.language):
            try:
                verdict = screen_message(
                    room=membership.room, membership=membership, body=body, counted=(flood, found)
                )
                if not verdict.allowed:
                    refuse_filtered(membership=membership, body=body, verdict=verdict)
                client_id = _clean_client_id(send.client_id)
            except Exception as error:
                results[index] = error
                continue
        screened.append((index, send, body, client_id, rate))
    try:
        if len(screened) > 1 and _send_batch(screened, results):
            return results
        for index, send, body, client_id, rate in screened:
            rate.used = False  # counted once, whether or not the failed batch got there
            with in_language(send.language):
                try:
                    results[index] = _check_send_message_locked(
                        membership=send.membership,
                        body=body,
                        client_id=client_id,
                        reply_to_id=send.reply_to_id,
                        rate=rate,
                    )
                except Exception as error:
                    results[index] = error
        return results
    finally:
        _give_back_unused_rate_counts(rates)


def _send_batch(screened, results: list) -> bool:
    """The screened sends in one transaction (``check_send_messages``); False when it
    rolled back (each is then sent alone)."""
    committed = False

    def mark_committed() -> None:
        nonlocal committed
        committed = True

    try:
        with transaction.atomic():
            transaction.on_commit(mark_committed)  # the first hook after the commit
            first = screened[0][1]
            room = _lock_room(first.membership.room_id)
            members = _BatchMemberships(
                room=room,
                sends=[
                    (send.membership.user_id, client_id) for _, send, _, client_id, _ in screened
                ],
            )
            for index, send, body, client_id, rate in screened:
                with in_language(send.language):
                    try:
                        results[index] = _send_in_locked_room(
                            room=room,
                            user_id=send.membership.user_id,
                            body=body,
                            client_id=client_id,
                            reply_to_id=send.reply_to_id,
                            members=members,
                            rate=rate,
                        )
                    except DomainError as error:
                        results[index] = error
        return True
    except Exception:
        if committed:  # written; a hook after the commit failed: never send twice
            raise
        logger.warning("a batch of %s sends failed; sending each alone", len(screened))
        return False


@dataclass
class _RateCount:
    """A send's count against ``CHAT_SEND_RATE``, counted ahead with its screening."""

    user_id: int
    counted: WindowCount
    used: bool = False  # the send reached its rate check (refused there or not)


def _rate_name(user_id: int) -> str:
    return f"chat-rate:{user_id}"


def _count_batch(memberships: list[Membership]) -> list[tuple[int, dict | None, _RateCount]]:
    """For each send (its member's membership): its flood count (0 for a host), the
    screening rules' cache entries, and its rate count, in one round trip."""
    window = settings.CHAT_SEND_RATE[1]
    counters: list[tuple[str, int]] = []
    floods = []
    for membership in memberships:
        flood = flood_counter(membership=membership)
        floods.append(flood is not None)
        if flood is not None:
            counters.append(flood)
        counters.append((_rate_name(membership.user_id), window))
    counts, found = count_many_in_window_and_get(
        counters, keys=rules_cache_keys(room=memberships[0].room)
    )
    counted = iter(counts)
    return [
        (
            next(counted).count if has_flood else 0,
            found,
            _RateCount(user_id=membership.user_id, counted=next(counted)),
        )
        for membership, has_flood in zip(memberships, floods, strict=True)
    ]


def _give_back_unused_rate_counts(rates: list[_RateCount]) -> None:
    window = settings.CHAT_SEND_RATE[1]
    for rate in rates:
        if not rate.used:
            try:
                uncount_in_window(_rate_name(rate.user_id), window=window)
            except Exception:
                logger.warning("rate limit cache unavailable; a count not given back")


def do_send_message(
    *,
    room: Room,
    membership: Membership | None,
    body: str,
    client_id: str = "",
    reply_to: Message | None = None,
    kind: str = Message.Kind.TEXT,
    media: MediaAsset | None = None,
    attach: Callable[[Message], None] | None = None,
) -> Message:
    """Write the message with the next seq; ``room`` must be locked by the caller.

    ``attach(message)`` writes the rows of a poll or meetup that point at the new
    message, in this transaction, before its payload is built: ``message.created``
    carries them (features above chat pass it; chat imports none of them)."""
    room.last_message_seq += 1
    room.last_activity_at = timezone.now()
    message = Message(
        room=room,
        author=membership,
        body=body,
        client_id=client_id,
        reply_to=reply_to,
        kind=kind,
        media=media,
        seq=room.last_message_seq,
    )
    # Sending means the author has seen the room: their own messages never count as
    # unread (unread = last_message_seq - last_read_seq stays exact).
    db = router.db_for_write(Message)
    if membership is not None and hasattr(connections[db], "server_bound_cursor"):
        marker_moved = _write_in_one_statement(room=room, message=message, author=membership, db=db)
    else:
        room.save(update_fields=list(_ROOM_SEND_FIELDS))
        message.save(force_insert=True, using=db)
        marker_moved = membership is not None and Membership.objects.filter(
            pk=membership.pk, last_read_seq__lt=message.seq
        ).update(last_read_seq=message.seq)
    # The author and reply are already in memory: no extra query for the payload.
    message.room = room
    message.author = membership
    if attach is not None:
        attach(message)
    if marker_moved:
        mark_room_notifications_read(membership=membership, seq=message.seq)
        # Earlier messages the author had not read yet now count one reader more; a
        # caught-up author changes no count, so the common send announces nothing (the
        # in-memory marker may only be older than the row: at worst one announcement
        # too many).
        announce_reads = membership.last_read_seq < message.seq - 1
        membership.last_read_seq = message.seq
    else:
        announce_reads = False
    message.mention_list = record_message_mentions(message=message)
    metrics.message_sent_on_commit(kind=kind)
    events.send_on_commit(room.group_name, events.message_created(message=message_payload(message)))
    if announce_reads:
        # After message.created, so clients count the new message before the new counts.
        read_marker_moved(room_id=room.pk)
    return message


# What a send changes on its room (the seq and the activity time).
_ROOM_SEND_FIELDS = frozenset({"last_message_seq", "last_activity_at"})


@functools.cache
def _send_statement(db: str) -> tuple[tuple, str]:
    """The SQL of :func:`_write_in_one_statement` and the message's fields in the order
    of its INSERT's placeholders (the primary key left to the database), built once per
    process: the statement's text is fixed, so PostgreSQL prepares it once per connection."""
    quote = connections[db].ops.quote_name
    room_meta, member_meta = Room._meta, Membership._meta
    fields = tuple(field for field in Message._meta.concrete_fields if not field.primary_key)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    seq = quote(room_meta.get_field("last_message_seq").column)
    activity = quote(room_meta.get_field("last_activity_at").column)
    read = quote(member_meta.get_field("last_read_seq").column)
    # Only names from the models' metadata are formatted in; every value is a parameter.
    sql = (
        f"WITH r AS (UPDATE {quote(room_meta.db_table)} SET {seq} = %s, {activity} = %s "  # noqa: S608
        f"WHERE {quote(room_meta.pk.column)} = %s), "
        f"m AS (INSERT INTO {quote(Message._meta.db_table)} ({columns}) "
        f"VALUES ({placeholders}) RETURNING {quote(Message._meta.pk.column)}), "
        f"k AS (UPDATE {quote(member_meta.db_table)} SET {read} = %s "
        f"WHERE {quote(member_meta.pk.column)} = %s AND {read} < %s RETURNING 1) "
        f"SELECT (SELECT {quote(Message._meta.pk.column)} FROM m), (SELECT count(*) FROM k)"
    )
    return fields, sql


def _write_in_one_statement(*, room: Room, message: Message, author: Membership, db: str) -> bool:
    """The room's seq UPDATE, the message's INSERT and the author's read-marker UPDATE
    as ONE statement (PostgreSQL; PostgreSQL runs every data-modifying WITH once, in one
    snapshot), on a server-bound cursor: one round trip and no ORM query building instead
    of three. The room is locked by the caller, so its seq is the one in memory. The
    model signals the ORM's two saves send are sent as they would be (the history
    cache's version, read-your-own-writes, a link preview queued). True when the
    author's marker moved."""
    connection = connections[db]
    fields, sql = _send_statement(db)
    room_fields = _ROOM_SEND_FIELDS
    pre_save.send(sender=Room, instance=room, raw=False, using=db, update_fields=room_fields)
    pre_save.send(sender=Message, instance=message, raw=False, using=db, update_fields=None)
    params = [
        room.last_message_seq,
        Room._meta.get_field("last_activity_at").get_db_prep_save(
            room.last_activity_at, connection
        ),
        room.pk,
    ]
    # As Django's INSERT writes them (``auto_now_add`` filled in on the instance too).
    params += [
        field.get_db_prep_save(field.pre_save(message, True), connection) for field in fields
    ]
    params += [message.seq, author.pk, message.seq]
    with connection.server_bound_cursor() as cursor:
        cursor.execute(sql, params)
        message.pk, moved = cursor.fetchone()
    message._state.adding = False
    message._state.db = db
    room._state.db = db
    post_save.send(
        sender=Room, instance=room, created=False, update_fields=room_fields, raw=False, using=db
    )
    post_save.send(
        sender=Message, instance=message, created=True, update_fields=None, raw=False, using=db
    )
    return bool(moved)


def send_message(
    *, membership: Membership, body: str, client_id: str = "", reply_to_id: int | None = None
) -> Message:
    """A trusted send without the per-user limits (seeding, imports)."""
    return check_send_message(
        membership=membership,
        body=body,
        client_id=client_id,
        reply_to_id=reply_to_id,
        enforce_limits=False,
    ).message


@transaction.atomic
def send_system_message(*, room_id: int, body: str) -> Message:
    room = Room.objects.select_for_update().get(pk=room_id)
    return do_send_message(room=room, membership=None, body=body, kind=Message.Kind.SYSTEM)


# --- editing and deleting -------------------------------------------------------------


EDITABLE_KINDS = frozenset({Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.VIDEO})


@transaction.atomic
def edit_message(*, user_id: int, message_id: int, body: str) -> Message:
    """Only the author edits; the previous body is kept in the edit history."""
    body = _clean_body(body)
    message, room = _load_message_for_update(message_id)
    membership = _membership_for_message(room=room, user_id=user_id)
    ensure_can_post(membership=membership, room=room)
    if message.author_id != membership.pk:
        raise PermissionDeniedError(_("Only the author can edit a message."))
    if message.is_deleted:
        raise DomainError(_("A deleted message cannot be edited."), code="deleted")
    if message.kind not in EDITABLE_KINDS:
        # A poll's question, a meetup's or a tip's line are the feature's own record
        # (a tip's amount, a vote's question): changing them under the votes is a lie.
        raise DomainError(_("This message cannot be edited."), code="not_editable")
    if message.body == body:
        return message
    # An edit passes the same word, pattern and link rules as a new message (an edit
    # cannot wait for review, so a hold rule refuses it too).

    verdict = screen_message(room=room, membership=membership, body=body, count_flood=False)
    if not verdict.allowed:
        raise MessageFilteredError(FilterVerdict(BLOCK, verdict.rule_kind))
    MessageEdit.objects.create(message=message, previous_body=message.body)
    message.body = body
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "edited_at"])
    events.send_on_commit(
        room.group_name, events.message_updated(message=message_payload_by_id(message.pk))
    )
    return message


@transaction.atomic
def delete_message(*, user_id: int, message_id: int) -> Message:
    """The author or a room host deletes; the row stays as a tombstone (order kept)."""
    message, room = _load_message_for_update(message_id)
    membership = _membership_for_message(room=room, user_id=user_id)
    if membership.state != Membership.State.ACTIVE:
        raise PermissionDeniedError(_("You are not a member of this room."), code="not_member")
    if not access.can_delete_message(membership=membership, author_id=message.author_id):
        raise PermissionDeniedError(_("Only the author or a host can delete a message."))
    if message.is_deleted:
        return message
    # A host removing someone else's message is a moderation action: audited.
    by = None if message.author_id == membership.pk else REMOVED_BY_HOST
    return remove_message(room=room, message=message, actor=membership.user, by=by)


REMOVED_BY_HOST = "host"
REMOVED_BY_MODERATOR = "moderator"


def remove_message(
    *,
    room: Room,
    message: Message,
    actor: User,
    by: str | None,
    reason: str = "",
    case=None,
) -> Message:
    """The one way a message is deleted or hidden, whoever does it: the row stays as a
    tombstone (order kept), its notifications are withdrawn and every socket gets
    ``message.deleted``. ``by`` (``"host"`` or ``"moderator"``) marks a removal of
    someone else's message: it is audited as ``hide_message`` (with the moderation
    ``case`` and ``reason`` when there are). A notice pinned from the message goes with
    it (``room.announcement`` with null). The caller holds the room and message locks
    inside its transaction (the author's delete, a host's delete, moderation's hide)."""
    if message.deleted_at is None:
        message.deleted_at = timezone.now()
        message.save(update_fields=["deleted_at"])
        withdraw_message_notifications(message=message)
        sent = [
            events.message_deleted(
                room_id=room.pk,
                message_id=message.pk,
                seq=message.seq,
                deleted_at=message.deleted_at.isoformat(),
            )
        ]
        # A message pinned as the room's notice takes the notice with it: its text must
        # not stay on show once it is deleted or hidden.
        if RoomAnnouncement.objects.filter(room_id=room.pk, message_id=message.pk).delete()[0]:
            sent.append(events.room_announcement(room_id=room.pk, announcement=None))
        events.send_on_commit(room.group_name, *sent)
    if by is not None:
        AuditLogEntry.objects.record(
            actor=actor,
            action=AuditLogEntry.Action.HIDE_MESSAGE,
            target_type="message",
            target_id=message.pk,
            target_repr=f"message {message.pk} in room {room.pk}: {message.body[:120]}",
            subject_id=message.author.user_id if message.author else None,
            room_id=room.pk,
            case=case,
            reason=reason,
            details={"by": by},
        )
    return message


# --- read markers, typing, removal ------------------------------------------------------


def mark_read(*, membership: Membership, seq: int) -> int:
    """Move the read marker forward (never back, never past the last message)."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise DomainError(_("seq must be a non-negative integer."), fields={"seq": [_("Invalid.")]})
    last_seq = (
        Room.objects.filter(pk=membership.room_id)
        .values_list("last_message_seq", flat=True)
        .first()
    )
    seq = min(seq, last_seq or 0)
    moved = Membership.objects.filter(
        pk=membership.pk, state=Membership.State.ACTIVE, last_read_seq__lt=seq
    ).update(last_read_seq=seq)
    if moved:
        mark_room_notifications_read(membership=membership, seq=seq)
        broadcast_unread(user_id=membership.user_id)
        read_marker_moved(room_id=membership.room_id)
    return seq


def notify_typing(*, membership: Membership) -> bool:
    """Broadcast that ``membership`` is typing, at most once per throttle window."""
    if membership.muted_until and membership.muted_until > timezone.now():
        return False
    try:
        first = cache.add(f"chat-typing:{membership.pk}", 1, TYPING_THROTTLE_SECONDS)
    except Exception:
        first = True
    if not first:
        return False
    events.send_on_commit(
        f"room.{membership.room_id}",
        events.typing(
            room_id=membership.room_id, membership_id=membership.pk, nickname=membership.nickname
        ),
    )
    return True


MESSAGE_KIND_BY_MEDIA_KIND = {
    MediaAsset.Kind.IMAGE: Message.Kind.IMAGE,
    MediaAsset.Kind.VIDEO: Message.Kind.VIDEO,
}


# --- Image and video messages: the same pipeline, with an asset -------------------------


def send_media_message(
    *,
    membership: Membership,
    file,
    body: str = "",
    client_id: str = "",
    reply_to_id: int | None = None,
):
    """An image/video message: it appears at once (``message.created``, media pending),
    and the room gets ``message.updated`` with the thumbnails when processing is done.

    Goes through chat's ``check_send_message`` (membership, mute, slow mode, rate limit,
    ``client_id`` de-duplication, the room lock and seq), so it is the same message
    with the same broadcast as a text one. Returns chat's ``SentMessage``.
    """

    client_id = (client_id or "").strip()
    if client_id:
        # A retried send: answer with the stored message before storing the file again.
        existing = Message.objects.filter(author=membership, client_id=client_id).first()
        if existing is not None:
            return SentMessage(message=existing, created=False)
    media_type = media_services.check_upload(file=file)
    # The same screening as a text message, before any transaction opens: a flood mute
    # and a held message are committed even though this send is refused.
    verdict = screen_send(membership=membership, body=body)
    if not verdict.allowed and verdict.action != HOLD:
        raise filtered_error(membership=membership, body=body, verdict=verdict)
    asset = media_services.new_asset(
        file=file, media_type=media_type, owner_id=membership.user_id, room=membership.room
    )
    file.seek(0)
    asset.original_name = media_services.media_storage().save(
        f"{asset.storage_prefix}/upload.{media_type.extension}", File(file)
    )
    held = None
    try:
        with transaction.atomic():
            asset.save()
            if verdict.allowed:
                sent = check_send_message(
                    membership=membership,
                    body=body,
                    client_id=client_id,
                    reply_to_id=reply_to_id,
                    kind=MESSAGE_KIND_BY_MEDIA_KIND[asset.kind],
                    media=asset,
                    screened=True,
                )
                if not sent.created:  # lost a race with the same client_id
                    raise _DuplicateSend(sent)
            else:  # held: the hosts review it with its file
                held = filtered_error(
                    membership=membership, body=body, verdict=verdict, media=asset
                )
            media_services.queue_processing(asset_id=asset.pk)
    except _DuplicateSend as duplicate:
        media_services.media_storage().delete(asset.original_name)
        return duplicate.sent
    except Exception:
        media_services.media_storage().delete(asset.original_name)
        raise
    if held is not None:
        raise held
    return sent


def send_uploaded_media_message(
    *,
    membership: Membership,
    asset_id: int,
    body: str = "",
    client_id: str = "",
    reply_to_id: int | None = None,
):
    """The second step of the two-step flow (``POST /uploads/`` first, e.g. with a
    progress bar and retries on a phone): a message showing an asset the sender
    uploaded. The asset joins the room, so a private room's rules then apply to it.
    Screened like any message before the transaction; a held one keeps its asset."""

    verdict = screen_send(membership=membership, body=body)
    if not verdict.allowed and verdict.action != HOLD:
        raise filtered_error(membership=membership, body=body, verdict=verdict)
    held = None
    try:
        with transaction.atomic():
            # Room first, then the asset: the order every room write takes.
            room = Room.objects.select_for_update().get(pk=membership.room_id)
            asset = (
                MediaAsset.objects.select_for_update()
                .filter(pk=asset_id, owner_id=membership.user_id)
                .first()
            )
            if asset is None:
                raise NotFoundError(
                    _("No such upload."), fields={"media_id": [_("Unknown upload.")]}
                )
            if asset.state == MediaAsset.State.FAILED:
                raise DomainError(
                    _("This upload could not be processed: %(reason)s")
                    % {"reason": asset.failure_reason},
                    fields={"media_id": [asset.failure_reason]},
                )
            media_services.bind_to_room(asset=asset, room=room)
            if not verdict.allowed:  # held: the hosts review it with its file
                held = filtered_error(
                    membership=membership, body=body, verdict=verdict, media=asset
                )
            else:
                sent = check_send_message(
                    membership=membership,
                    body=body,
                    client_id=client_id,
                    reply_to_id=reply_to_id,
                    kind=MESSAGE_KIND_BY_MEDIA_KIND[asset.kind],
                    media=asset,
                    screened=True,
                )
                if not sent.created:
                    raise _DuplicateSend(sent)  # undo the asset's move into the room
    except _DuplicateSend as duplicate:
        return duplicate.sent
    if held is not None:
        raise held
    return sent


class _DuplicateSend(Exception):
    """Rolls back the asset row when the message already existed."""

    def __init__(self, sent):
        super().__init__("duplicate send")
        self.sent = sent


def announce_media_change(sender, *, asset: MediaAsset, **kwargs) -> None:
    """``media_changed``: the rooms showing ``asset`` in a message get ``message.updated``
    (after the commit of the transaction that changed it)."""
    message_rows = Message.objects.filter(media=asset, deleted_at__isnull=True).values_list(
        "pk", "room_id"
    )
    for message_id, room_id in message_rows:
        events.send_on_commit(
            f"room.{room_id}", events.message_updated(message=message_payload_by_id(message_id))
        )


# --- tips in the chat -----------------------------------------------------------------

TIP_NOTE_MAX_LENGTH = 140


def check_tip_note(*, room_id: int, user_id: int, note: str) -> str:
    """The note a tipper shows with a tip in the room, cleaned and screened by the
    room's word and pattern rules (before any money moves). Raises the send's refusals:
    not a member, muted, or a note a rule blocks or would hold."""
    note = " ".join((note or "").split())
    if len(note) > TIP_NOTE_MAX_LENGTH:
        raise DomainError(
            _("A note can be at most %(count)s characters.") % {"count": TIP_NOTE_MAX_LENGTH},
            fields={"note": [_("Too long.")]},
        )
    room = Room.objects.get(pk=room_id)
    membership = _fresh_membership(room=room, user_id=user_id)
    ensure_can_post(membership=membership, room=room)
    if note:
        verdict = screen_message(room=room, membership=membership, body=note, count_flood=False)
        if not verdict.allowed:
            # A note is never held for review: the tip cannot wait for a host.
            raise MessageFilteredError(FilterVerdict(BLOCK, verdict.rule_kind))
    return note


@transaction.atomic
def post_tip_message(
    *,
    room_id: int,
    tipper_membership_id: int,
    tip_key: str,
    note: str = "",
    reply_to_id: int | None = None,
) -> Message | None:
    """The chat's record of a tip: a ``tip`` message by the tipper (``note`` its body,
    ``reply_to_id`` the message tipped), shown to the room as ``message.created``.

    Called after the payment committed; the payment is not undone when the room can no
    longer take the message (the tipper left, the room closed): None then. ``tip_key``
    (the payer's stable id for the tip) makes it the message's ``client_id``, so a
    second call returns the first message, and the feature that owns the tip finds its
    row from the message (``register_payload_part``). No slow mode or rate limit: the
    tip's own limits applied to the payment.
    """
    room = Room.objects.select_for_update().get(pk=room_id)
    tipper = (
        Membership.objects.select_related("user", "avatar_media")
        .filter(pk=tipper_membership_id, room=room, state=Membership.State.ACTIVE)
        .first()
    )
    if tipper is None or room.is_suspended or room.is_archived:
        return None
    tipper.room = room
    client_id = _clean_client_id(tip_key)
    existing = Message.objects.filter(author=tipper, client_id=client_id).first()
    if existing is not None:
        # Posted before; a client's own message under that id is never taken for it.
        return existing if existing.kind == Message.Kind.TIP else None
    reply_to = None
    if reply_to_id is not None:
        reply_to = (
            Message.objects.select_related("author")
            .filter(pk=reply_to_id, room=room, deleted_at__isnull=True)
            .first()
        )
    return do_send_message(
        room=room,
        membership=tipper,
        body=_clean_body(note, required=False),
        client_id=client_id,
        reply_to=reply_to,
        kind=Message.Kind.TIP,
    )
