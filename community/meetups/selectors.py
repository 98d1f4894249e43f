"""Reads for meetups: the ``meetup`` part of the message payload, a room's upcoming
meetups, one meetup's RSVPs by room nickname, and its iCalendar file.

RSVPs show members by room nickname only, never an account.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from community.chat.models import Message
from community.chat.selectors import readable_room
from community.meetups.models import Meetup, MeetupRsvp
from community.rooms.models import Membership
from config.errors import NotFoundError

Status = MeetupRsvp.Status
UPCOMING_LIMIT = 20
# ``my_rsvp`` for a viewer who has not answered (null: no viewer, as in broadcasts).
NO_RSVP = "none"
# A meetup without an end time counts as upcoming until this long after its start.
UNTIMED_LENGTH = timedelta(hours=3)


def meetup_counts(meetup: Meetup) -> dict[str, int]:
    return {
        "going": meetup.going_count,
        "maybe": meetup.maybe_count,
        "not_going": meetup.not_going_count,
        "waitlisted": meetup.waitlist_count,
    }


def meetup_part(meetup: Meetup, *, my_rsvp: str | None) -> dict[str, Any]:
    """The ``meetup`` of a message payload; ``my_rsvp`` is None without a viewer."""
    return {
        "id": meetup.pk,
        "starts_at": meetup.starts_at.isoformat(),
        "ends_at": meetup.ends_at.isoformat() if meetup.ends_at else None,
        "time_zone": meetup.time_zone,
        "place": meetup.place,
        "link": meetup.link,
        "capacity": meetup.capacity,
        "counts": meetup_counts(meetup),
        "full": meetup.is_full,
        "my_rsvp": my_rsvp,
    }


def _my_rsvps(meetup_ids: list[int], viewer) -> dict[int, str] | None:
    if viewer is None or not viewer.is_authenticated:
        return None
    rows = MeetupRsvp.objects.filter(
        meetup_id__in=meetup_ids,
        membership__user_id=viewer.pk,
        membership__state=Membership.State.ACTIVE,
    ).values_list("meetup_id", "status")
    return dict(rows)


def load_meetup_parts(messages: list[Message], viewer) -> dict[int, dict[str, Any]]:
    """The payload part loader (``register_payload_part("meetup", ...)``): one query
    for a page's meetups, one more for the viewer's answers; none without meetups."""
    ids = [message.pk for message in messages if message.kind == Message.Kind.MEETUP]
    if not ids:
        return {}
    meetups = list(Meetup.objects.filter(message_id__in=ids))
    mine = _my_rsvps([meetup.pk for meetup in meetups], viewer)
    return {
        meetup.message_id: meetup_part(
            meetup, my_rsvp=None if mine is None else mine.get(meetup.pk, NO_RSVP)
        )
        for meetup in meetups
    }


def readable_meetup(*, meetup_id: int, user) -> Meetup:
    """The meetup (with its message and room) if ``user`` may read its room, else the
    answer a missing meetup gets (one in a room hidden from them is just as missing),
    or ``403 not_member`` in a room they can see but not read."""
    meetup = (
        Meetup.objects.select_related("message", "message__room", "message__author")
        .filter(pk=meetup_id)
        .first()
    )
    if meetup is None or meetup.message.is_deleted:
        raise NotFoundError(_("No such meetup."))
    try:
        readable_room(room_id=meetup.message.room_id, user=user)
    except NotFoundError:
        raise NotFoundError(_("No such meetup.")) from None
    return meetup


def meetup_payload(*, meetup_id: int, user) -> dict[str, Any]:
    """One meetup as ``user`` reads it (with their answer), and its message's title."""
    meetup = readable_meetup(meetup_id=meetup_id, user=user)
    mine = _my_rsvps([meetup.pk], user)
    return _listed(meetup, mine)


def _listed(meetup: Meetup, mine: dict[int, str] | None) -> dict[str, Any]:
    return {
        "message_id": meetup.message_id,
        "room_id": meetup.message.room_id,
        "title": meetup.message.body,
        **meetup_part(meetup, my_rsvp=None if mine is None else mine.get(meetup.pk, NO_RSVP)),
    }


def room_meetups(*, room_id: int, user, upcoming: bool = True) -> list[dict[str, Any]]:
    """The room's meetups: with ``upcoming``, those not over yet, soonest first; else
    the latest ones; at most ``UPCOMING_LIMIT``. Three queries."""
    room, _last_read = readable_room(room_id=room_id, user=user)
    meetups = Meetup.objects.filter(
        message__room_id=room.pk, message__deleted_at__isnull=True
    ).select_related("message")
    if upcoming:
        now = timezone.now()
        meetups = meetups.filter(
            Q(ends_at__gte=now) | Q(ends_at__isnull=True, starts_at__gte=now - UNTIMED_LENGTH)
        ).order_by("starts_at", "id")
    else:
        meetups = meetups.order_by("-starts_at", "-id")
    meetups = list(meetups[:UPCOMING_LIMIT])
    mine = _my_rsvps([meetup.pk for meetup in meetups], user)
    return [_listed(meetup, mine) for meetup in meetups]


def meetup_rsvps(*, meetup_id: int, user) -> list[dict[str, Any]]:
    """Who answered, by room nickname, with their answer: going first (in the order
    they answered), then the waitlist (its order), then maybe and not going."""
    meetup = readable_meetup(meetup_id=meetup_id, user=user)
    order = {Status.GOING: 0, Status.WAITLISTED: 1, Status.MAYBE: 2, Status.NOT_GOING: 3}
    rows = (
        MeetupRsvp.objects.filter(meetup=meetup)
        .order_by("updated_at", "id")
        .values_list("membership_id", "membership__nickname", "status")
    )
    answers = [
        {"membership_id": membership_id, "nickname": nickname, "status": status}
        for membership_id, nickname, status in rows
    ]
    return sorted(answers, key=lambda answer: order[answer["status"]])


def export_meetup_rsvps(user) -> list[dict[str, Any]]:
    """The user's answers to meetups for "export everything about me"."""
    rows = (
        MeetupRsvp.objects.filter(membership__user=user).select_related("membership").order_by("id")
    )
    return [
        {
            "meetup_id": answer.meetup_id,
            "status": answer.status,
            "as_nickname": answer.membership.nickname,
            "answered_at": answer.updated_at,
        }
        for answer in rows
    ]


def meetups_due_for_reminder(*, now: datetime | None = None, lead_minutes: int) -> list[int]:
    now = now or timezone.now()
    return list(
        Meetup.objects.filter(
            reminded_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=now + timedelta(minutes=lead_minutes),
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


# --- iCalendar (RFC 5545) ---------------------------------------------------------------


def _ics_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newlines escaped (3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (3.1), never inside a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        limit = 75 if not out else 74  # a continuation line starts with a space
        if len(current) + len(encoded) > limit:
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def meetup_ics(*, meetup_id: int, user) -> tuple[str, str]:
    """The meetup as an iCalendar file, and a file name for it. Times are in UTC
    (``Z``): every calendar shows them in its own zone."""
    meetup = readable_meetup(meetup_id=meetup_id, user=user)
    room = meetup.message.room
    site = settings.SITE_URL.rstrip("/")
    room_url = f"{site}/rooms/{room.pk}/"
    description = _("A meetup in %(room)s: %(url)s") % {"room": room.title, "url": room_url}
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Moim//Meetups//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:meetup-{meetup.pk}@{urlsplit(site).hostname or 'moim'}",
        f"DTSTAMP:{_ics_time(timezone.now())}",
        f"DTSTART:{_ics_time(meetup.starts_at)}",
    ]
    if meetup.ends_at:
        lines.append(f"DTEND:{_ics_time(meetup.ends_at)}")
    lines.append(f"SUMMARY:{_ics_text(meetup.message.body)}")
    if meetup.place:
        lines.append(f"LOCATION:{_ics_text(meetup.place)}")
    lines.append(f"URL:{meetup.link or room_url}")
    lines.append(f"DESCRIPTION:{_ics_text(description)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    body = "".join(f"{_fold(line)}\r\n" for line in lines)
    return body, f"meetup-{meetup.pk}.ics"
