"""Writes for meetups: create (the message and the meetup in one transaction), answer
(going, maybe, not going; a full meetup puts "going" on its waitlist, moved up first
come first served when a seat frees), and remind those going before it starts.

Every change to the counts is sent to the room as ``meetup.updated`` on commit (counts
only; who answered is read by room nickname from the selectors).
"""

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from community import access, events
from community.chat import services as chat_services
from community.chat.models import Message
from community.chat.screening import BLOCK, FilterVerdict, MessageFilteredError
from community.meetups.models import Meetup, MeetupRsvp
from community.meetups.selectors import meetup_counts, meetups_due_for_reminder
from community.notifications.services import notify_meetup_reminder
from community.rooms.models import Membership
from config.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError

Status = MeetupRsvp.Status
TITLE_MAX_LENGTH = 200
PLACE_MAX_LENGTH = 200
LINK_MAX_LENGTH = 500
MAX_CAPACITY = 10_000
MAX_DAYS_AHEAD = 366
MAX_LENGTH = timedelta(days=7)
ANSWERS = (Status.GOING, Status.MAYBE, Status.NOT_GOING)
_COUNTER = {
    Status.GOING: "going_count",
    Status.MAYBE: "maybe_count",
    Status.NOT_GOING: "not_going_count",
    Status.WAITLISTED: "waitlist_count",
}


# --- validation -----------------------------------------------------------------------


def _clean_text(value, *, field: str, max_length: int, required: bool = False) -> str:
    text = (value if isinstance(value, str) else "").replace("\x00", "").strip()
    if required and not text:
        raise DomainError(_("This field is required."), fields={field: [_("Required.")]})
    if len(text) > max_length:
        raise DomainError(
            _("At most %(max)s characters.") % {"max": max_length},
            code="too_long",
            fields={field: [_("Too long.")]},
        )
    return text


def _clean_time_zone(name: str, *, default: str) -> str:
    name = (name or "").strip() or default or "UTC"
    if name not in zoneinfo.available_timezones():
        raise DomainError(_("Unknown time zone."), fields={"time_zone": [_("Invalid.")]})
    return name


def _clean_times(starts_at, ends_at, *, zone: str) -> tuple[datetime, datetime | None]:
    """A time without an offset is a wall-clock time in the meetup's zone (a form's
    "19:00" in Seoul)."""
    cleaned = []
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and not isinstance(value, datetime):
            raise DomainError(_("Give a date and time."), fields={field: [_("Invalid.")]})
        if value is not None and timezone.is_naive(value):
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
        cleaned.append(value)
    starts_at, ends_at = cleaned
    if starts_at is None:
        raise DomainError(_("This field is required."), fields={"starts_at": [_("Required.")]})
    now = timezone.now()
    if starts_at <= now:
        raise DomainError(
            _("A meetup starts in the future."), fields={"starts_at": [_("In the past.")]}
        )
    if starts_at > now + timedelta(days=MAX_DAYS_AHEAD):
        raise DomainError(
            _("A meetup starts within a year."), fields={"starts_at": [_("Too far ahead.")]}
        )
    if ends_at is not None and not starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise DomainError(
            _("A meetup ends after it starts, within a week."),
            fields={"ends_at": [_("Invalid.")]},
        )
    return starts_at, ends_at


def _clean_link(link) -> str:
    link = _clean_text(link, field="link", max_length=LINK_MAX_LENGTH)
    if link:
        try:
            URLValidator(schemes=["http", "https"])(link)
        except ValidationError:
            raise DomainError(
                _("Enter a web address (http or https)."), fields={"link": [_("Invalid.")]}
            ) from None
    return link


def _clean_capacity(capacity) -> int | None:
    if capacity is None:
        return None
    if not isinstance(capacity, int) or isinstance(capacity, bool):
        raise DomainError(_("Capacity is a number."), fields={"capacity": [_("Invalid.")]})
    if not 1 <= capacity <= MAX_CAPACITY:
        raise DomainError(
            _("Capacity is between 1 and %(max)s.") % {"max": MAX_CAPACITY},
            fields={"capacity": [_("Invalid.")]},
        )
    return capacity


# --- creating -------------------------------------------------------------------------


def create_meetup(
    *,
    user,
    room_id: int,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    time_zone: str = "",
    place: str = "",
    link: str = "",
    capacity: int | None = None,
    client_id: str = "",
    reply_to_id: int | None = None,
) -> chat_services.SentMessage:
    """A meetup message, through chat's one send pipeline (membership, mute, slow mode,
    rate limit, ``client_id``, the room lock), with the meetup written in the same
    transaction so ``message.created`` carries it. ``time_zone`` defaults to the
    creator's own."""
    title = _clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, required=True)
    time_zone = _clean_time_zone(time_zone, default=getattr(user, "timezone", "UTC"))
    starts_at, ends_at = _clean_times(starts_at, ends_at, zone=time_zone)
    place = _clean_text(place, field="place", max_length=PLACE_MAX_LENGTH)
    link = _clean_link(link)
    capacity = _clean_capacity(capacity)
    membership = access.active_membership(room_id=room_id, user=user, related=("room", "user"))
    if membership is None:
        raise PermissionDeniedError(_("Only members can post in this room."), code="not_member")
    # The automatic rules on everything the room will read; an event cannot wait for
    # review, so a hold rule refuses it (as it refuses an edit).
    verdict = chat_services.screen_send(
        membership=membership, body="\n".join(text for text in (title, place, link) if text)
    )
    if not verdict.allowed:
        raise MessageFilteredError(FilterVerdict(BLOCK, verdict.rule_kind))

    def write_meetup(message: Message) -> None:
        Meetup.objects.create(
            message=message,
            starts_at=starts_at,
            ends_at=ends_at,
            time_zone=time_zone,
            place=place,
            link=link,
            capacity=capacity,
        )

    return chat_services.check_send_message(
        membership=membership,
        body=title,
        client_id=client_id,
        reply_to_id=reply_to_id,
        kind=Message.Kind.MEETUP,
        screened=True,
        attach=write_meetup,
    )


# --- answering ------------------------------------------------------------------------


def check_rsvp(*, user, meetup_id: int, status: str) -> tuple[Meetup, Membership]:
    """Validate and lock: the meetup row (every answer to it is serialised, so the
    counts and the waitlist stay exact) and the member's standing."""
    if status not in ANSWERS:
        raise DomainError(
            _("Answer going, maybe or not going."), fields={"status": [_("Invalid.")]}
        )
    meetup = Meetup.objects.select_for_update().filter(pk=meetup_id).first()
    message = (
        Message.objects.select_related("room").filter(pk=meetup.message_id).first()
        if meetup is not None
        else None
    )
    if message is None or message.is_deleted:
        raise NotFoundError(_("No such meetup."))
    meetup.message = message
    membership = access.active_membership(room_id=message.room_id, user=user)
    if membership is None:
        if access.room_is_hidden_from_non_members(message.room):
            raise NotFoundError(_("No such meetup."))
        raise PermissionDeniedError(_("Only members can answer."), code="not_member")
    if not access.can_take_part(message.room, membership=membership):
        raise PermissionDeniedError(_("This room is read-only."), code="room_closed")
    if meetup.starts_at <= timezone.now():
        raise ConflictError(_("This meetup has started."), code="meetup_started")
    return meetup, membership


@transaction.atomic
def rsvp(*, user, meetup_id: int, status: str) -> MeetupRsvp:
    """Answer going, maybe or not going (again: the answer changes). "Going" to a full
    meetup is put on its waitlist; leaving "going" moves the waitlist's first up."""
    meetup, membership = check_rsvp(user=user, meetup_id=meetup_id, status=status)
    return do_rsvp(meetup=meetup, membership=membership, status=status)


def do_rsvp(*, meetup: Meetup, membership: Membership, status: str) -> MeetupRsvp:
    """Write the answer and the counts under the caller's meetup lock."""
    answer = MeetupRsvp.objects.filter(meetup=meetup, membership=membership).first()
    before = answer.status if answer is not None else None
    if status == Status.GOING and before in (Status.GOING, Status.WAITLISTED):
        return answer  # already going, or already waiting for a seat
    if status == before:
        return answer
    new = Status.WAITLISTED if status == Status.GOING and meetup.is_full else status
    if answer is None:
        answer = MeetupRsvp.objects.create(meetup=meetup, membership=membership, status=new)
    else:
        answer.status = new
        answer.save(update_fields=["status", "updated_at"])
    changed = {_COUNTER[new]}
    setattr(meetup, _COUNTER[new], getattr(meetup, _COUNTER[new]) + 1)
    if before is not None:
        setattr(meetup, _COUNTER[before], getattr(meetup, _COUNTER[before]) - 1)
        changed.add(_COUNTER[before])
    if before == Status.GOING:
        changed |= _move_waitlist_up(meetup)
    meetup.save(update_fields=sorted(changed))
    _announce(meetup)
    return answer


def _move_waitlist_up(meetup: Meetup) -> set[str]:
    """Free seats go to the waitlist in the order they asked."""
    changed: set[str] = set()
    while not meetup.is_full and meetup.waitlist_count:
        first = (
            MeetupRsvp.objects.select_for_update()
            .filter(meetup=meetup, status=Status.WAITLISTED)
            .order_by("updated_at", "id")
            .first()
        )
        if first is None:
            break
        first.status = Status.GOING
        first.save(update_fields=["status", "updated_at"])
        meetup.waitlist_count -= 1
        meetup.going_count += 1
        changed |= {"waitlist_count", "going_count"}
    return changed


def _announce(meetup: Meetup) -> None:
    message = meetup.message
    events.send_on_commit(
        f"room.{message.room_id}",
        events.meetup_updated(
            room_id=message.room_id,
            message_id=message.pk,
            meetup_id=meetup.pk,
            counts=meetup_counts(meetup),
            full=meetup.is_full,
        ),
    )


def release_departed_answers(*, membership: Membership) -> None:
    """A member who left (or was removed) holds no seat and no place on a waitlist of a
    meetup yet to start: their answers there are withdrawn and each waitlist moves up.
    Registered with ``community.rooms.services.register_departure_hook``; runs in the
    departure's transaction (the room locked, then the meetups, in ascending id)."""
    answers = {
        answer.meetup_id: answer
        for answer in MeetupRsvp.objects.filter(
            membership=membership, meetup__starts_at__gt=timezone.now()
        )
    }
    if not answers:
        return
    meetups = (
        Meetup.objects.select_for_update()
        .select_related("message")
        .filter(pk__in=answers)
        .order_by("id")
    )
    for meetup in meetups:
        answer = answers[meetup.pk]
        counter = _COUNTER[answer.status]
        setattr(meetup, counter, getattr(meetup, counter) - 1)
        changed = {counter}
        answer.delete()
        if answer.status == Status.GOING:
            changed |= _move_waitlist_up(meetup)
        meetup.save(update_fields=sorted(changed))
        if not meetup.message.is_deleted:
            _announce(meetup)


# --- reminding ------------------------------------------------------------------------


@transaction.atomic
def remind_meetup(*, meetup_id: int) -> int:
    """Notify the members going (or maybe going) to a meetup that starts soon; once per
    meetup (idempotent: ``reminded_at``). Returns how many were notified."""
    meetup = (
        Meetup.objects.select_for_update()
        .filter(pk=meetup_id, reminded_at__isnull=True, starts_at__gt=timezone.now())
        .first()
    )
    if meetup is None:
        return 0
    meetup.reminded_at = timezone.now()
    meetup.save(update_fields=["reminded_at"])
    message = Message.objects.select_related("room").get(pk=meetup.message_id)
    if message.is_deleted or message.room.is_suspended:
        return 0
    members = (
        Membership.objects.filter(
            meetup_rsvps__meetup=meetup,
            meetup_rsvps__status__in=[Status.GOING, Status.MAYBE],
            state=Membership.State.ACTIVE,
        )
        .select_related("room")
        .order_by("id")
    )
    sent = 0
    for membership in members:
        sent += bool(
            notify_meetup_reminder(
                membership=membership,
                message=message,
                starts_at=meetup.starts_at.isoformat(),
                title=message.body,
            )
        )
    return sent


def send_meetup_reminders() -> int:
    """Every meetup starting within ``MEETUP_REMINDER_MINUTES`` not reminded yet, each
    in its own transaction."""
    due = meetups_due_for_reminder(lead_minutes=settings.MEETUP_REMINDER_MINUTES)
    return sum(remind_meetup(meetup_id=meetup_id) for meetup_id in due)
