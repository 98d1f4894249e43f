"""A database fault in the middle of a tip: the retry with the same key goes through
at once, and the money moves exactly once.

The fault is real: a production-like process serves a copy of the test database from
a private PostgreSQL cluster, the tip waits on a row lock inside its transaction, and
the cluster restarts under it (every connection cut, the server away for a moment).
"""

import threading

import psycopg
import pytest
from rest_framework.test import APIClient

from commerce.models import Account, Tip
from commerce.services.ledger import user_account
from profiles.tokens import refresh_token_for
from tests.faults.processes import (
    app_on_private_postgres,
    http,
    running_test_database_url,
    wait_until,
)

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

TIPS = "/api/v1/tips/"


def _waiting_backends(url: str) -> list[int]:
    """Backends of the test database waiting on a lock (a row, or a key being inserted).

    Asked on a connection of its own in autocommit: inside a transaction PostgreSQL
    keeps showing the first snapshot of pg_stat_activity.
    """
    with psycopg.connect(url, autocommit=True) as observer:
        rows = observer.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [url.rsplit("/", 1)[1]],
        ).fetchall()
    return [pid for (pid,) in rows]


def _tip(client, creator, key: str):
    return client.post(
        TIPS,
        {"user": creator.profile.handle, "amount": 1000, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_tip_cut_off_by_a_database_restart_is_retried_at_once_and_moves_money_once(
    make_user, fund, tmp_path, settings
):
    fan, creator = make_user(), make_user()
    fund(fan, 10_000)
    wallet = user_account(user_id=fan.pk, kind=Account.Kind.WALLET, currency="KRW")
    token = str(refresh_token_for(fan).access_token)
    tip = {"user": creator.profile.handle, "amount": 1000, "currency": "KRW"}

    with app_on_private_postgres(
        str(tmp_path / "uvicorn.log"), SECRET_KEY=settings.SECRET_KEY, THROTTLE_MONEY="1000/min"
    ) as (cluster, url, base):

        def send_tip():
            return http(
                "POST",
                base + TIPS,
                json_body=tip,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"},
            )

        locker = psycopg.connect(url)
        # Hold the fan's wallet row, so the tip stops inside its transaction.
        locker.execute(
            f"SELECT id FROM {Account._meta.db_table} WHERE id = %s FOR UPDATE", [wallet.pk]
        )
        replies = []
        tipping = threading.Thread(target=lambda: replies.append(send_tip()))
        tipping.start()
        wait_until(
            lambda: _waiting_backends(url), timeout=20, message="the tip never reached the lock"
        )
        cluster.restart()
        locker.close()
        tipping.join(timeout=60)

        retried = send_tip()  # at once: not "in flight" for minutes
        replayed = send_tip()
        with psycopg.connect(url) as check:
            tips = check.execute(f"SELECT count(*) FROM {Tip._meta.db_table}").fetchone()[0]
            balance = check.execute(
                f"SELECT balance FROM {Account._meta.db_table} WHERE id = %s", [wallet.pk]
            ).fetchone()[0]

    (cut_off,) = replies
    assert cut_off.status_code == 503, cut_off.text
    assert int(cut_off.headers["Retry-After"]) > 0
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == retried.json()
    assert (tips, balance) == (1, 10_000 - 1000)


def test_a_duplicate_sent_while_the_first_runs_waits_and_replays_it(make_user, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 10_000)
    wallet = user_account(user_id=fan.pk, kind=Account.Kind.WALLET, currency="KRW")
    clients = [APIClient(), APIClient()]
    for client in clients:
        client.force_authenticate(fan)

    with psycopg.connect(running_test_database_url()) as locker:
        locker.execute(
            f"SELECT id FROM {Account._meta.db_table} WHERE id = %s FOR UPDATE", [wallet.pk]
        )
        replies = []
        threads = [
            threading.Thread(target=lambda c=c: replies.append(_tip(c, creator, "k2")))
            for c in clients
        ]
        for thread in threads:
            thread.start()
        # One waits on the wallet row, the other on the key the first one inserted.
        wait_until(lambda: len(_waiting_backends(running_test_database_url())) == 2, timeout=20)
        locker.rollback()  # the first tip goes on; the duplicate waited on its key
        for thread in threads:
            thread.join(timeout=30)

    assert sorted(reply.status_code for reply in replies) == [201, 201]
    assert sorted(reply.get("Idempotent-Replayed", "") for reply in replies) == ["", "true"]
    assert Tip.objects.count() == 1
