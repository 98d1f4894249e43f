"""A tip's cost: its queries, and the two /ws/me/ events handed off after commit."""

import pytest

from commerce.models import Account
from commerce.services import send_tip
from commerce.services.ledger import get_accounts
from community.notifications.models import Notification
from community.notifications.selectors import unread_counts
from community.notifications.services import update_notification_settings, user_group
from config.realtime import broadcast_on_commit
from profiles.services import block_user

pytestmark = pytest.mark.django_db


def test_get_accounts_in_the_order_asked_creating_the_missing(make_user, django_assert_num_queries):
    alice, bob = make_user("alice"), make_user("bob")
    wanted = [
        (Account.Kind.EARNINGS_PENDING, bob.pk),
        (Account.Kind.WALLET, alice.pk),
        (Account.Kind.PLATFORM_FEE, None),
    ]
    created = get_accounts(wanted=wanted, currency="KRW")
    assert [(a.kind, a.user_id, a.currency) for a in created] == [(*w, "KRW") for w in wanted]
    with django_assert_num_queries(1):
        assert get_accounts(wanted=wanted, currency="KRW") == created
    with pytest.raises(ValueError):
        get_accounts(wanted=[(Account.Kind.WALLET, None)], currency="KRW")
    with pytest.raises(ValueError):
        get_accounts(wanted=[(Account.Kind.PLATFORM_FEE, alice.pk)], currency="KRW")


def test_get_accounts_keeps_currencies_users_and_orders_apart(make_user):
    # The query is compiled once per shape: every call still gets its own accounts.
    alice, bob = make_user("alice"), make_user("bob")
    earnings, wallet, fee = (
        Account.Kind.EARNINGS_PENDING,
        Account.Kind.WALLET,
        Account.Kind.PLATFORM_FEE,
    )
    krw = get_accounts(wanted=[(wallet, alice.pk), (earnings, bob.pk)], currency="KRW")
    usd = get_accounts(wanted=[(wallet, alice.pk), (earnings, bob.pk)], currency="USD")
    swapped = get_accounts(wanted=[(wallet, bob.pk), (earnings, alice.pk)], currency="KRW")
    assert {account.pk for account in krw}.isdisjoint(account.pk for account in usd)
    assert {account.pk for account in krw}.isdisjoint(account.pk for account in swapped)
    assert [(a.user_id, a.currency) for a in usd] == [(alice.pk, "USD"), (bob.pk, "USD")]
    mixed = get_accounts(wanted=[(fee, None), (wallet, alice.pk)], currency="USD")
    assert (mixed[0].kind, mixed[0].user_id, mixed[1]) == (fee, None, usd[0])


def test_a_tip_sends_the_notification_then_the_unread_totals(
    make_user, fund, eager_tasks, django_capture_on_commit_callbacks, layer_listener
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    listener = layer_listener(user_group(user_id=creator.pk))
    with django_capture_on_commit_callbacks(execute=True):
        send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)
    first = listener.next_event()
    second = listener.next_event()
    assert (first["type"], first["notification"]["kind"]) == ("notification.created", "tip")
    assert second == {"type": "unread.updated", "messages": 0, "mentions": 0, "notifications": 1}


def test_broadcast_on_commit_sends_nothing_when_rolled_back(
    django_capture_on_commit_callbacks, layer_listener
):
    listener = layer_listener("user.0")
    with django_capture_on_commit_callbacks() as callbacks:
        broadcast_on_commit("user.0", {"type": "a"}, {"type": "b"})
    assert len(callbacks) == 1  # nothing sent until the commit runs it
    callbacks[0]()
    events = [listener.next_event()["type"] for _ in range(2)]
    assert events == ["a", "b"]


def test_muted_or_blocked_tippers_make_no_notification(
    make_user, fund, eager_tasks, django_capture_on_commit_callbacks
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)

    def tip(sender):  # with the notification's task, queued on commit, run
        with django_capture_on_commit_callbacks(execute=True):
            send_tip(
                sender=sender, amount=100, currency="KRW", recipient_handle=creator.profile.handle
            )

    update_notification_settings(user=creator, muted_kinds=["tip"])
    tip(fan)
    update_notification_settings(user=creator, muted_kinds=[])
    block_user(blocker=creator, blocked=fan)
    tip(fan)
    assert not Notification.objects.filter(recipient=creator).exists()
    other = make_user("other")
    fund(other, 10_000)
    tip(other)
    assert Notification.objects.filter(recipient=creator).count() == 1


def test_unread_counts_with_the_locale_in_one_query(make_user, django_assert_num_queries):
    user = make_user("reader")
    user.locale = "ko"
    user.save(update_fields=["locale"])
    with django_assert_num_queries(1):
        counts = unread_counts(user_id=user.pk, with_locale=True)
    assert counts == {"messages": 0, "mentions": 0, "notifications": 0, "locale": "ko"}
    assert unread_counts(user_id=0) == {"messages": 0, "mentions": 0, "notifications": 0}
