"""A Hypothesis state machine drives the ledger against an in-memory model of balances."""

import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from commerce.fees import split_fee
from commerce.models import Account, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import InsufficientFundsError, create_topup, send_tip
from commerce.services.ledger import (
    LegSpec,
    post_pending_transfer,
    post_transfer,
    reverse_transfer,
    user_account,
    void_pending_transfer,
)
from config.errors import ConflictError
from profiles.services import register_user
from tests.commerce.conftest import pending_earnings

pytestmark = pytest.mark.django_db

USERS = 3
_names = itertools.count(1)
amounts = st.integers(min_value=1, max_value=3000)
people = st.integers(min_value=0, max_value=USERS - 1)


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    posted = Bundle("posted")

    def __init__(self):
        super().__init__()
        self.users = [
            register_user(username=f"sm{next(_names)}", password="a-long-test-password-42")
            for _ in range(USERS)
        ]
        self.wallets = [
            user_account(user_id=u.pk, kind=Account.Kind.WALLET, currency="KRW") for u in self.users
        ]
        # The model: posted balance and amount held, per wallet; earnings per user.
        self.balance = [0] * USERS
        self.held = [0] * USERS
        self.earnings = [0] * USERS

    def available(self, who: int) -> int:
        return self.balance[who] - self.held[who]

    @rule(target=posted, who=people, amount=amounts)
    def top_up(self, who, amount):
        topup = create_topup(user=self.users[who], amount=amount, currency="KRW")
        self.balance[who] += amount
        return ("topup", topup.transfer_id, who, None, amount)

    @rule(target=posted, payer=people, payee=people, amount=amounts)
    def move(self, payer, payee, amount):
        if payer == payee:
            return ("none", None, None, None, 0)
        legs = [
            LegSpec(account=self.wallets[payer], amount=-amount),
            LegSpec(account=self.wallets[payee], amount=amount),
        ]
        if amount > self.available(payer):
            with pytest.raises(InsufficientFundsError):
                post_transfer(kind=Transfer.Kind.ADJUSTMENT, legs=legs)
            return ("none", None, None, None, 0)
        transfer = post_transfer(kind=Transfer.Kind.ADJUSTMENT, legs=legs)
        self.balance[payer] -= amount
        self.balance[payee] += amount
        return ("move", transfer.pk, payer, payee, amount)

    @rule(payer=people, payee=people, amount=amounts)
    def tip(self, payer, payee, amount):
        if payer == payee:
            return
        handle = self.users[payee].profile.handle
        if amount > self.available(payer):
            with pytest.raises(InsufficientFundsError):
                send_tip(
                    sender=self.users[payer], amount=amount, currency="KRW", recipient_handle=handle
                )
            return
        send_tip(sender=self.users[payer], amount=amount, currency="KRW", recipient_handle=handle)
        self.balance[payer] -= amount
        self.earnings[payee] += split_fee(amount).net

    @rule(target=holds, payer=people, payee=people, amount=amounts)
    def hold(self, payer, payee, amount):
        if payer == payee or amount > self.available(payer):
            return ("none", None, None, None, 0)
        transfer = post_transfer(
            kind=Transfer.Kind.ADJUSTMENT,
            pending=True,
            legs=[
                LegSpec(account=self.wallets[payer], amount=-amount),
                LegSpec(account=self.wallets[payee], amount=amount),
            ],
        )
        self.held[payer] += amount
        return ("hold", transfer.pk, payer, payee, amount)

    @rule(hold=consumes(holds), post=st.booleans(), twice=st.booleans())
    def resolve(self, hold, post, twice):
        kind, pk, payer, payee, amount = hold
        if kind == "none":
            return
        (post_pending_transfer if post else void_pending_transfer)(pending_id=pk)
        self.held[payer] -= amount
        if post:
            self.balance[payer] -= amount
            self.balance[payee] += amount
        if twice:
            with pytest.raises(ConflictError):
                post_pending_transfer(pending_id=pk)

    @rule(entry=consumes(posted))
    def reverse(self, entry):
        kind, pk, payer, payee, amount = entry
        if kind == "none":
            return
        # Reversing a top-up takes the money back out of the wallet.
        source = payee if kind == "move" else payer
        if amount > self.available(source):
            with pytest.raises(InsufficientFundsError):
                reverse_transfer(transfer_id=pk)
            return
        reverse_transfer(transfer_id=pk)
        if kind == "move":
            self.balance[payer] += amount
            self.balance[payee] -= amount
        else:
            self.balance[payer] -= amount

    @invariant()
    def stored_balances_match_the_model(self):
        for who in range(USERS):
            account = Account.objects.get(pk=self.wallets[who].pk)
            assert (account.balance, account.pending_debits) == (self.balance[who], self.held[who])
            assert pending_earnings(self.users[who].pk) == self.earnings[who]

    def teardown(self):
        assert check_ledger() == []


def test_ledger_matches_an_in_memory_model():
    with transaction.atomic():
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=25,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
