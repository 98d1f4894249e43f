"""The platform fee split over sub-accounts ("shards"): each payment credits one picked at
random, refunds debit the one credited, and every total sums them."""

import importlib
import random
import threading
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from commerce.models import Account, Leg, Tip
from commerce.reconciliation import check_ledger
from commerce.selectors import platform_fee_balances
from commerce.services import InsufficientFundsError, refund_transfer, send_tip
from commerce.services.ledger import get_accounts, system_account

pytestmark = pytest.mark.django_db

FEE = Account.Kind.PLATFORM_FEE
migration = importlib.import_module("commerce.migrations.0008_platform_fee_shards")


def _fee_leg(tip: Tip) -> Leg:
    return Leg.objects.select_related("account").get(transfer_id=tip.transfer_id, account__kind=FEE)


@pytest.fixture
def shards(settings):
    settings.COMMERCE_PLATFORM_FEE_SHARDS = 4
    settings.COMMERCE_PLATFORM_FEE_BPS = 1000
    return 4


def test_tips_spread_the_fee_over_the_shards_and_the_total_is_their_sum(make_user, fund, shards):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 100_000)
    before = platform_fee_balances().get("KRW", 0)
    handle = creator.profile.handle
    tips = [
        send_tip(sender=fan, amount=100 + n, currency="KRW", recipient_handle=handle)[0]
        for n in range(40)
    ]
    legs = [_fee_leg(tip) for tip in tips]
    assert [leg.amount for leg in legs] == [tip.fee for tip in tips]
    assert {leg.account.user_id for leg in legs} == {None}
    used = {leg.account.shard for leg in legs}
    assert used <= set(range(shards)) and len(used) > 1  # 40 tips on one of 4: ~1e-23
    assert platform_fee_balances()["KRW"] - before == sum(tip.fee for tip in tips)
    assert check_ledger() == []


def test_a_refund_debits_the_shard_the_fee_was_credited_to(make_user, fund, shards):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    tip, _recipient = send_tip(
        sender=fan, amount=1_000, currency="KRW", recipient_handle=creator.profile.handle
    )
    credited = _fee_leg(tip).account
    credited.refresh_from_db()
    balance = credited.balance
    total = platform_fee_balances()["KRW"]
    reversal = refund_transfer(actor=creator, transfer_id=tip.transfer_id)
    debit = Leg.objects.get(transfer=reversal, account__kind=FEE)
    assert (debit.account_id, debit.amount) == (credited.pk, -100)
    credited.refresh_from_db()
    assert credited.balance == balance - 100 >= 0
    assert platform_fee_balances()["KRW"] == total - 100
    assert check_ledger() == []


def test_get_accounts_reads_a_named_shard_in_the_same_one_query(
    make_user, shards, django_assert_num_queries
):
    alice = make_user("alice")
    wanted = [(Account.Kind.WALLET, alice.pk), (FEE, None, 3)]
    wallet, fee = get_accounts(wanted=wanted, currency="KRW")
    assert (fee.kind, fee.user_id, fee.shard) == (FEE, None, 3)
    get_accounts(wanted=[(FEE, None, 1)], currency="KRW")
    with django_assert_num_queries(1):
        assert get_accounts(wanted=wanted, currency="KRW") == [wallet, fee]
    with django_assert_num_queries(1):
        assert get_accounts(wanted=[wanted[0], (FEE, None, 1)], currency="KRW")[1].shard == 1
    with pytest.raises(ValueError):
        get_accounts(wanted=[(Account.Kind.PROVIDER_CLEARING, None, 2)], currency="KRW")
    with pytest.raises(ValueError):
        system_account(kind=Account.Kind.PAYOUT_CLEARING, currency="KRW", shard=1)


def test_a_missing_shard_is_created_with_every_other_one(settings):
    # A currency or a larger setting the migration did not know: the first payment that
    # picks a missing shard creates them all, so the next ones find theirs in one read.
    settings.COMMERCE_CURRENCIES = [*settings.COMMERCE_CURRENCIES, "GBP"]
    settings.COMMERCE_PLATFORM_FEE_SHARDS = 6
    Account.objects.filter(kind=FEE, currency="GBP").delete()
    assert system_account(kind=FEE, currency="GBP", shard=2).shard == 2
    created = Account.objects.filter(kind=FEE, currency="GBP", user=None)
    assert sorted(created.values_list("shard", flat=True)) == list(range(6))
    assert not any(account.allow_negative for account in created)
    assert system_account(kind=FEE, currency="GBP", shard=9).shard == 9
    assert sorted(created.values_list("shard", flat=True)) == [*range(6), 9]


def test_the_migration_creates_the_shards_once_and_reverses_only_unused_ones(
    settings, make_user, fund, monkeypatch
):
    settings.COMMERCE_PLATFORM_FEE_SHARDS = 5
    editor = SimpleNamespace(connection=connection)
    migration.create_shards(apps, editor)
    migration.create_shards(apps, editor)  # idempotent
    for currency in settings.COMMERCE_CURRENCIES:
        shards = Account.objects.filter(kind=FEE, currency=currency, user=None)
        numbers = list(shards.values_list("shard", flat=True))
        assert set(numbers) >= set(range(5)) and len(numbers) == len(set(numbers))
    # Unused: the reverse removes them (shard 0, the account before sharding, stays).
    migration.remove_shards(apps, editor)
    assert set(Account.objects.filter(kind=FEE).values_list("shard", flat=True)) <= {0}
    # A fee credited to a shard above 0: refused, nothing removed.
    migration.create_shards(apps, editor)
    monkeypatch.setattr("commerce.services.tips.pick_shard", lambda *, kind: 3)
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    tip, _recipient = send_tip(
        sender=fan, amount=1_000, currency="KRW", recipient_handle=creator.profile.handle
    )
    assert _fee_leg(tip).account.shard == 3
    count = Account.objects.filter(kind=FEE).count()
    with pytest.raises(RuntimeError):
        migration.remove_shards(apps, editor)
    assert Account.objects.filter(kind=FEE).count() == count


def test_the_admin_shows_the_platform_fee_as_the_sum_of_its_shards(
    admin_client, make_user, fund, shards
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    for amount in (1_000, 2_000, 3_000):
        send_tip(sender=fan, amount=amount, currency="KRW", recipient_handle=creator.profile.handle)
    total = platform_fee_balances()["KRW"]
    assert total == sum(
        Account.objects.filter(kind=FEE, currency="KRW").values_list("balance", flat=True)
    )
    page = admin_client.get("/admin/commerce/account/")
    assert page.status_code == 200
    assert f'<span data-currency="KRW">{total} KRW</span>' in page.content.decode()


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_tips_and_refunds_keep_every_shard_exact(make_user, fund, settings):
    """Tips to several creators from many threads while the creators refund some of
    them: each refund debits the shard its tip credited, no shard goes below zero, and
    the fee's total is the fees of the tips not refunded."""
    settings.COMMERCE_PLATFORM_FEE_SHARDS = 3  # few shards: many tips share each
    settings.COMMERCE_PLATFORM_FEE_BPS = 1000
    creators = [make_user(f"creator{n}") for n in range(3)]
    fans = [make_user(f"fan{n}") for n in range(6)]
    for fan in fans:
        fund(fan, 50_000)
    before = platform_fee_balances().get("KRW", 0)
    paid: list[Tip] = []
    paid_lock = threading.Lock()
    refunded: set[int] = set()
    errors: list = []
    done = threading.Event()
    barrier = threading.Barrier(len(fans) + len(creators))

    def tipper(index: int) -> None:
        rng = random.Random(index)
        barrier.wait()
        for _ in range(20):
            creator = rng.choice(creators)
            tip, _r = send_tip(
                sender=fans[index],
                amount=rng.randint(10, 900),
                currency="KRW",
                recipient_handle=creator.profile.handle,
            )
            with paid_lock:
                paid.append(tip)

    def refunder(index: int) -> None:
        rng = random.Random(100 + index)
        barrier.wait()
        while not done.is_set():
            with paid_lock:
                mine = [t for t in paid if t.recipient_id == creators[index].pk]
            if mine and rng.random() < 0.5:
                tip = rng.choice(mine)
                if tip.pk not in refunded:
                    try:
                        refund_transfer(actor=creators[index], transfer_id=tip.transfer_id)
                    except InsufficientFundsError:
                        pass
                    else:
                        refunded.add(tip.pk)

    def run(target, index):
        try:
            target(index)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(tipper, n)) for n in range(len(fans))]
    refunders = [threading.Thread(target=run, args=(refunder, n)) for n in range(len(creators))]
    for thread in threads + refunders:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    for thread in refunders:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(paid) == 120 and refunded
    for tip in Tip.objects.filter(pk__in=refunded):
        credit = _fee_leg(tip)
        debit = Leg.objects.get(transfer__reverses_id=tip.transfer_id, account__kind=FEE)
        assert (debit.account_id, debit.amount) == (credit.account_id, -credit.amount)
    fees = Account.objects.filter(kind=FEE, currency="KRW")
    assert all(balance >= 0 for balance in fees.values_list("balance", flat=True))
    kept = sum(tip.fee for tip in paid if tip.pk not in refunded)
    assert platform_fee_balances()["KRW"] - before == kept
    assert len({_fee_leg(tip).account.shard for tip in paid}) == 3
    assert check_ledger() == []
