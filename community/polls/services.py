"""Writes for polls: create (the message, the poll and its options in one
transaction), vote and change a vote until it closes, close early, close on time.

Every change to the tallies is sent to the room as ``poll.updated`` on commit; counts
only, so an anonymous poll never tells anyone who voted.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from community import access, events
from community.chat import services as chat_services
from community.chat.models import Message
from community.chat.screening import BLOCK, FilterVerdict, MessageFilteredError
from community.polls.models import Poll, PollOption, PollVote
from community.polls.selectors import poll_tallies, polls_due_to_close
from community.rooms.models import Membership
from config.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError

MIN_OPTIONS = 2
MAX_OPTIONS = 10
QUESTION_MAX_LENGTH = 300
OPTION_MAX_LENGTH = 100
# A closing time is at least a minute away and at most this far (Telegram: 10 minutes
# to 10 days; rooms plan further ahead).
MAX_OPEN_DAYS = 90


# --- validation -----------------------------------------------------------------------


def _clean_text(value, *, field: str, max_length: int) -> str:
    # NUL cannot be stored in a PostgreSQL text column.
    text = (value if isinstance(value, str) else "").replace("\x00", "").strip()
    if not text:
        raise DomainError(_("This field is required."), fields={field: [_("Required.")]})
    if len(text) > max_length:
        raise DomainError(
            _("At most %(max)s characters.") % {"max": max_length},
            code="too_long",
            fields={field: [_("Too long.")]},
        )
    return text


def _clean_options(options) -> list[str]:
    if not isinstance(options, list | tuple):
        raise DomainError(_("Options must be a list."), fields={"options": [_("Invalid.")]})
    cleaned = [
        _clean_text(option, field="options", max_length=OPTION_MAX_LENGTH) for option in options
    ]
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise DomainError(
            _("A poll has %(min)s to %(max)s options.") % {"min": MIN_OPTIONS, "max": MAX_OPTIONS},
            fields={"options": [_("Wrong number of options.")]},
        )
    if len({option.casefold() for option in cleaned}) != len(cleaned):
        raise DomainError(
            _("Each option must be different."), fields={"options": [_("Repeated option.")]}
        )
    return cleaned


def _clean_closes_at(closes_at: datetime | None) -> datetime | None:
    if closes_at is None:
        return None
    if timezone.is_naive(closes_at):
        raise DomainError(
            _("Give the closing time with its time zone."), fields={"closes_at": [_("Invalid.")]}
        )
    now = timezone.now()
    if closes_at < now + timedelta(minutes=1):
        raise DomainError(
            _("The closing time must be at least a minute from now."),
            fields={"closes_at": [_("Too soon.")]},
        )
    if closes_at > now + timedelta(days=MAX_OPEN_DAYS):
        raise DomainError(
            _("A poll can stay open at most %(days)s days.") % {"days": MAX_OPEN_DAYS},
            fields={"closes_at": [_("Too late.")]},
        )
    return closes_at


def _poster(*, room_id: int, user) -> Membership:
    membership = access.active_membership(room_id=room_id, user=user, related=("room", "user"))
    if membership is None:
        # The answer a message sent here gets (community.chat.api).
        raise PermissionDeniedError(_("Only members can post in this room."), code="not_member")
    return membership


def _screen(*, membership: Membership, texts: list[str]) -> None:
    """The automatic rules on the question and every option, before any transaction (a
    flood mute is committed whatever happens). A poll cannot wait for review: a hold
    rule refuses it, as it refuses an edit."""
    verdict = chat_services.screen_send(membership=membership, body="\n".join(texts))
    if not verdict.allowed:
        raise MessageFilteredError(FilterVerdict(BLOCK, verdict.rule_kind))


# --- creating -------------------------------------------------------------------------


def create_poll(
    *,
    user,
    room_id: int,
    question: str,
    options: list[str],
    allows_multiple: bool = False,
    is_anonymous: bool = True,
    closes_at: datetime | None = None,
    client_id: str = "",
    reply_to_id: int | None = None,
) -> chat_services.SentMessage:
    """A poll message: the message (through chat's one send pipeline: membership, mute,
    slow mode, rate limit, ``client_id``, the room lock) with the poll and its options
    written in the same transaction, so ``message.created`` carries the poll."""
    question = _clean_text(question, field="question", max_length=QUESTION_MAX_LENGTH)
    option_texts = _clean_options(options)
    closes_at = _clean_closes_at(closes_at)
    membership = _poster(room_id=room_id, user=user)
    _screen(membership=membership, texts=[question, *option_texts])

    def write_poll(message: Message) -> None:
        do_create_poll(
            message=message,
            options=option_texts,
            allows_multiple=bool(allows_multiple),
            is_anonymous=bool(is_anonymous),
            closes_at=closes_at,
        )

    return chat_services.check_send_message(
        membership=membership,
        body=question,
        client_id=client_id,
        reply_to_id=reply_to_id,
        kind=Message.Kind.POLL,
        screened=True,
        attach=write_poll,
    )


def do_create_poll(
    *,
    message: Message,
    options: list[str],
    allows_multiple: bool,
    is_anonymous: bool,
    closes_at: datetime | None,
) -> Poll:
    """Write the poll of a new poll message, inside the send's transaction."""
    poll = Poll.objects.create(
        message=message,
        allows_multiple=allows_multiple,
        is_anonymous=is_anonymous,
        closes_at=closes_at,
    )
    PollOption.objects.bulk_create(
        PollOption(poll=poll, position=position, text=text) for position, text in enumerate(options)
    )
    return poll


# --- voting ---------------------------------------------------------------------------


def _locked_poll(*, poll_id: int, user) -> tuple[Poll, Membership | None]:
    """The poll, row-locked (every vote on it is serialised, so the counters stay
    exact), and the user's active membership in its room. A poll in a room the user
    cannot see, or of a deleted message, is missing."""
    poll = Poll.objects.select_for_update().filter(pk=poll_id).first()
    message = (
        Message.objects.select_related("room", "author").filter(pk=poll.message_id).first()
        if poll is not None
        else None
    )
    if message is None or message.is_deleted:
        raise NotFoundError(_("No such poll."))
    poll.message = message
    membership = access.active_membership(room_id=message.room_id, user=user)
    if membership is None and access.room_is_hidden_from_non_members(message.room):
        raise NotFoundError(_("No such poll."))
    if membership is not None:
        Membership.room.field.set_cached_value(membership, message.room)
    return poll, membership


def _clean_choice(poll: Poll, option_ids) -> tuple[list[PollOption], set[int]]:
    options = list(PollOption.objects.filter(poll=poll).order_by("position"))
    if not isinstance(option_ids, list | tuple) or not all(
        isinstance(each, int) and not isinstance(each, bool) for each in option_ids
    ):
        raise DomainError(_("Options must be a list of ids."), fields={"options": [_("Invalid.")]})
    chosen = set(option_ids)
    if len(chosen) != len(option_ids) or not chosen <= {option.pk for option in options}:
        raise DomainError(
            _("Choose among this poll's options, each once."),
            fields={"options": [_("Not an option of this poll.")]},
        )
    if len(chosen) > 1 and not poll.allows_multiple:
        raise DomainError(
            _("This poll takes one choice."), fields={"options": [_("Choose one option.")]}
        )
    return options, chosen


def check_vote(
    *, user, poll_id: int, option_ids
) -> tuple[Poll, Membership, list[PollOption], set[int]]:
    poll, membership = _locked_poll(poll_id=poll_id, user=user)
    if not access.can_take_part(poll.message.room, membership=membership):
        if membership is None:
            raise PermissionDeniedError(_("Only members can vote."), code="not_member")
        raise PermissionDeniedError(_("This room is read-only."), code="room_closed")
    options, chosen = _clean_choice(poll, option_ids)
    if poll.is_closed():
        raise ConflictError(_("This poll is closed."), code="poll_closed")
    return poll, membership, options, chosen


@transaction.atomic
def vote(*, user, poll_id: int, option_ids: list[int]) -> Poll:
    """Set the member's choice (replacing any earlier one; an empty list takes the vote
    back) while the poll is open."""
    poll, membership, options, chosen = check_vote(
        user=user, poll_id=poll_id, option_ids=option_ids
    )
    do_vote(poll=poll, membership=membership, options=options, chosen=chosen)
    return poll


def do_vote(
    *, poll: Poll, membership: Membership, options: list[PollOption], chosen: set[int]
) -> bool:
    """Write the choice and the counters under the caller's poll lock; False when it did
    not change (nothing is sent)."""
    before = set(
        PollVote.objects.filter(poll=poll, membership=membership).values_list(
            "option_id", flat=True
        )
    )
    if before == chosen:
        return False
    removed, added = before - chosen, chosen - before
    if removed:
        PollVote.objects.filter(poll=poll, membership=membership, option_id__in=removed).delete()
    PollVote.objects.bulk_create(
        PollVote(poll=poll, option_id=option_id, membership=membership)
        for option_id in sorted(added)
    )
    # The options' counters, in ascending id (the poll lock already serialises them).
    for option in sorted(options, key=lambda option: option.pk):
        change = (option.pk in added) - (option.pk in removed)
        if change:
            PollOption.objects.filter(pk=option.pk).update(vote_count=F("vote_count") + change)
            option.vote_count += change
    voters = bool(chosen) - bool(before)
    if voters:
        poll.voter_count += voters
        poll.save(update_fields=["voter_count"])
    _announce(poll, options)
    return True


# --- closing --------------------------------------------------------------------------


@transaction.atomic
def close_poll(*, user, poll_id: int) -> Poll:
    """Its author or a room host closes the poll before its time (again: no change)."""
    poll, membership = _locked_poll(poll_id=poll_id, user=user)
    if membership is None:
        raise PermissionDeniedError(_("Only members can do that."), code="not_member")
    if not access.can_close_poll(membership=membership, author_id=poll.message.author_id):
        raise PermissionDeniedError(
            _("Only the poll's author or a host can close it."), code="not_poll_author"
        )
    if poll.closed_at is None:
        now = timezone.now()
        poll.closed_at = min(now, poll.closes_at) if poll.closes_at else now
        poll.save(update_fields=["closed_at"])
        _announce(poll, list(PollOption.objects.filter(poll=poll).order_by("position")))
    return poll


@transaction.atomic
def close_poll_on_time(*, poll_id: int) -> bool:
    """Close one poll whose time came and send its final tallies; idempotent (False
    when it was closed already, is not due, or its message is gone)."""
    poll = (
        Poll.objects.select_for_update()
        .filter(pk=poll_id, closed_at__isnull=True, closes_at__lte=timezone.now())
        .first()
    )
    if poll is None:
        return False
    poll.closed_at = poll.closes_at
    poll.save(update_fields=["closed_at"])
    message = Message.objects.only("id", "room_id", "deleted_at").get(pk=poll.message_id)
    if not message.is_deleted:
        poll.message = message
        _announce(poll, list(PollOption.objects.filter(poll=poll).order_by("position")))
    return True


def close_due_polls() -> int:
    """Every poll whose closing time has passed, each in its own transaction."""
    return sum(close_poll_on_time(poll_id=poll_id) for poll_id in polls_due_to_close())


def _announce(poll: Poll, options: list[PollOption]) -> None:
    message = poll.message
    events.send_on_commit(
        f"room.{message.room_id}",
        events.poll_updated(
            room_id=message.room_id,
            message_id=message.pk,
            poll_id=poll.pk,
            **poll_tallies(poll, options),
        ),
    )
