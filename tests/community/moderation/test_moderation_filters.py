"""Automatic defences: words, patterns (safely), link limits, flood."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from community.chat.screening import (
    ALLOW,
    BLOCK,
    HOLD,
    RuleKind,
    screen_message,
)
from community.moderation.models import AuditLogEntry, BlockedPattern, validate_rule_text
from community.rooms.models import Membership
from tests.community.moderation_helpers import owner_membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(make_room):
    return make_room()


@pytest.fixture
def member(room, make_user, make_member):
    membership = make_member(room, make_user(), nickname="someone")
    # An established account, so the new-account link limit is not in play.
    membership.user.date_joined = timezone.now() - timedelta(days=30)
    membership.user.save(update_fields=["date_joined"])
    return membership


def screen(room, member, body):
    return screen_message(room=room, membership=member, body=body)


def test_plain_messages_pass(room, member):
    verdict = screen(room, member, "hello everyone")
    assert (verdict.action, verdict.rule_kind) == (ALLOW, "")


def test_site_word_blocks_whole_words_case_and_width_insensitively(room, member):
    BlockedPattern.objects.create(kind="word", text="Scam", action="block")
    verdict = screen(room, member, "this is a ＳＣＡＭ!")
    assert (verdict.action, verdict.rule_kind) == (BLOCK, RuleKind.SITE_WORD)
    assert "site-wide blocked word" in verdict.explanation
    assert screen(room, member, "scampi for dinner").action == ALLOW


def test_words_without_spaces_match_inside_text(room, member):
    BlockedPattern.objects.create(kind="word", text="바보", action="block")
    assert screen(room, member, "너는바보야").action == BLOCK


def test_room_rules_apply_only_in_their_room(room, member, make_room, make_user, make_member):
    BlockedPattern.objects.create(room=room, kind="word", text="spoiler", action="hold")
    verdict = screen(room, member, "SPOILER: he dies")
    assert (verdict.action, verdict.rule_kind) == (HOLD, RuleKind.ROOM_WORD)
    assert "held for review" in verdict.explanation
    other = make_room(title="other")
    other_member = make_member(other, member.user, nickname="x")
    assert screen(other, other_member, "SPOILER: he dies").action == ALLOW


def test_block_wins_over_hold(room, member):
    BlockedPattern.objects.create(room=room, kind="word", text="free", action="hold")
    BlockedPattern.objects.create(room=room, kind="pattern", text=r"c[o0]ins?", action="block")
    verdict = screen(room, member, "free c0ins")
    assert (verdict.action, verdict.rule_kind) == (BLOCK, RuleKind.ROOM_PATTERN)


def test_inactive_rules_are_ignored(room, member):
    BlockedPattern.objects.create(kind="word", text="scam", action="block", is_active=False)
    assert screen(room, member, "scam").action == ALLOW


def test_patterns_are_validated_and_bounded():
    validate_rule_text(kind="pattern", text=r"\bfree\s+money\b")
    with pytest.raises(ValidationError):
        validate_rule_text(kind="pattern", text="(unclosed")
    with pytest.raises(ValidationError):
        validate_rule_text(kind="pattern", text="a" * 201)
    with pytest.raises(ValidationError):
        validate_rule_text(kind="word", text="   ")


def test_catastrophic_pattern_times_out_instead_of_hanging(room, member, settings):
    import regex

    settings.MODERATION_PATTERN_TIMEOUT_SECONDS = 0.05
    pattern = r"(a|aa)+$"
    evil = "a" * 60 + "!"
    # The pattern really is catastrophic on this input: it cannot finish in the budget.
    with pytest.raises(TimeoutError):
        regex.compile(pattern).search(evil, timeout=0.05)
    BlockedPattern.objects.create(kind="pattern", text=pattern, action="block")
    BlockedPattern.objects.create(kind="word", text="later", action="block")
    started = time.monotonic()
    verdict = screen(room, member, evil + " later")
    elapsed = time.monotonic() - started
    # The runaway rule counts as no match; the next rule still runs; the send is not stalled.
    assert (verdict.action, verdict.rule_kind) == (BLOCK, RuleKind.SITE_WORD)
    assert elapsed < 1


def test_new_accounts_have_a_link_limit(room, make_user, make_member, settings):
    settings.MODERATION_NEW_ACCOUNT_MAX_LINKS = 1
    newcomer = make_member(room, make_user(), nickname="new")
    assert screen(room, newcomer, "see https://a.example").action == ALLOW
    verdict = screen(room, newcomer, "https://a.example and www.b.example")
    assert (verdict.action, verdict.rule_kind) == (BLOCK, RuleKind.LINK_LIMIT)
    newcomer.user.date_joined = timezone.now() - timedelta(days=2)
    newcomer.user.save(update_fields=["date_joined"])
    newcomer.refresh_from_db()
    assert screen(room, newcomer, "https://a.example and www.b.example").action == ALLOW


def test_hosts_are_exempt_from_the_link_limit(room):
    owner = owner_membership(room)
    assert screen(room, owner, "https://a.example https://b.example").action == ALLOW


def test_flood_mutes_temporarily_and_is_audited(room, member, settings):
    settings.MODERATION_FLOOD_MESSAGES = 3
    settings.MODERATION_FLOOD_MUTE_MINUTES = 5
    verdicts = [screen(room, member, f"msg {i}").action for i in range(4)]
    assert verdicts == [ALLOW, ALLOW, ALLOW, BLOCK]
    member.refresh_from_db()
    remaining = (member.muted_until - timezone.now()).total_seconds()
    assert 4 * 60 < remaining <= 5 * 60
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.actor, entry.target_id) == ("auto_mute", None, member.pk)
    last = screen(room, member, "again")
    assert last.rule_kind == RuleKind.FLOOD
    assert "flood protection" in last.explanation
    # Still one mute: an existing mute is not extended by every further message.
    assert AuditLogEntry.objects.count() == 1
    assert Membership.objects.get(pk=member.pk).muted_until == member.muted_until


def test_messages_refused_by_a_rule_do_not_count_as_flood(room, member, settings):
    settings.MODERATION_FLOOD_MESSAGES = 3
    BlockedPattern.objects.create(room=room, kind=BlockedPattern.Kind.WORD, text="scam")
    BlockedPattern.objects.create(
        room=room,
        kind=BlockedPattern.Kind.WORD,
        text="spoilers",
        action=BlockedPattern.Action.HOLD,
    )
    assert screen(room, member, "one").action == ALLOW
    assert [screen(room, member, word).action for word in ("scam", "spoilers") * 3] == [
        BLOCK,
        HOLD,
    ] * 3
    # Counted with the rules' read, and taken back when a rule refused the message.
    assert [screen(room, member, f"msg {i}").action for i in range(3)] == [ALLOW, ALLOW, BLOCK]


def test_screening_reads_the_rules_and_counts_flood_in_one_round_trip(room, member, monkeypatch):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from tests.support.redis_trips import record_redis_trips

    if not isinstance(caches["default"], RedisCache):
        pytest.skip("round trips are Redis's")
    screen(room, member, "the rules are cached now")
    trips = record_redis_trips(monkeypatch)
    assert screen(room, member, "hello").action == ALLOW
    assert trips == [["SET", "INCRBY", "MGET"]]


def test_a_rule_saved_or_deleted_applies_to_the_very_next_message(
    room, member, django_capture_on_commit_callbacks
):
    # Screening keeps the rules in the shared cache: every change must retire them.
    assert screen(room, member, "scam and spoilers").action == ALLOW
    with django_capture_on_commit_callbacks(execute=True):
        site = BlockedPattern.objects.create(kind="word", text="scam", action="block")
    assert screen(room, member, "scam and spoilers").rule_kind == RuleKind.SITE_WORD
    site.is_active = False
    site.save(update_fields=["is_active"])
    assert screen(room, member, "scam and spoilers").action == ALLOW
    own = BlockedPattern.objects.create(room=room, kind="word", text="spoilers", action="hold")
    verdict = screen(room, member, "scam and spoilers")
    assert (verdict.action, verdict.rule_kind) == (HOLD, RuleKind.ROOM_WORD)
    with django_capture_on_commit_callbacks(execute=True):
        own.delete()
    assert screen(room, member, "scam and spoilers").action == ALLOW


def test_site_rules_are_checked_before_the_rooms(room, member):
    BlockedPattern.objects.create(room=room, kind="word", text="scam", action="block")
    BlockedPattern.objects.create(kind="word", text="scam", action="block")
    assert screen(room, member, "a scam").rule_kind == RuleKind.SITE_WORD


def test_rules_are_screened_from_the_database_when_the_cache_is_down(room, member, monkeypatch):
    from django.core.cache import cache

    BlockedPattern.objects.create(room=room, kind="word", text="scam", action="block")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    assert screen(room, member, "a scam").action == BLOCK
