"""Ledger transfers per second against pgbench's TPC-B-like run, on the same PostgreSQL.

    DATABASE_URL=postgres://... .venv/bin/python -m bench.ledger [--workers 1 8 32] [--seconds 10]

Each worker is a process with its own database connection, posting real transfers
through the services (guarded balance updates, legs, the deferred sum-to-zero trigger):

* ``spread``: wallet-to-wallet transfers between 200 accounts picked at random;
* ``hot``: every transfer is a tip to ONE creator (3 legs: payer, creator, platform fee),
  so every transaction updates one of the creator's earnings rows (one of
  ``COMMERCE_EARNINGS_SHARDS`` picked at random; 1: every tip the same row; no merge
  runs during the measurement) and one of ``COMMERCE_PLATFORM_FEE_SHARDS`` fee rows;
* ``creators``: the same tips, each to one of the 200 members picked at random: the
  control for ``hot``, so the gap between the two is what the hot creator's row costs.
  While each runs, ``pg_stat_activity`` is sampled: ``hot_lock_wait_share`` and
  ``creators_lock_wait_share`` are the shares of the samples of busy sessions (in a
  statement or in a transaction) that were waiting on a lock.

pgbench's TPC-B-like transaction (3 updates, a select and an insert) is measured in the
same run at the same client counts; the ratio is ledger / pgbench. ``ledger_check`` must
pass afterwards.

A tip's notification goes through an outbox row written with the payment, which beat's
relay task delivers (``commerce.tasks.relay_tip_notifications``): with a broker
(``REDIS_URL``) the tip rows measure the payment, as an API worker does it, and the
outbox rows, which no relay takes here, are deleted after each measurement; with eager
tasks (no broker) each tip also writes its notification in the worker.
"""

import argparse
import multiprocessing
import os
import random
import tempfile
import threading
import time
from collections import Counter

ACCOUNTS = 200
FUNDING = 10**9
TARGET_RATIO = 0.4
# Issue #26: tips to one hot creator at 8 workers.
HOT_TARGET_RATIO = 0.15


def _setup():
    from bench.fixtures import bench_users
    from commerce.models import Account, Transfer
    from commerce.services.ledger import LegSpec, post_transfer, system_account, user_account

    users = bench_users(ACCOUNTS)
    wallets = [
        user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW") for user in users
    ]
    clearing = system_account(kind=Account.Kind.PROVIDER_CLEARING, currency="KRW")
    post_transfer(
        kind=Transfer.Kind.TOPUP,
        legs=[LegSpec(account=clearing, amount=-FUNDING * ACCOUNTS)]
        + [LegSpec(account=wallet, amount=FUNDING) for wallet in wallets],
    )
    return users, wallets


class _LockWaitSampler:
    """The share of busy database sessions waiting on a lock, sampled every 20 ms from
    ``pg_stat_activity`` (this database's client backends, the sampler excluded)."""

    SQL = (
        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
        "AND state IN ('active', 'idle in transaction')"
    )

    def __init__(self) -> None:
        self.samples: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
            while not self._stop.is_set():
                for (waiting,) in connection.execute(self.SQL):
                    self.samples[bool(waiting)] += 1
                self._stop.wait(0.02)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def share(self) -> float:
        total = sum(self.samples.values())
        return round(self.samples[True] / total, 3) if total else 0.0


def _measure(workers: int, seconds: float, operation, sampler=None) -> float:
    """Transfers per second from ``workers`` processes (like app server workers: no
    shared interpreter lock), each with its own database connection. ``sampler`` (a
    :class:`_LockWaitSampler`) runs while the clock does, started after the fork."""
    from django.db import connections

    context = multiprocessing.get_context("fork")
    counts = context.Queue()
    ready = context.Barrier(workers + 1)

    def worker(index: int) -> None:
        rng = random.Random(index)
        done = 0
        try:
            operation(rng)  # connect and warm up before the clock starts
            ready.wait()
            stop_at = time.perf_counter() + seconds
            while time.perf_counter() < stop_at:
                operation(rng)
                done += 1
        finally:
            connections.close_all()
            counts.put(done)

    # Children must share neither the parent's sockets nor its connection pool (the
    # pool's threads do not survive a fork): each child opens its own.
    connections.close_all()
    for connection in connections.all():
        if hasattr(connection, "close_pool"):
            connection.close_pool()
    processes = [context.Process(target=worker, args=(i,)) for i in range(workers)]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    if sampler is not None:
        sampler.start()
    try:
        total = sum(counts.get(timeout=seconds + 120) for _ in processes)
    finally:
        if sampler is not None:
            sampler.stop()
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    if any(process.exitcode for process in processes):
        raise RuntimeError("a benchmark worker failed")
    return total / elapsed


def _purge_queued_tasks() -> None:
    """Drop the tips' notifications waiting in the outbox and anything queued on the
    broker (nothing runs them here)."""
    from commerce.models import TipNotificationOutbox
    from config.celery import app

    if not app.conf.task_always_eager:
        TipNotificationOutbox.objects.all().delete()
        app.control.purge()


def run(config: dict) -> dict:
    """``bench.run``'s entry point: the figures plus the Markdown rows."""
    from bench import pgbench

    workers_list = config.get("ledger_workers", [1, 8, 32])
    seconds = config.get("ledger_seconds", 10)
    if not pgbench.available():
        return {"skipped": "needs PostgreSQL in DATABASE_URL and pgbench on PATH"}

    from commerce.models import Transfer
    from commerce.services import send_tip
    from commerce.services.ledger import LegSpec, post_transfer
    from profiles.models import Profile

    users, wallets = _setup()
    handle_of = dict(Profile.objects.filter(user__in=users).values_list("user_id", "handle"))
    handles = [handle_of[user.pk] for user in users]
    hot_handle = handles[0]

    def spread(rng: random.Random) -> None:
        payer, payee = rng.sample(range(ACCOUNTS), 2)
        amount = rng.randint(1, 1000)
        post_transfer(
            kind=Transfer.Kind.ADJUSTMENT,
            legs=[
                LegSpec(account=wallets[payer], amount=-amount),
                LegSpec(account=wallets[payee], amount=amount),
            ],
        )

    def hot(rng: random.Random) -> None:
        payer = users[rng.randrange(1, ACCOUNTS)]
        send_tip(
            sender=payer, amount=rng.randint(1, 1000), currency="KRW", recipient_handle=hot_handle
        )

    def creators(rng: random.Random) -> None:
        payer, creator = rng.sample(range(ACCOUNTS), 2)
        send_tip(
            sender=users[payer],
            amount=rng.randint(1, 1000),
            currency="KRW",
            recipient_handle=handles[creator],
        )

    # Scale ≥ clients, as pgbench's documentation asks: fewer branches than clients would
    # make the baseline itself one hot row.
    pgbench.initialise(max(workers_list))
    results: dict = {"workers": {}, "rows": []}
    for workers in workers_list:
        sampler, creators_sampler = _LockWaitSampler(), _LockWaitSampler()
        entry = {"spread_tps": round(_measure(workers, seconds, spread), 1)}
        entry["hot_tps"] = round(_measure(workers, seconds, hot, sampler), 1)
        _purge_queued_tasks()
        entry["creators_tps"] = round(_measure(workers, seconds, creators, creators_sampler), 1)
        _purge_queued_tasks()
        entry["pgbench_tps"] = round(pgbench.tps(clients=workers, seconds=int(seconds)), 1)
        entry["hot_lock_wait_share"] = sampler.share
        entry["creators_lock_wait_share"] = creators_sampler.share
        base = entry["pgbench_tps"] or float("nan")
        entry["spread_ratio"] = round(entry["spread_tps"] / base, 3)
        entry["hot_ratio"] = round(entry["hot_tps"] / base, 3)
        entry["creators_ratio"] = round(entry["creators_tps"] / base, 3)
        results["workers"][str(workers)] = entry
        results["rows"] += [
            f"| ledger transfers/s, {workers} workers, 200 accounts | {entry['spread_tps']} "
            f"| {entry['pgbench_tps']} (pgbench TPC-B-like) | {entry['spread_ratio']} "
            f"| {TARGET_RATIO} |",
            f"| ledger tips/s to one hot creator, {workers} workers | {entry['hot_tps']} "
            f"| {entry['pgbench_tps']} (pgbench TPC-B-like) | {entry['hot_ratio']} "
            f"| {HOT_TARGET_RATIO if workers == 8 else ''} |",
            f"| ledger tips/s to 200 creators, {workers} workers (hot creator: "
            f"{entry['hot_lock_wait_share']:.1%} of busy sessions waiting on a lock, these "
            f"tips: {entry['creators_lock_wait_share']:.1%}) "
            f"| {entry['creators_tps']} | {entry['pgbench_tps']} (pgbench TPC-B-like) "
            f"| {entry['creators_ratio']} | |",
        ]
    results["ledger_check"] = ledger_check()
    results["rows"].append(
        f"| `manage.py ledger_check` after the run | {results['ledger_check']['outcome']} "
        "| | | passes |"
    )
    return results


def ledger_check() -> dict:
    """Run the ``ledger_check`` command as an operator would; its verdict and output."""
    import io

    from django.core.management import CommandError, call_command

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ledger_check", stdout=out, stderr=err)
    except CommandError as error:
        return {"passed": False, "outcome": str(error), "output": err.getvalue()}
    return {"passed": True, "outcome": "passes", "output": out.getvalue().strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    private_root = os.path.join(tempfile.gettempdir(), "moim-bench-private")
    os.environ.setdefault("MEDIA_PRIVATE_ROOT", private_root)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    results = run({"ledger_workers": args.workers, "ledger_seconds": args.seconds})
    for row in results.get("rows", [results.get("skipped")]):
        print(row)


if __name__ == "__main__":
    main()
