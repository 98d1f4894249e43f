"""Commerce's Celery tasks: the periodic jobs (see CELERY_BEAT_SCHEDULE) and the work a
payment queues on commit. Each takes ids, is idempotent and is retried."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from commerce.services import payouts, rooms, tips
from commerce.services.idempotency import purge_expired_keys

RETRY = {"autoretry_for": (Exception,), "retry_backoff": True, "max_retries": 5}
# Tasks a payment or a merge depends on: retried on database and connection faults only,
# with backoff and jitter, for up to about half an hour.
DATABASE_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError, ConnectionError, TimeoutError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**DATABASE_RETRY)
def notify_tip(tip_id: int) -> bool:
    """One tip's notification, safe to run twice (one notification per tip). Tips are
    now notified through their outbox (``relay_tip_notifications``); this task still
    runs what was queued before, and notifies on demand. Returns whether this run
    notified."""
    return tips.notify_tip(tip_id=tip_id) is not None


@shared_task
def relay_tip_notifications() -> int:
    """The tips' notification outbox relay (beat: every second; with eager tasks, on
    each tip's commit). Not retried: the next run takes what this one left. Returns how
    many tips it took off the outbox."""
    return tips.deliver_tip_notifications()


@shared_task(**RETRY)
def mature_earnings() -> int:
    return payouts.mature_all_earnings()


@shared_task(**DATABASE_RETRY)
def merge_earnings_shards(account_ids: list[int] | None = None) -> int:
    """Move creators' pending-earnings shards into shard 0 (beat: every 5 minutes, for
    every creator with money in a shard; or the ``account_ids`` given, any shard of
    each). Idempotent: a merged creator has nothing left to move. Returns how many
    creators' shards moved."""
    ids = payouts.earnings_merge_ids() if account_ids is None else account_ids
    return sum(1 for account_id in ids if payouts.merge_earnings_shards(account_id=account_id))


@shared_task(**RETRY)
def renew_room_access() -> dict:
    outcomes: dict[str, int] = {}
    for access_id in rooms.due_renewal_ids():
        outcome = rooms.renew_room_access(access_id=access_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(**RETRY)
def expire_pending_transfers() -> int:
    return sum(
        payouts.expire_pending_transfer(pending_id=pending_id)
        for pending_id in payouts.expired_pending_ids()
    )


@shared_task(**RETRY)
def purge_idempotency_keys() -> int:
    return purge_expired_keys()
