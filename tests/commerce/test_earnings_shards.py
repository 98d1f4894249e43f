"""A creator's pending earnings split over sub-accounts ("shards"): each payment credits
one picked at random, a merge moves them into shard 0 (beat, and before anything debits
it), refunds debit the shard credited or, once merged, shard 0, and every reader sums
them."""

import csv
import io
import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from commerce import tasks
from commerce.models import Account, Leg, Tip, Transfer
from commerce.reconciliation import check_ledger
from commerce.selectors import wallet_balances
from commerce.services import InsufficientFundsError, refund_transfer, send_tip
from commerce.services.ledger import (
    LegSpec,
    get_accounts,
    post_transfer,
    reverse_transfer,
    user_account,
)
from commerce.services.payouts import earnings_hold, maturable_amount, mature_account_earnings
from config.errors import DomainError
from tests.commerce.conftest import pending_earnings
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db

PENDING = Account.Kind.EARNINGS_PENDING


@pytest.fixture
def shards(settings):
    settings.COMMERCE_EARNINGS_SHARDS = 4
    settings.COMMERCE_PLATFORM_FEE_BPS = 1000
    return 4


def _tip(fan, creator, amount: int) -> Tip:
    return send_tip(
        sender=fan, amount=amount, currency="KRW", recipient_handle=creator.profile.handle
    )[0]


def _earnings_leg(tip: Tip) -> Leg:
    return Leg.objects.select_related("account").get(
        transfer_id=tip.transfer_id, account__kind=PENDING
    )


def _shard_of(tip: Tip) -> int:
    return _earnings_leg(tip).account.shard


def _shard_balances(user) -> dict[int, int]:
    return dict(
        Account.objects.filter(user=user, kind=PENDING, currency="KRW").values_list(
            "shard", "balance"
        )
    )


def _wallet(user) -> Account:
    return user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW")


def _on_shard(monkeypatch, number: int) -> None:
    monkeypatch.setattr("commerce.services.tips.pick_shard", lambda *, kind: number)


def test_tips_spread_over_the_shards_and_every_balance_is_their_sum(make_user, fund, shards):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 100_000)
    tips = [_tip(fan, creator, 100 + n) for n in range(40)]
    used = {_shard_of(tip) for tip in tips}
    assert used <= set(range(shards)) and len(used) > 1  # 40 tips on one of 4: ~1e-23
    nets = sum(tip.amount - tip.fee for tip in tips)
    assert sum(_shard_balances(creator).values()) == nets
    (row,) = wallet_balances(user_id=creator.pk)
    assert (row["pending"], row["earnings_pending"]) == (nets, nets)
    body = client_for(creator).get("/api/v1/wallet/").json()["balances"][0]
    assert body["pending"] == nets
    assert check_ledger() == []


def test_one_shard_is_one_row_as_before(make_user, fund, settings):
    settings.COMMERCE_EARNINGS_SHARDS = 1
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    for amount in (100, 200, 300):
        _tip(fan, creator, amount)
    assert list(_shard_balances(creator)) == [0]
    assert tasks.merge_earnings_shards() == 0


def test_get_accounts_reads_an_earnings_shard_in_the_same_one_query(
    make_user, shards, django_assert_num_queries
):
    alice, bob = make_user("alice"), make_user("bob")
    wanted = [(Account.Kind.WALLET, alice.pk), (PENDING, bob.pk, 3)]
    wallet, earnings = get_accounts(wanted=wanted, currency="KRW")  # creates bob's shards
    assert (earnings.kind, earnings.user_id, earnings.shard) == (PENDING, bob.pk, 3)
    assert sorted(_shard_balances(bob)) == list(range(shards))
    main = user_account(user_id=bob.pk, kind=PENDING, currency="KRW")
    assert main.shard == 0 and main.pk < earnings.pk  # shard 0 locks first
    with django_assert_num_queries(1):
        assert get_accounts(wanted=wanted, currency="KRW") == [wallet, earnings]
    with django_assert_num_queries(1):
        assert get_accounts(wanted=[wanted[0], (PENDING, bob.pk, 1)], currency="KRW")[1].shard == 1
    with pytest.raises(ValueError):
        get_accounts(wanted=[(Account.Kind.WALLET, alice.pk, 2)], currency="KRW")


def test_the_merge_task_moves_every_shard_into_shard_0_once(make_user, fund, shards):
    fan, creator, other = make_user("fan"), make_user("creator"), make_user("other")
    fund(fan, 100_000)
    tips = [_tip(fan, creator, 1_000 + n) for n in range(20)] + [_tip(fan, other, 500)]
    total = sum(_shard_balances(creator).values())
    assert tasks.merge_earnings_shards() >= 1
    assert _shard_balances(creator) == {0: total, 1: 0, 2: 0, 3: 0}
    merges = Transfer.objects.filter(kind=Transfer.Kind.EARNINGS_MERGE)
    count = merges.count()
    # Idempotent: a second run, or one for the given ids, moves nothing.
    assert tasks.merge_earnings_shards() == 0
    main = user_account(user_id=creator.pk, kind=PENDING, currency="KRW")
    assert tasks.merge_earnings_shards(account_ids=[main.pk]) == 0
    assert merges.count() == count
    # A merge is no payment: it is not refunded, and the statement does not list it.
    with pytest.raises(DomainError):
        reverse_transfer(transfer_id=merges.first().pk)
    lines = client_for(creator).get("/api/v1/wallet/transactions/").json()["results"]
    assert {line["kind"] for line in lines} == {"tip"}
    assert lines[0]["balance"] == total == pending_earnings(creator.pk)
    assert len(tips) == 21 and check_ledger() == []


def test_the_statement_shows_a_running_balance_over_the_shards(make_user, fund, shards):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 100_000)
    tips = [_tip(fan, creator, 300 + 7 * n) for n in range(12)]
    refund_transfer(actor=creator, transfer_id=tips[3].transfer_id)
    tasks.merge_earnings_shards()
    tips += [_tip(fan, creator, 400 + n) for n in range(6)]
    refund_transfer(actor=creator, transfer_id=tips[1].transfer_id)  # merged: shard 0
    client = client_for(creator)
    # Newest first, two pages (the cursor's both ways): each balance is the one before
    # plus the line's net; the newest is the pending total.
    pages = [client.get("/api/v1/wallet/transactions/?account=earnings_pending&limit=8").json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    assert len(pages) == 3
    back = client.get(pages[2]["previous"]).json()  # the cursor's other direction
    assert back["results"] == pages[1]["results"]
    lines = list(reversed([line for page in pages for line in page["results"]]))
    assert len(lines) == 12 + 1 + 6 + 1
    running = 0
    for line in lines:
        running += line["net"]
        assert line["balance"] == running
    assert running == pending_earnings(creator.pk)
    # The web statement and its CSV show the same figures.
    web = client_for(creator, session=True)
    page = web.get("/wallet/statement/")
    assert [line.running_balance for line in page.context["lines"]] == [
        line["balance"] for line in reversed(lines)
    ]
    text = b"".join(web.get("/wallet/statement.csv").streaming_content).decode()
    csv_balances = [int(row["balance"]) for row in csv.DictReader(io.StringIO(text))]
    assert csv_balances == [line["balance"] for line in lines]


def test_a_refund_debits_the_unmerged_shard_it_credited(make_user, fund, shards, monkeypatch):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    _on_shard(monkeypatch, 2)
    tip = _tip(fan, creator, 1_000)
    _tip(fan, creator, 500)
    reversal = refund_transfer(actor=creator, transfer_id=tip.transfer_id)
    debit = Leg.objects.select_related("account").get(transfer=reversal, account__kind=PENDING)
    assert (debit.account.shard, debit.amount) == (2, -900)
    assert _shard_balances(creator)[2] == 450
    assert not Transfer.objects.filter(kind=Transfer.Kind.EARNINGS_MERGE).exists()
    assert check_ledger() == []


def test_a_refund_of_a_merged_tip_debits_shard_0(make_user, fund, shards, monkeypatch):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    _on_shard(monkeypatch, 2)
    tip = _tip(fan, creator, 1_000)
    tasks.merge_earnings_shards()
    _on_shard(monkeypatch, 3)
    _tip(fan, creator, 2_000)  # shard 3: 1,800, merged into shard 0 before the debit
    reversal = refund_transfer(actor=creator, transfer_id=tip.transfer_id)
    debit = Leg.objects.select_related("account").get(transfer=reversal, account__kind=PENDING)
    assert (debit.account.shard, debit.amount) == (0, -900)
    assert _shard_balances(creator) == {0: 1_800, 1: 0, 2: 0, 3: 0}
    assert pending_earnings(creator.pk) == 1_800
    assert _wallet(fan).balance == 8_000
    assert check_ledger() == []


def test_a_refund_the_pending_earnings_cannot_cover_is_refused(
    make_user, fund, shards, settings, monkeypatch
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    _on_shard(monkeypatch, 1)
    tip = _tip(fan, creator, 1_000)
    settings.COMMERCE_EARNINGS_HOLD = timedelta(0)
    call_command("commerce_jobs", only="mature")  # merged, then released
    assert pending_earnings(creator.pk) == 0
    with pytest.raises(InsufficientFundsError):
        refund_transfer(actor=creator, transfer_id=tip.transfer_id)
    assert all(balance >= 0 for balance in _shard_balances(creator).values())
    assert not Transfer.objects.filter(kind=Transfer.Kind.REVERSAL).exists()
    assert check_ledger() == []


def test_maturation_and_the_hold_count_the_shards_credits_not_the_merges(
    make_user, fund, shards, settings, monkeypatch
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 100_000)
    for _ in range(8):
        _tip(fan, creator, 1_000)  # 900 each, over the shards
    between = timezone.now()
    assert tasks.merge_earnings_shards() == 1  # 8 tips all on shard 0: 1 in 65,536
    # Once the tips' hold is over, everything is free: the merge's credit, after
    # ``between``, is money credited before, not a new credit.
    later = between + settings.COMMERCE_EARNINGS_HOLD
    hold = earnings_hold(user_id=creator.pk, currency="KRW", amount=5_000, now=later)
    assert (hold["held"], hold["available_on"]) == (7_200, later)
    shards_now = list(Account.objects.filter(user=creator, kind=PENDING))
    assert maturable_amount(accounts=shards_now, now=later) == 7_200
    assert maturable_amount(accounts=shards_now) == 0  # now: all in the hold
    # A new tip into a shard above 0 counts, held and in the hold.
    _on_shard(monkeypatch, 3)
    new = _tip(fan, creator, 2_000)
    hold = earnings_hold(user_id=creator.pk, currency="KRW", amount=10_000)
    assert (hold["held"], hold["available_on"]) == (9_000, None)
    assert hold["held_until"] == _earnings_leg(new).created_at + settings.COMMERCE_EARNINGS_HOLD
    main = user_account(user_id=creator.pk, kind=PENDING, currency="KRW")
    assert mature_account_earnings(account_id=main.pk) == 0
    settings.COMMERCE_EARNINGS_HOLD = timedelta(0)
    assert mature_account_earnings(account_id=main.pk) == 9_000  # merged, then released
    assert pending_earnings(creator.pk) == 0
    kind = Account.Kind.EARNINGS_AVAILABLE
    assert user_account(user_id=creator.pk, kind=kind, currency="KRW").balance == 9_000
    assert check_ledger() == []


def test_ledger_check_finds_a_reversal_that_does_not_net_its_original(make_user, fund, shards):
    fan, creator, stranger = make_user("fan"), make_user("creator"), make_user("stranger")
    fund(fan, 10_000)
    fund(stranger, 10_000)
    tip = _tip(fan, creator, 1_000)
    # A "reversal" paying the fan back from someone else's wallet: balanced, wrong.
    post_transfer(
        kind=Transfer.Kind.REVERSAL,
        legs=[
            LegSpec(account=_wallet(stranger), amount=-1_000),
            LegSpec(account=_wallet(fan), amount=1_000),
        ],
        reverses=tip.transfer,
    )
    problems = {problem.invariant for problem in check_ledger()}
    assert problems == {"reversal_nets_original"}


# --- Concurrency (PostgreSQL, threads) ---------------------------------------------------


def _run_threads(targets) -> list:
    errors: list = []

    def run(target):
        try:
            target()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_tips_racing_merges_and_maturation_lose_nothing(make_user, fund, settings):
    """Tips into the shards from many threads while merges and releases run: every
    payment's net ends up in the pending earnings or released once, nothing negative."""
    settings.COMMERCE_EARNINGS_SHARDS = 4
    settings.COMMERCE_PLATFORM_FEE_BPS = 1000
    settings.COMMERCE_EARNINGS_HOLD = timedelta(0)
    creator = make_user("creator")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for fan in fans:
        fund(fan, 100_000)
    _tip(fans[0], creator, 100)  # the shards exist before the race
    main = user_account(user_id=creator.pk, kind=PENDING, currency="KRW")
    done = threading.Event()
    barrier = threading.Barrier(len(fans) + 2)
    released: list[int] = []

    def tipper(fan):
        def run():
            rng = random.Random(fan.pk)
            barrier.wait()
            for _ in range(15):
                _tip(fan, creator, rng.randint(10, 900))

        return run

    def merger():
        barrier.wait()
        while not done.is_set():
            tasks.merge_earnings_shards(account_ids=[main.pk])

    def releaser():
        barrier.wait()
        while not done.is_set():
            released.append(mature_account_earnings(account_id=main.pk))

    workers = [tipper(fan) for fan in fans]
    errors: list = []
    background = threading.Thread(target=lambda: errors.extend(_run_threads([merger, releaser])))
    background.start()
    errors += _run_threads(workers)
    done.set()
    background.join(timeout=300)
    assert not errors, errors
    nets = sum(tip.amount - tip.fee for tip in Tip.objects.filter(recipient=creator))
    kind = Account.Kind.EARNINGS_AVAILABLE
    available = user_account(user_id=creator.pk, kind=kind, currency="KRW")
    assert pending_earnings(creator.pk) + available.balance == nets
    assert available.balance == sum(released)
    assert all(balance >= 0 for balance in _shard_balances(creator).values())
    assert check_ledger() == []


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_refunds_of_merged_tips_racing_tips_keep_every_shard_exact(make_user, fund, settings):
    """Refunds of tips whose shards were merged (shard 0 debited) and of unmerged ones
    while tips keep crediting the shards and merges run: the pending earnings are the
    nets of the tips not refunded, no shard below zero, every reversal nets its tip."""
    settings.COMMERCE_EARNINGS_SHARDS = 4
    settings.COMMERCE_PLATFORM_FEE_BPS = 1000
    creator = make_user("creator")
    fans = [make_user(f"fan{n}") for n in range(4)]
    for fan in fans:
        fund(fan, 100_000)
    first = [_tip(fans[n % 4], creator, 200 + n) for n in range(16)]
    tasks.merge_earnings_shards()  # these are all in shard 0 now
    paid: list[Tip] = list(first)
    paid_lock = threading.Lock()
    refunded: set[int] = set()
    done = threading.Event()
    barrier = threading.Barrier(len(fans) + 2)
    main = user_account(user_id=creator.pk, kind=PENDING, currency="KRW")

    def tipper(fan):
        def run():
            rng = random.Random(fan.pk)
            barrier.wait()
            for _ in range(12):
                tip = _tip(fan, creator, rng.randint(10, 900))
                with paid_lock:
                    paid.append(tip)

        return run

    def refunder():
        rng = random.Random(7)
        barrier.wait()
        while not done.is_set() or len(refunded) < len(first):
            with paid_lock:
                candidates = [tip for tip in paid if tip.pk not in refunded]
            if not candidates:
                break
            tip = rng.choice(candidates[: len(first)] if rng.random() < 0.7 else candidates)
            refund_transfer(actor=creator, transfer_id=tip.transfer_id)
            refunded.add(tip.pk)
            if len(refunded) >= len(first) + 10:
                break

    def merger():
        barrier.wait()
        while not done.is_set():
            tasks.merge_earnings_shards(account_ids=[main.pk])

    errors: list = []
    background = threading.Thread(target=lambda: errors.extend(_run_threads([merger])))
    background.start()
    errors += _run_threads([*(tipper(fan) for fan in fans), refunder])
    done.set()
    background.join(timeout=300)
    assert not errors, errors
    assert refunded
    kept = sum(tip.amount - tip.fee for tip in paid if tip.pk not in refunded)
    assert pending_earnings(creator.pk) == kept
    assert all(balance >= 0 for balance in _shard_balances(creator).values())
    retargeted = Leg.objects.filter(
        transfer__kind=Transfer.Kind.REVERSAL, account__kind=PENDING, account__shard=0
    )
    assert retargeted.exists()  # some refunds found their tip's shard merged
    assert check_ledger() == []


def test_the_admin_shows_the_pending_earnings_as_the_sum_of_their_shards(
    admin_client, make_user, fund, shards
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 100_000)
    for amount in (1_000, 2_000, 3_000, 4_000, 5_000, 6_000):
        _tip(fan, creator, amount)
    page = admin_client.get(f"/admin/commerce/account/?kind=earnings_pending&q={creator.username}")
    assert page.status_code == 200
    rows = page.context["cl"].result_list
    assert len(rows) == shards
    assert {row.total_over_shards for row in rows} == {18_900} == {pending_earnings(creator.pk)}
    assert "Total over shards" in page.content.decode()
