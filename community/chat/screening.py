"""Automatic defences applied to every message before it is stored.

The send path calls :func:`screen_message` once per message, outside its own
transaction (so a flood mute survives the refused send), and acts on the verdict:
``allow`` sends, ``hold`` stores a held message for the hosts, ``block`` refuses.
The verdict names the *kind* of rule (never the rule itself), which the sender is told.

Patterns are untrusted input written by room hosts, so they are bounded in length
and run with the ``regex`` module's timeout: a catastrophically backtracking pattern
times out on that message and counts as no match instead of stalling the server.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

import regex
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from community import access
from community.moderation.models import (
    BlockedPattern,
    HeldMessage,
    compile_rule,
)
from community.rooms.models import Membership, Room
from community.rooms.services import do_auto_mute_for_flood
from config.counters import count_in_window_and_get, uncount_in_window
from config.errors import UnprocessableError
from profiles.text import fold

logger = logging.getLogger(__name__)

ALLOW = "allow"
HOLD = "hold"
BLOCK = "block"


class RuleKind:
    SITE_WORD = "site_word"
    SITE_PATTERN = "site_pattern"
    ROOM_WORD = "room_word"
    ROOM_PATTERN = "room_pattern"
    LINK_LIMIT = "link_limit"
    FLOOD = "flood"


RULE_KIND_LABELS = {
    RuleKind.SITE_WORD: gettext_lazy("a site-wide blocked word"),
    RuleKind.SITE_PATTERN: gettext_lazy("a site-wide blocked pattern"),
    RuleKind.ROOM_WORD: gettext_lazy("this room's word filter"),
    RuleKind.ROOM_PATTERN: gettext_lazy("this room's pattern filter"),
    RuleKind.LINK_LIMIT: gettext_lazy("the link limit for new accounts"),
    RuleKind.FLOOD: gettext_lazy("flood protection (too many messages too fast)"),
}

LINK_RE = regex.compile(r"(?:https?://|www\.)\S+", regex.IGNORECASE)


@dataclass(frozen=True)
class FilterVerdict:
    action: str  # allow | hold | block
    rule_kind: str = ""

    @property
    def allowed(self) -> bool:
        return self.action == ALLOW

    @property
    def explanation(self) -> str:
        """What the sender is told: which kind of rule stopped the message."""
        label = RULE_KIND_LABELS.get(self.rule_kind, self.rule_kind)
        if self.action == HOLD:
            return _("Your message is held for review by the hosts because of %(rule)s.") % {
                "rule": label
            }
        if self.action == BLOCK:
            return _("Your message was not sent because of %(rule)s.") % {"rule": label}
        return ""


ALLOWED = FilterVerdict(ALLOW)


class MessageFilteredError(UnprocessableError):
    """A message an automatic rule blocked (``message_blocked``) or held for the hosts
    (``message_held``); ``fields["rule_kind"]`` names the kind of rule, never the rule."""

    def __init__(self, verdict: FilterVerdict):
        super().__init__(
            verdict.explanation,
            code="message_held" if verdict.action == HOLD else "message_blocked",
            fields={"rule_kind": [verdict.rule_kind]},
        )
        self.verdict = verdict


# --- compiling rules ---------------------------------------------------------------


class Rule(NamedTuple):
    """An active rule as screening needs it (kept in the shared cache)."""

    pk: int
    room_id: int | None
    kind: str
    text: str
    action: str


def _matches(rule: Rule, *, raw: str, folded: str) -> bool:
    try:
        compiled = compile_rule(rule.kind, rule.text)
    except regex.error:
        return False  # saved before validation existed; never crash the send path
    subject = folded if rule.kind == BlockedPattern.Kind.WORD else raw
    try:
        return (
            compiled.search(subject, timeout=settings.MODERATION_PATTERN_TIMEOUT_SECONDS)
            is not None
        )
    except TimeoutError:
        logger.warning("blocked pattern %s timed out; treated as no match", rule.pk)
        return False


def _rule_kind(rule: Rule) -> str:
    if rule.room_id is None:
        return (
            RuleKind.SITE_WORD if rule.kind == BlockedPattern.Kind.WORD else (RuleKind.SITE_PATTERN)
        )
    return RuleKind.ROOM_WORD if rule.kind == BlockedPattern.Kind.WORD else RuleKind.ROOM_PATTERN


# --- the rules, cached ----------------------------------------------------------------------
# Every message is screened, and the rules change rarely: the site's rules and each room's
# are kept in the shared cache, each list stamped with its scope's generation. A change to a
# rule (any save or delete, from the hosts' tools or the admin) bumps the generation at once
# and again after its commit, so a list read before the commit is never used after it.
# One round trip per message (the generations and the lists in one ``get_many``) instead of
# a database query; with the cache down, the rules come from the database.

RULES_CACHE_SECONDS = 600


def _scope(room_id: int | None) -> str:
    return "site" if room_id is None else str(room_id)


def _generation_key(room_id: int | None) -> str:
    return f"screen-rules-gen:{_scope(room_id)}"


def _rules_key(room_id: int | None) -> str:
    return f"screen-rules:{_scope(room_id)}"


def _load_rules(room_id: int | None) -> tuple[Rule, ...]:
    return tuple(
        Rule(*row)
        for row in BlockedPattern.objects.filter(room_id=room_id, is_active=True)
        .order_by("id")
        .values_list("id", "room_id", "kind", "text", "action")
    )


def _rules_keys(scopes: list[int | None]) -> list[str]:
    return [key for room_id in scopes for key in (_generation_key(room_id), _rules_key(room_id))]


def _cached_rules(scopes: list[int | None], *, found: dict | None = None) -> list[Rule]:
    """The scopes' rules; ``found``: their keys as read already (with the flood counter)."""
    if found is None:
        try:
            found = cache.get_many(_rules_keys(scopes))
        except Exception:  # the cache is down: the database has the rules
            return [rule for room_id in scopes for rule in _load_rules(room_id)]
    rules: list[Rule] = []
    for room_id in scopes:
        generation = found.get(_generation_key(room_id))
        stamped = found.get(_rules_key(room_id))
        if generation is not None and stamped is not None and stamped[0] == generation:
            rules += stamped[1]
            continue
        if generation is None:
            # A new scope (or an evicted one): a generation no earlier list can carry.
            try:
                cache.add(_generation_key(room_id), time.time_ns(), None)
                generation = cache.get(_generation_key(room_id))
            except Exception:
                generation = None
        # The generation is read BEFORE the rules: a change committed after this read
        # bumps it, so the list stored below is stale-stamped and never used.
        loaded = _load_rules(room_id)
        if generation is not None:
            try:
                cache.set(_rules_key(room_id), (generation, loaded), RULES_CACHE_SECONDS)
            except Exception:
                logger.warning("screening rules not cached (cache unavailable)")
        rules += loaded
    return rules


def _scopes(room: Room) -> list[int | None]:
    return [None, room.pk]


def _active_rules(room: Room, *, found: dict | None = None) -> list[Rule]:
    """The site's active rules, then the room's, each in creation order."""
    return _cached_rules(_scopes(room), found=found)


def _bump_generation(room_id: int | None) -> None:
    try:
        cache.incr(_generation_key(room_id))
    except ValueError:  # no generation: no cached list to retire
        pass
    except Exception:
        logger.warning("screening rules generation not bumped (cache unavailable)")


def forget_rules(*, instance: BlockedPattern, **kwargs) -> None:
    """``post_save`` / ``post_delete`` of a rule: retire the cached list of its scope now
    and again once the change is committed (community/apps.py wires it)."""
    room_id = instance.room_id
    _bump_generation(room_id)
    transaction.on_commit(lambda: _bump_generation(room_id))


# --- flood --------------------------------------------------------------------------


def _flood_name(membership: Membership) -> str:
    return f"flood:{membership.pk}"


def flood_counter(*, membership: Membership) -> tuple[str, int] | None:
    """The member's flood counter, ``(name, window)`` for ``config.counters``; None for a
    host (exempt). A caller that counts it itself (a batch of sends, with other counters
    in the same round trip) passes the count to :func:`screen_message`."""
    if access.is_host(membership):
        return None
    return _flood_name(membership), settings.MODERATION_FLOOD_WINDOW_SECONDS


def rules_cache_keys(*, room: Room) -> list[str]:
    """The cache keys of the rules screening ``room``'s messages reads (with the counters)."""
    return _rules_keys(_scopes(room))


def _count_flood_and_read_rules(membership: Membership, room: Room) -> tuple[int, dict | None]:
    """Messages this member sent in the current window (counting this one), and the
    screening rules' cache keys, in one round trip: every message pays for both.
    With the cache down: 0 (no flood detection rather than no chat), and no rules read
    (they come from the database)."""
    window = settings.MODERATION_FLOOD_WINDOW_SECONDS
    counted, found = count_in_window_and_get(
        _flood_name(membership), window=window, keys=_rules_keys(_scopes(room))
    )
    return counted.count, found


def _uncount_flood(membership: Membership) -> None:
    """A message refused by a rule was never sent: it does not count as flood."""
    try:
        uncount_in_window(_flood_name(membership), window=settings.MODERATION_FLOOD_WINDOW_SECONDS)
    except Exception:
        logger.warning("flood counter unavailable")


# --- the entry point ---------------------------------------------------------------------


def screen_message(
    *,
    room: Room,
    membership: Membership,
    body: str,
    count_flood: bool = True,
    counted: tuple[int, dict | None] | None = None,
) -> FilterVerdict:
    """The verdict for ``body`` sent by ``membership`` in ``room``.

    Block rules win over hold rules; site-wide rules are checked before the room's.
    Hosts are exempt from the link limit and from flood detection, not from words.
    A flood mutes the member (in its own transaction) and blocks the message.
    ``counted``: ``(flood count, the rules' keys found)`` counted and read by the caller
    (:func:`flood_counter`, :func:`rules_cache_keys`; the count 0 for a host).
    """
    is_host = access.is_host(membership)
    counts_flood = count_flood and not is_host
    if counted is not None:
        flood, found = counted
    elif counts_flood:
        flood, found = _count_flood_and_read_rules(membership, room)
    else:
        flood, found = 0, None
    verdict = _rules_verdict(room, membership, body, is_host=is_host, found=found)
    if verdict is not None:
        if counts_flood:
            _uncount_flood(membership)
        return verdict
    if counts_flood and flood > settings.MODERATION_FLOOD_MESSAGES:
        do_auto_mute_for_flood(membership_id=membership.pk)
        return FilterVerdict(BLOCK, RuleKind.FLOOD)
    return ALLOWED


def _rules_verdict(
    room: Room, membership: Membership, body: str, *, is_host: bool, found: dict | None
) -> FilterVerdict | None:
    """Block or hold by the rules and the new accounts' link limit, else None."""
    folded = fold(body)
    hold: FilterVerdict | None = None
    for rule in _active_rules(room, found=found):
        if not _matches(rule, raw=body, folded=folded):
            continue
        if rule.action == BlockedPattern.Action.BLOCK:
            return FilterVerdict(BLOCK, _rule_kind(rule))
        hold = hold or FilterVerdict(HOLD, _rule_kind(rule))

    if not is_host:
        user = membership.user
        is_new = user.date_joined > timezone.now() - timedelta(
            hours=settings.MODERATION_NEW_ACCOUNT_HOURS
        )
        if is_new and len(LINK_RE.findall(body)) > settings.MODERATION_NEW_ACCOUNT_MAX_LINKS:
            return FilterVerdict(BLOCK, RuleKind.LINK_LIMIT)
    return hold


def hold_message(*, membership: Membership, body: str, rule_kind: str, media=None) -> HeldMessage:
    """Keep a message a hold rule stopped, for the hosts to approve or reject
    (moderation's review); ``media`` is an image or video message's asset (already bound
    to the room), ``body`` then its caption. In the caller's transaction."""
    return HeldMessage.objects.create(
        room_id=membership.room_id,
        membership=membership,
        body=body,
        rule_kind=rule_kind,
        media=media,
    )
