"""Writes for reactions, Zulip style: ``check_*`` validates and locks, ``do_*`` writes.

Locks, always in this order so that no two reaction writes deadlock:
1. the reactor's row: their room membership for messages and rooms (which also makes
   the ban/mute check race-free against a concurrent ban), their user row for status
   posts. It serialises one user's taps on one target, so the "10 distinct emoji" cap
   and idempotence hold under double taps;
2. the target's counter row, by the ``UPDATE ... SET count = count ± 1``, which
   serialises every reactor of that emoji on that target: counts are exact.

Live events (``reaction.updated`` to ``room.<id>``) are sent after commit. They carry
the counts *as committed*, read and sent while holding the target's row lock: with
counts captured inside each write transaction, two reactors committing close together
could have their after-commit sends overtake each other and leave every client on the
older count. Serialising read-and-send per target means whichever event is sent last
was read after every earlier commit, so the last event always carries the final count.
"""

from functools import partial

from django.db import transaction
from django.db.models import Count, F
from django.utils.translation import gettext as _

from community import events
from community.chat.models import Message
from community.notifications.services import notify_reaction
from community.reactions.emoji import normalise_emoji
from community.reactions.models import Reaction, ReactionCount, ReactionTarget
from community.reactions.selectors import (
    ReactionSummary,
    ResolvedTarget,
    check_can_react,
    check_not_blocked,
    forget_message_reactions,
    forget_room_reactions,
    reacting_membership,
    reaction_counts,
    reaction_summary,
    resolve_target,
)
from community.rooms.models import Membership, Room
from config.errors import ConflictError, DomainError
from profiles.models import StatusPost, User

MAX_DISTINCT_EMOJI_PER_USER = 10

_TARGET_MODELS = {
    ReactionTarget.MESSAGE: Message,
    ReactionTarget.STATUS_POST: StatusPost,
    ReactionTarget.ROOM: Room,
}


def validated_emoji(*, raw: object) -> str:
    emoji = normalise_emoji(raw)
    if emoji is None:
        raise DomainError(
            _("That is not a single emoji we support."),
            code="invalid_emoji",
            fields={"emoji": [_("Send exactly one emoji.")]},
        )
    return emoji


def _lock_reactor(*, target: ResolvedTarget, user: User, adding: bool) -> Membership | None:
    """Lock the reactor's row and check they may (still) react; the membership in rooms."""
    if target.room_id is not None:
        membership = reacting_membership(room_id=target.room_id, user=user, lock=True)
        if adding:
            check_can_react(membership=membership)
        return membership
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    if adding:
        check_not_blocked(author_id=target.author_id, user=user)
    return None


def check_add_reaction(
    *, user: User, target_type: str, target_id: int, emoji: str
) -> ReactionSummary:
    """Put ``emoji`` on the target for ``user``; adding it again changes nothing.

    Returns the target's summary as the user now sees it, read after the commit so the
    hot counter row is not held locked while it is read.
    """
    emoji = validated_emoji(raw=emoji)
    with transaction.atomic():
        target = resolve_target(target_type, target_id)
        membership = _lock_reactor(target=target, user=user, adding=True)
        already = set(
            Reaction.objects.filter(**target.column, user=user).values_list("emoji", flat=True)
        )
        if emoji not in already:
            if len(already) >= MAX_DISTINCT_EMOJI_PER_USER:
                raise ConflictError(
                    _("You can put at most %(max)s different emoji on one item.")
                    % {"max": MAX_DISTINCT_EMOJI_PER_USER},
                    code="reaction_limit",
                )
            do_add_reaction(target=target, user=user, membership=membership, emoji=emoji)
    return reaction_summary(target.kind, target.id, user)


def do_add_reaction(
    *, target: ResolvedTarget, user: User, membership: Membership | None, emoji: str
) -> None:
    """Write a validated reaction and its counter; the caller holds the reactor lock."""
    Reaction.objects.create(**target.column, user=user, membership=membership, emoji=emoji)
    # The first reactor of an emoji creates its counter row; a concurrent first reactor
    # waits on that insert (ON CONFLICT DO NOTHING), then both increment the one row.
    ReactionCount.objects.bulk_create(
        [ReactionCount(**target.column, emoji=emoji, count=0)], ignore_conflicts=True
    )
    ReactionCount.objects.filter(**target.column, emoji=emoji).update(count=F("count") + 1)
    _forget_cached_reactions(target=target)
    notify_reaction(target=target, actor_membership_or_user=membership or user)
    _broadcast_counts_on_commit(target=target, emoji=emoji, action="added", membership=membership)


def check_remove_reaction(
    *, user: User, target_type: str, target_id: int, emoji: str
) -> ReactionSummary:
    """Take ``emoji`` off the target for ``user``; removing an absent one changes nothing.

    Muted members and blocked users may still take their own reactions back.
    """
    emoji = validated_emoji(raw=emoji)
    with transaction.atomic():
        target = resolve_target(target_type, target_id)
        membership = _lock_reactor(target=target, user=user, adding=False)
        do_remove_reaction(target=target, user=user, membership=membership, emoji=emoji)
    return reaction_summary(target.kind, target.id, user)


def do_remove_reaction(
    *, target: ResolvedTarget, user: User, membership: Membership | None, emoji: str
) -> None:
    deleted, _rows = Reaction.objects.filter(**target.column, user=user, emoji=emoji).delete()
    if not deleted:
        return
    ReactionCount.objects.filter(**target.column, emoji=emoji).update(count=F("count") - 1)
    _forget_cached_reactions(target=target)
    _broadcast_counts_on_commit(target=target, emoji=emoji, action="removed", membership=membership)


def _forget_cached_reactions(*, target: ResolvedTarget) -> None:
    """History pages cache their messages' reactions per room (``forget_room_reactions``)."""
    if target.kind == ReactionTarget.MESSAGE:
        forget_room_reactions([target.room_id])


def _broadcast_counts_on_commit(
    *, target: ResolvedTarget, emoji: str, action: str, membership: Membership | None
) -> None:
    # Status posts have no room; their reactions are read with the post (and hidden
    # per viewer for blocks), so there is no shared group to send them to.
    if target.group is None:
        return
    transaction.on_commit(
        partial(
            send_reaction_update,
            target=target,
            emoji=emoji,
            action=action,
            membership_id=membership.pk if membership else None,
        ),
        # The reaction is committed whatever happens to its event: a failure here is
        # logged, never turned into an error for the reactor.
        robust=True,
    )


def send_reaction_update(
    *, target: ResolvedTarget, emoji: str, action: str, membership_id: int | None
) -> None:
    """Send the committed counts to the room, one sender per target at a time.

    Runs after the reaction's own commit. This is ``events.send_on_commit``'s job done
    with the read and the send under the target's row lock (see the module docstring);
    the channel layer being down is logged by ``events.send_now``, never raised.
    """
    with transaction.atomic():
        model = _TARGET_MODELS[target.kind]
        model.objects.select_for_update().filter(pk=target.id).values_list("pk").first()
        event = events.reaction_updated(
            target_type=target.kind.value,
            target_id=target.id,
            room_id=target.room_id,
            emoji=emoji,
            action=action,
            membership_id=membership_id,
            reactions=reaction_counts(target.kind, target.id),
        )
        events.send_now(target.group, event)


@transaction.atomic
def remove_all_reactions_of_user(*, user: User) -> int:
    """Take back every reaction of ``user`` (account deletion), keeping counters exact."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    return take_back_reactions(reaction_ids=Reaction.objects.filter(user=user).values("id"))


@transaction.atomic
def take_back_reactions(*, reaction_ids) -> int:
    """Delete these reactions (a moderator's removal, an account's deletion) and decrement
    their counters by exactly what was deleted. Returns how many were deleted.

    The rows are locked first, so a concurrent removal of the same reaction by its owner
    either happened before (and is not counted twice) or waits. Counter rows are then
    decremented in ascending id order, the order every other writer takes one of them
    in, so this cannot deadlock with reactors. No live events: rooms see the new counts
    on their next load.
    """
    target_fields = list(ReactionTarget.values)
    reactions = list(
        Reaction.objects.select_for_update()
        .filter(pk__in=reaction_ids)
        .order_by("id")
        .only("emoji", *target_fields)
    )
    if not reactions:
        return 0
    taken_back: dict[tuple[str, int, str], int] = {}
    for reaction in reactions:
        key = (reaction.target_type.field, reaction.target_id, reaction.emoji)
        taken_back[key] = taken_back.get(key, 0) + 1
    counters: list[tuple[int, int]] = []
    for (field, target_id, emoji), n in taken_back.items():
        counter_id = (
            ReactionCount.objects.filter(**{field: target_id}, emoji=emoji)
            .values_list("id", flat=True)
            .first()
        )
        if counter_id is not None:
            counters.append((counter_id, n))
    for counter_id, n in sorted(counters):
        ReactionCount.objects.filter(pk=counter_id).update(count=F("count") - n)
    Reaction.objects.filter(pk__in=[reaction.pk for reaction in reactions]).delete()
    forget_message_reactions(
        {target for field, target, _emoji in taken_back if field == ReactionTarget.MESSAGE.field}
    )
    return len(reactions)


def delete_reactions_on_account_deletion(*, user: User, **_options) -> None:
    remove_all_reactions_of_user(user=user)


def recount_reaction_counters(*, target_type: str, target_ids: list[int] | None = None) -> int:
    """Rebuild counters from the reaction rows (after a bulk delete outside the services).

    Each target is done in its own transaction: its counter rows are locked first, and
    only then are the reactions counted, in a statement that starts after the lock is
    held, so a reactor committing meanwhile is either counted or waits and adds its +1
    on top. Returns how many counters changed.
    """
    kind = ReactionTarget(target_type)
    field = kind.field
    if target_ids is None:
        target_ids = sorted(
            set(
                ReactionCount.objects.filter(**{f"{field}__isnull": False}).values_list(
                    field, flat=True
                )
            )
            | set(
                Reaction.objects.filter(**{f"{field}__isnull": False}).values_list(field, flat=True)
            )
        )
    changed = 0
    changed_ids: set[int] = set()
    for target_id in target_ids:
        with transaction.atomic():
            column = {field: target_id}
            stored = dict(
                ReactionCount.objects.select_for_update()
                .filter(**column)
                .order_by("id")
                .values_list("emoji", "count")
            )
            actual = dict(
                Reaction.objects.filter(**column)
                .values("emoji")
                .annotate(n=Count("id"))
                .values_list("emoji", "n")
            )
            missing = [emoji for emoji in actual if emoji not in stored]
            ReactionCount.objects.bulk_create(
                [ReactionCount(**column, emoji=emoji, count=0) for emoji in missing],
                ignore_conflicts=True,
            )
            for emoji in sorted(set(stored) | set(actual)):
                if stored.get(emoji) != actual.get(emoji, 0):
                    ReactionCount.objects.filter(**column, emoji=emoji).update(
                        count=actual.get(emoji, 0)
                    )
                    changed += 1
                    changed_ids.add(target_id)
    if kind == ReactionTarget.MESSAGE:
        # After every target's commit: a page read meanwhile is dropped too.
        forget_message_reactions(changed_ids)
    return changed
