"""Celery's broker connection pools in the test process."""

from kombu import pools as kombu_pools


def reset_broker_pools() -> None:
    """Close the broker connections and forget the pools, as Celery and kombu do after a
    fork: the next publish opens fresh ones on the broker configured then. A pool closed
    with ``force_close_all`` (or by kombu's after-fork hook) refuses every later acquire.
    The producer pools live in kombu's process-wide registry (keyed by broker URL), so
    that is reset too: forgetting the app's own reference would fetch the closed one."""
    from config.celery import app

    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    kombu_pools.reset()


def broker_pools_closed() -> bool:
    from config.celery import app

    amqp = app.__dict__.get("amqp")
    producers = getattr(amqp, "_producer_pool", None)
    pools = [app._pool, producers, getattr(producers, "connections", None)]
    pools += list(kombu_pools.connections.values()) + list(kombu_pools.producers.values())
    return any(getattr(pool, "_closed", False) for pool in pools if pool is not None)
