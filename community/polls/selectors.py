"""Reads for polls: the ``poll`` part of the message payload, one poll for a reader,
and a named poll's voters.

Tallies are counts only. Who voted for what is never in a payload: a viewer gets their
own votes (``my_votes``), and a named poll's voters come by room nickname from
:func:`poll_voters`; an anonymous poll's voters come from nowhere.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from community.chat.models import Message
from community.chat.selectors import readable_room
from community.polls.models import Poll, PollOption, PollVote
from community.rooms.models import Membership
from config.errors import NotFoundError, PermissionDeniedError


def _tallies(options: list[PollOption]) -> list[dict[str, Any]]:
    return [{"option_id": option.pk, "votes": option.vote_count} for option in options]


def poll_part(
    poll: Poll, options: list[PollOption], *, my_votes: list[int] | None, now=None
) -> dict[str, Any]:
    """The ``poll`` of a message payload. ``my_votes`` is None without a viewer (a
    broadcast, the same for everyone)."""
    return {
        "id": poll.pk,
        "multiple": poll.allows_multiple,
        "anonymous": poll.is_anonymous,
        "closes_at": poll.closes_at.isoformat() if poll.closes_at else None,
        "closed": poll.is_closed(now=now),
        "options": [
            {"id": option.pk, "text": option.text, "votes": option.vote_count} for option in options
        ],
        "total_voters": poll.voter_count,
        "my_votes": my_votes,
    }


def poll_tallies(poll: Poll, options: list[PollOption]) -> dict[str, Any]:
    """What ``poll.updated`` carries: the counts, for everyone alike."""
    return {
        "tallies": _tallies(options),
        "total_voters": poll.voter_count,
        "closed": poll.is_closed(),
    }


def load_poll_parts(messages: list[Message], viewer) -> dict[int, dict[str, Any]]:
    """The payload part loader (``register_payload_part("poll", ...)``): one query for
    a page's polls with their options, one more for the viewer's own votes; none for a
    page without polls."""
    ids = [message.pk for message in messages if message.kind == Message.Kind.POLL]
    if not ids:
        return {}
    options_by_message: dict[int, list[PollOption]] = {}
    polls: dict[int, Poll] = {}
    rows = (
        PollOption.objects.filter(poll__message_id__in=ids)
        .select_related("poll")
        .order_by("poll_id", "position")
    )
    for option in rows:
        polls[option.poll.message_id] = option.poll
        options_by_message.setdefault(option.poll.message_id, []).append(option)
    mine: dict[int, list[int]] | None = None
    if viewer is not None and viewer.is_authenticated:
        mine = {}
        votes = (
            PollVote.objects.filter(
                poll__message_id__in=ids,
                membership__user_id=viewer.pk,
                membership__state=Membership.State.ACTIVE,
            )
            .order_by("option__position")
            .values_list("poll__message_id", "option_id")
        )
        for message_id, option_id in votes:
            mine.setdefault(message_id, []).append(option_id)
    now = timezone.now()
    return {
        message_id: poll_part(
            poll,
            options_by_message[message_id],
            my_votes=None if mine is None else mine.get(message_id, []),
            now=now,
        )
        for message_id, poll in polls.items()
    }


def readable_poll(*, poll_id: int, user) -> Poll:
    """The poll (with its message) if ``user`` may read its room, else the answer a
    missing poll gets (a poll in a room hidden from them is just as missing), or
    ``403 not_member`` in a room they can see but not read."""
    poll = Poll.objects.select_related("message").filter(pk=poll_id).first()
    if poll is None or poll.message.is_deleted:
        raise NotFoundError(_("No such poll."))
    try:
        readable_room(room_id=poll.message.room_id, user=user)
    except NotFoundError:
        raise NotFoundError(_("No such poll.")) from None
    return poll


def poll_payload(*, poll_id: int, user) -> dict[str, Any]:
    """One poll as ``user`` reads it, with their own votes."""
    poll = readable_poll(poll_id=poll_id, user=user)
    return load_poll_parts([poll.message], user)[poll.message_id]


def poll_voters(*, poll_id: int, user) -> list[dict[str, Any]]:
    """A named poll's voters per option, by room nickname (never an account); an
    anonymous poll has none to show. Two queries after the reader's check."""
    poll = readable_poll(poll_id=poll_id, user=user)
    if poll.is_anonymous:
        raise PermissionDeniedError(
            _("This poll is anonymous: nobody can see who voted."), code="poll_anonymous"
        )
    options = list(poll.options.order_by("position"))
    voters: dict[int, list[dict[str, Any]]] = {option.pk: [] for option in options}
    votes = (
        PollVote.objects.filter(poll=poll)
        .order_by("id")
        .values_list("option_id", "membership_id", "membership__nickname")
    )
    for option_id, membership_id, nickname in votes:
        voters[option_id].append({"membership_id": membership_id, "nickname": nickname})
    return [
        {"option_id": option.pk, "text": option.text, "voters": voters[option.pk]}
        for option in options
    ]


def export_poll_votes(user) -> list[dict[str, Any]]:
    """The user's votes for "export everything about me" (as their room nickname)."""
    rows = (
        PollVote.objects.filter(membership__user=user)
        .select_related("option", "membership")
        .order_by("id")
    )
    return [
        {
            "poll_id": vote.poll_id,
            "option": vote.option.text,
            "as_nickname": vote.membership.nickname,
            "voted_at": vote.created_at,
        }
        for vote in rows
    ]


def polls_due_to_close(*, now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        Poll.objects.filter(closed_at__isnull=True, closes_at__lte=now)
        .order_by("id")
        .values_list("id", flat=True)
    )
