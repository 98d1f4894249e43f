"""A tip's posting on PostgreSQL: the transfer, the tip, the balances and the legs in one
statement, prepared once per connection; under concurrent tips to one creator, with a
payer who runs out of money, every total stays exact."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from commerce.models import Account, Leg, Tip, Transfer
from commerce.reconciliation import check_ledger
from commerce.selectors import platform_fee_balances
from commerce.services.ledger import user_account
from tests.commerce.conftest import pending_earnings
from tests.support.accounts import client_for

pytestmark = pytest.mark.postgres_only

TIPS = "/api/v1/tips/"


def _tip(client, *, handle: str, amount: int, key: str):
    return client.post(
        TIPS,
        {"amount": amount, "currency": "KRW", "user": handle},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _is_posting(statement: str) -> bool:
    return statement.startswith('WITH t AS (INSERT INTO "commerce_transfer"')


@pytest.mark.django_db
def test_a_connections_tips_are_prepared_and_a_refused_tip_writes_nothing(
    make_user, fund, wallet_of
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 1_000)
    client = client_for(fan)
    handle = creator.profile.handle
    for index in range(6):
        assert _tip(client, handle=handle, amount=100, key=f"tip-{index}").status_code == 201
    assert any(_is_posting(statement) for statement in _prepared_statements())
    transfers, tips = Transfer.objects.count(), Tip.objects.count()
    legs = Leg.objects.count()

    refused = _tip(client, handle=handle, amount=401, key="too-much")

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "insufficient_funds"
    assert (Transfer.objects.count(), Tip.objects.count(), Leg.objects.count()) == (
        transfers,
        tips,
        legs,
    )
    # The rolled-back savepoint drops the connection's prepared statements (psycopg):
    # the next tips run, and are prepared again, as before.
    for index in range(6, 10):
        response = _tip(client, handle=handle, amount=100, key=f"tip-{index}")
        assert response.status_code == 201, response.content
    assert _tip(client, handle=handle, amount=1, key="one-too-many").status_code == 422
    assert wallet_of(fan) == 0
    assert wallet_of(creator, kind=Account.Kind.EARNINGS_PENDING) == 10 * 90
    assert check_ledger() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_tips_to_one_creator_with_a_payer_running_out(make_user, fund):
    creator = make_user("creator")
    handle = creator.profile.handle
    fans = [make_user(f"fan{index}") for index in range(8)]
    # fan0 can pay three tips of 300; the others every tip they send.
    for index, fan in enumerate(fans):
        fund(fan, 1_000 if index == 0 else 10_000)
    # The fee is split over shards (each tip credits one): its balance is their sum.
    fees_before = platform_fee_balances().get("KRW", 0)
    barrier = threading.Barrier(len(fans))
    per_fan = 25
    errors: list = []
    results: list = [None] * len(fans)

    def work(index: int) -> None:
        try:
            rng = random.Random(index)
            client = client_for(fans[index])
            barrier.wait()
            sent = []
            for number in range(per_fan):
                amount = 300 if index == 0 else rng.randint(1, 400)
                key = f"fan{index}-{number}"
                first = _tip(client, handle=handle, amount=amount, key=key)
                again = _tip(client, handle=handle, amount=amount, key=key)  # a retry
                assert again.status_code == first.status_code
                assert again.json() == first.json()
                assert again.get("Idempotent-Replayed") == "true"
                sent.append((amount, first.status_code, first.json()))
            results[index] = sent
        except BaseException as exc:  # surfaced below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(fans))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors

    statuses = Counter(status for sent in results for _amount, status, _body in sent)
    assert statuses == {201: 7 * per_fan + 3, 422: per_fan - 3}
    assert {body["error"]["code"] for _a, status, body in results[0] if status == 422} == {
        "insufficient_funds"
    }
    paid = [body for sent in results for _amount, status, body in sent if status == 201]
    assert Tip.objects.count() == len(paid) == len({body["id"] for body in paid})
    assert Transfer.objects.filter(kind=Transfer.Kind.TIP).count() == len(paid)
    for index, fan in enumerate(fans):
        spent = sum(amount for amount, status, _body in results[index] if status == 201)
        assert user_account(user_id=fan.pk, kind=Account.Kind.WALLET, currency="KRW").balance == (
            (1_000 if index == 0 else 10_000) - spent
        )
    assert pending_earnings(creator.pk) == sum(body["net"] for body in paid)
    fees = platform_fee_balances()["KRW"]
    assert fees - fees_before == sum(body["fee"] for body in paid)
    # The creator's running balance on each shard: each leg's balance_after follows the
    # one before.
    shards = Account.objects.filter(user=creator, kind=Account.Kind.EARNINGS_PENDING)
    for earnings in shards:
        running = 0
        for amount, balance_after in (
            Leg.objects.filter(account=earnings)
            .order_by("id")
            .values_list("amount", "balance_after")
        ):
            running += amount
            assert balance_after == running
    assert check_ledger() == []
