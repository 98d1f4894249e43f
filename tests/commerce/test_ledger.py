"""The posting engine: guards, atomicity, holds, reversals, append-only rows."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from commerce.models import Account, Leg, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import ledger
from commerce.services.ledger import (
    InsufficientFundsError,
    LegSpec,
    post_pending_transfer,
    post_transfer,
    reverse_transfer,
    system_account,
    user_account,
    void_pending_transfer,
)
from config.errors import ConflictError, DomainError

pytestmark = pytest.mark.django_db


def wallet(user, currency="KRW"):
    return user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency=currency)


def test_transfer_moves_money_and_keeps_every_invariant(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 1000)
    post_transfer(
        kind=Transfer.Kind.ADJUSTMENT,
        legs=[
            LegSpec(account=wallet(alice), amount=-300),
            LegSpec(account=wallet(bob), amount=300),
        ],
    )
    assert wallet(alice).balance == 700
    assert wallet(bob).balance == 300
    clearing = system_account(kind=Account.Kind.PROVIDER_CLEARING, currency="KRW")
    assert clearing.balance == -1000  # a house account may go negative
    assert check_ledger() == []


def test_legs_keep_their_order_amounts_and_any_counterparty_text(make_user, fund):
    """On PostgreSQL the legs go to the database as array literals: every text comes
    back as written (quotes, backslashes, commas, braces, the word NULL, empty)."""
    alice, bob, carol = make_user(), make_user(), make_user()
    fund(alice, 1000)
    labels = ['say "hi" \\ {x}, y', "NULL", "", "  ☃ 한글\ttab\n"]
    transfer = post_transfer(
        kind=Transfer.Kind.ADJUSTMENT,
        legs=[
            LegSpec(account=wallet(alice), amount=-700, counterparty=labels[0]),
            LegSpec(account=wallet(bob), amount=400, gross=450, fee=50, counterparty=labels[1]),
            LegSpec(account=wallet(carol), amount=200, counterparty=labels[2]),
            LegSpec(account=wallet(bob), amount=100, counterparty=labels[3] * 40),
        ],
    )
    legs = list(transfer.legs.order_by("id"))
    assert [leg.counterparty for leg in legs] == [*labels[:3], (labels[3] * 40)[:120]]
    assert [(leg.amount, leg.gross, leg.fee) for leg in legs] == [
        (-700, -700, 0),
        (400, 450, 50),
        (200, 200, 0),
        (100, 100, 0),
    ]
    assert [leg.balance_after for leg in legs] == [300, 500, 200, 500]
    assert {leg.currency for leg in legs} == {"KRW"}
    assert check_ledger() == []


def test_guarded_account_cannot_go_below_zero(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 100)
    with pytest.raises(InsufficientFundsError):
        post_transfer(
            kind=Transfer.Kind.ADJUSTMENT,
            legs=[
                LegSpec(account=wallet(alice), amount=-101),
                LegSpec(account=wallet(bob), amount=101),
            ],
        )
    assert wallet(alice).balance == 100
    assert wallet(bob).balance == 0
    assert Transfer.objects.filter(kind=Transfer.Kind.ADJUSTMENT).count() == 0


def test_database_check_refuses_a_negative_guarded_balance(make_user):
    account = wallet(make_user())
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE commerce_account SET balance = -1 WHERE id = %s", [account.pk])


def test_unbalanced_legs_are_refused(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 100)
    with pytest.raises(DomainError) as caught:
        post_transfer(
            kind=Transfer.Kind.ADJUSTMENT,
            legs=[
                LegSpec(account=wallet(alice), amount=-10),
                LegSpec(account=wallet(bob), amount=9),
            ],
        )
    assert caught.value.code == "unbalanced"
    with pytest.raises(DomainError):
        post_transfer(
            kind=Transfer.Kind.ADJUSTMENT,
            legs=[
                LegSpec(account=wallet(alice), amount=-10),
                LegSpec(account=wallet(bob, "USD"), amount=10),
            ],
        )


def test_an_exception_between_the_two_halves_leaves_nothing(make_user, fund, monkeypatch):
    alice, bob = make_user(), make_user()
    fund(alice, 500)
    transfers_before, legs_before = Transfer.objects.count(), Leg.objects.count()
    real_apply = ledger._apply_account_delta
    calls = []

    def crash_on_second_half(cursor, account_id, *deltas):
        calls.append(account_id)
        if len(calls) == 2:
            raise RuntimeError("power cut between debit and credit")
        return real_apply(cursor, account_id, *deltas)

    def crash_after_the_statement(**kwargs):
        # PostgreSQL writes every balance and leg in one statement: the cut comes after it.
        calls.extend(sorted(kwargs["deltas"]))
        real_statement(**kwargs)
        raise RuntimeError("power cut before the commit")

    real_statement = ledger._write_in_one_statement
    monkeypatch.setattr(ledger, "_apply_account_delta", crash_on_second_half)
    monkeypatch.setattr(ledger, "_write_in_one_statement", crash_after_the_statement)
    with pytest.raises(RuntimeError), transaction.atomic():
        post_transfer(
            kind=Transfer.Kind.ADJUSTMENT,
            legs=[
                LegSpec(account=wallet(alice), amount=-200),
                LegSpec(account=wallet(bob), amount=200),
            ],
        )
    monkeypatch.undo()
    assert len(calls) == 2
    assert (Transfer.objects.count(), Leg.objects.count()) == (transfers_before, legs_before)
    assert wallet(alice).balance == 500
    assert wallet(bob).balance == 0
    assert check_ledger() == []


def _hold(alice, bob, amount=300, expires_at=None):
    return post_transfer(
        kind=Transfer.Kind.ADJUSTMENT,
        pending=True,
        expires_at=expires_at,
        legs=[
            LegSpec(account=wallet(alice), amount=-amount),
            LegSpec(account=wallet(bob), amount=amount),
        ],
    )


def test_pending_transfer_reserves_then_posts_once(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 500)
    hold = _hold(alice, bob)
    held = wallet(alice)
    assert (held.balance, held.pending_debits, held.available) == (500, 300, 200)
    with pytest.raises(InsufficientFundsError):  # the hold is not spendable twice
        _hold(alice, bob, amount=201)
    post_pending_transfer(pending_id=hold.pk)
    with pytest.raises(ConflictError) as caught:
        post_pending_transfer(pending_id=hold.pk)
    assert caught.value.code == "already_resolved"
    with pytest.raises(ConflictError):
        void_pending_transfer(pending_id=hold.pk)
    assert (wallet(alice).balance, wallet(alice).pending_debits) == (200, 0)
    assert (wallet(bob).balance, wallet(bob).pending_credits) == (300, 0)
    assert Transfer.objects.filter(resolves=hold).count() == 1
    assert check_ledger() == []


def test_void_releases_a_hold_and_expired_holds_cannot_post(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 500)
    hold = _hold(alice, bob)
    void_pending_transfer(pending_id=hold.pk)
    assert (wallet(alice).balance, wallet(alice).pending_debits) == (500, 0)
    expired = _hold(alice, bob, expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ConflictError) as caught:
        post_pending_transfer(pending_id=expired.pk)
    assert caught.value.code == "hold_expired"
    assert check_ledger() == []


def test_reversal_mirrors_a_transfer_at_most_once(make_user, fund):
    alice = make_user()
    topup = fund(alice, 400)
    reversal = reverse_transfer(transfer_id=topup.transfer_id)
    assert reversal.reverses_id == topup.transfer_id
    assert wallet(alice).balance == 0
    with pytest.raises(ConflictError):
        reverse_transfer(transfer_id=topup.transfer_id)
    with pytest.raises(DomainError):
        reverse_transfer(transfer_id=reversal.pk)
    assert check_ledger() == []


def test_ledger_rows_refuse_changes_in_python(make_user, fund):
    topup = fund(make_user(), 100)
    transfer = Transfer.objects.get(pk=topup.transfer_id)
    with pytest.raises(TypeError):
        transfer.save()
    with pytest.raises(TypeError):
        Leg.objects.filter(transfer=transfer).update(amount=1)
    with pytest.raises(TypeError):
        Leg.objects.filter(transfer=transfer).delete()


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE commerce_transfer SET description = 'x' WHERE id = %s",
        "DELETE FROM commerce_transfer WHERE id = %s",
        "UPDATE commerce_leg SET amount = amount + 1 WHERE transfer_id = %s",
        "DELETE FROM commerce_leg WHERE transfer_id = %s",
    ],
)
def test_postgres_trigger_refuses_update_and_delete(make_user, fund, statement):
    topup = fund(make_user(), 100)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [topup.transfer_id])


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_deferred_trigger_refuses_unbalanced_legs_at_commit(make_user):
    account = wallet(make_user())
    with pytest.raises(IntegrityError, match="sum to zero"), transaction.atomic():
        transfer = Transfer.objects.create(kind=Transfer.Kind.ADJUSTMENT)
        Leg.objects.create(
            transfer=transfer,
            account=account,
            currency="KRW",
            amount=5,
            gross=5,
            is_posted=True,
            balance_after=0,
        )
    assert not Transfer.objects.exists()
