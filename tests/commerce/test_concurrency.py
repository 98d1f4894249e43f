"""Real concurrency on PostgreSQL: threads with their own connections, committed data."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from commerce.models import Account, IdempotencyKey, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import InsufficientFundsError, create_topup, send_tip
from commerce.services.ledger import (
    LegSpec,
    post_pending_transfer,
    post_transfer,
    user_account,
)
from config.errors import ConflictError
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

THREADS = 16
TRANSFERS = 2000
ACCOUNTS = 50
FUNDING = 5_000


def _run_threads(count: int, work) -> list:
    """Run ``work(index)`` in ``count`` threads; each closes its own connection."""
    results: list = [None] * count
    errors: list = []

    def runner(index: int):
        try:
            results[index] = work(index)
        except BaseException as exc:  # surfaced below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return results


def test_storm_of_transfers_keeps_every_invariant(make_user):
    users = [make_user() for _ in range(ACCOUNTS)]
    for user in users:
        create_topup(user=user, amount=FUNDING, currency="KRW")
    wallets = [
        user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW") for user in users
    ]
    hot_creator = users[0]
    hot_handle = hot_creator.profile.handle
    transfers_before = Transfer.objects.count()
    per_thread = TRANSFERS // THREADS

    def work(index: int) -> Counter:
        rng = random.Random(index)
        outcome: Counter = Counter()
        for _ in range(per_thread):
            payer = rng.randrange(1, ACCOUNTS)
            amount = rng.randint(1, 400)
            try:
                if rng.random() < 0.5:  # everyone tips the hot creator
                    send_tip(
                        sender=users[payer],
                        amount=amount,
                        currency="KRW",
                        recipient_handle=hot_handle,
                    )
                else:  # or moves money to a random wallet, often the hot one
                    payee = 0 if rng.random() < 0.3 else rng.randrange(ACCOUNTS)
                    if payee == payer:
                        payee = 0
                    post_transfer(
                        kind=Transfer.Kind.ADJUSTMENT,
                        legs=[
                            LegSpec(account=wallets[payer], amount=-amount),
                            LegSpec(account=wallets[payee], amount=amount),
                        ],
                    )
                outcome["ok"] += 1
            except InsufficientFundsError:
                outcome["insufficient"] += 1
        return outcome

    totals = sum(_run_threads(THREADS, work), Counter())
    assert totals["ok"] + totals["insufficient"] == per_thread * THREADS == TRANSFERS
    assert totals["ok"] == Transfer.objects.count() - transfers_before
    assert totals["ok"] > TRANSFERS // 2
    assert check_ledger() == []
    # Money is conserved: wallets + the hot creator's earnings + fees = what came in.
    held = sum(Account.objects.filter(user__isnull=False).values_list("balance", flat=True)) + sum(
        Account.objects.filter(kind=Account.Kind.PLATFORM_FEE).values_list("balance", flat=True)
    )
    assert held == FUNDING * ACCOUNTS
    assert not Account.objects.filter(allow_negative=False, balance__lt=0).exists()


def test_idempotent_retry_released_from_a_barrier_creates_one_transfer(make_user):
    user = make_user()
    barrier = threading.Barrier(8)

    def work(index: int):
        client = client_for(user)
        barrier.wait()
        response = client.post(
            "/api/v1/wallet/topups/",
            {"amount": 1234, "currency": "KRW"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="retry-storm",
        )
        return response.status_code, response.get("Idempotent-Replayed"), response.json()

    results = _run_threads(8, work)
    statuses = Counter(status for status, _, _ in results)
    assert set(statuses) <= {201, 409}, results
    originals = [body for status, replayed, body in results if status == 201 and not replayed]
    assert len(originals) == 1
    for status, _replayed, body in results:
        if status == 201:
            assert body == originals[0]
        else:
            assert body["error"]["code"] == "idempotency_key_in_flight"
    assert Transfer.objects.filter(kind=Transfer.Kind.TOPUP).count() == 1
    assert user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW").balance == 1234
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.COMPLETED
    assert check_ledger() == []


def test_a_pending_transfer_posted_twice_at_once_posts_once(make_user):
    alice, bob = make_user(), make_user()
    create_topup(user=alice, amount=1000, currency="KRW")
    hold = post_transfer(
        kind=Transfer.Kind.ADJUSTMENT,
        pending=True,
        legs=[
            LegSpec(
                account=user_account(user_id=alice.pk, kind=Account.Kind.WALLET, currency="KRW"),
                amount=-600,
            ),
            LegSpec(
                account=user_account(user_id=bob.pk, kind=Account.Kind.WALLET, currency="KRW"),
                amount=600,
            ),
        ],
    )
    barrier = threading.Barrier(4)

    def work(index: int) -> str:
        barrier.wait()
        try:
            post_pending_transfer(pending_id=hold.pk)
        except ConflictError as error:
            return error.code
        return "posted"

    outcomes = Counter(_run_threads(4, work))
    assert outcomes == Counter({"posted": 1, "already_resolved": 3})
    bob_wallet = user_account(user_id=bob.pk, kind=Account.Kind.WALLET, currency="KRW")
    assert bob_wallet.balance == 600
    assert check_ledger() == []


def test_exception_between_the_halves_commits_nothing(make_user, monkeypatch):
    from commerce.services import ledger

    alice, bob = make_user(), make_user()
    create_topup(user=alice, amount=500, currency="KRW")
    before = Transfer.objects.count()
    real_statement = ledger._write_in_one_statement

    def crash_after_the_balances(**kwargs):
        # On PostgreSQL every balance and leg is one statement: the crash comes after
        # it, with the debit and the credit written but not committed.
        real_statement(**kwargs)
        raise RuntimeError("crash between the writes and the commit")

    monkeypatch.setattr(ledger, "_write_in_one_statement", crash_after_the_balances)
    with pytest.raises(RuntimeError):
        send_tip(sender=alice, amount=100, currency="KRW", recipient_handle=bob.profile.handle)
    monkeypatch.undo()
    assert Transfer.objects.count() == before
    assert user_account(user_id=alice.pk, kind=Account.Kind.WALLET, currency="KRW").balance == 500
    assert check_ledger() == []


def test_a_deadlock_is_retried_until_both_transactions_commit(make_user):
    from commerce.services.ledger import atomic_with_retry

    first, second = (
        user_account(user_id=make_user().pk, kind=Account.Kind.WALLET, currency="KRW")
        for _ in range(2)
    )
    both_hold_one = threading.Barrier(2)
    attempts = Counter()

    def lock_in_order(name: str, ids: list[int]):
        @atomic_with_retry
        def locked():
            attempts[name] += 1
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM commerce_account WHERE id = %s FOR UPDATE", [ids[0]])
                if attempts[name] == 1:  # only the first attempt races into the cycle
                    both_hold_one.wait(timeout=10)
                cursor.execute("SELECT id FROM commerce_account WHERE id = %s FOR UPDATE", [ids[1]])
            return name

        return locked()

    # Deliberately opposite orders (the services never do this): PostgreSQL picks a
    # deadlock victim, whose whole transaction is retried.
    results = _run_threads(
        2,
        lambda index: lock_in_order(
            "ab" if index == 0 else "ba",
            [first.pk, second.pk] if index == 0 else [second.pk, first.pk],
        ),
    )
    assert sorted(results) == ["ab", "ba"]
    assert sum(attempts.values()) == 3
