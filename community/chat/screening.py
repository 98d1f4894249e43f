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
from dataclasses import dataclass
from datetime import timedelta

import regex
from django.conf import settings
from django.db.models import Q
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
from config.counters import count_in_window
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


def _matches(rule: BlockedPattern, *, raw: str, folded: str) -> bool:
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


def _rule_kind(rule: BlockedPattern) -> str:
    if rule.room_id is None:
        return (
            RuleKind.SITE_WORD if rule.kind == BlockedPattern.Kind.WORD else (RuleKind.SITE_PATTERN)
        )
    return RuleKind.ROOM_WORD if rule.kind == BlockedPattern.Kind.WORD else RuleKind.ROOM_PATTERN


def _active_rules(room: Room) -> list[BlockedPattern]:
    return list(
        BlockedPattern.objects.filter(Q(room=None) | Q(room=room), is_active=True).order_by(
            "room_id", "id"
        )
    )


# --- flood --------------------------------------------------------------------------


def _flood_count(membership: Membership) -> int:
    """Messages this member sent in the current window (counting this one)."""
    window = settings.MODERATION_FLOOD_WINDOW_SECONDS
    try:
        return count_in_window(f"flood:{membership.pk}", window=window).count
    except Exception:  # the cache is down: no flood detection rather than no chat
        logger.warning("flood counter unavailable")
        return 0


# --- the entry point ---------------------------------------------------------------------


def screen_message(
    *, room: Room, membership: Membership, body: str, count_flood: bool = True
) -> FilterVerdict:
    """The verdict for ``body`` sent by ``membership`` in ``room``.

    Block rules win over hold rules; site-wide rules are checked before the room's.
    Hosts are exempt from the link limit and from flood detection, not from words.
    A flood mutes the member (in its own transaction) and blocks the message.
    """
    folded = fold(body)
    hold: FilterVerdict | None = None
    for rule in _active_rules(room):
        if not _matches(rule, raw=body, folded=folded):
            continue
        if rule.action == BlockedPattern.Action.BLOCK:
            return FilterVerdict(BLOCK, _rule_kind(rule))
        hold = hold or FilterVerdict(HOLD, _rule_kind(rule))

    if not access.is_host(membership):
        user = membership.user
        is_new = user.date_joined > timezone.now() - timedelta(
            hours=settings.MODERATION_NEW_ACCOUNT_HOURS
        )
        if is_new and len(LINK_RE.findall(body)) > settings.MODERATION_NEW_ACCOUNT_MAX_LINKS:
            return FilterVerdict(BLOCK, RuleKind.LINK_LIMIT)
    if hold is not None:
        return hold

    if (
        count_flood
        and not access.is_host(membership)
        and _flood_count(membership) > settings.MODERATION_FLOOD_MESSAGES
    ):
        do_auto_mute_for_flood(membership_id=membership.pk)
        return FilterVerdict(BLOCK, RuleKind.FLOOD)
    return ALLOWED


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
