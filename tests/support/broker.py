"""Celery's broker connection pools in the test process."""


def reset_broker_pools() -> None:
    """Close the broker connections and forget the pools, as Celery does after a fork:
    the next publish opens fresh ones on the broker configured then. A pool closed with
    ``force_close_all`` (or by kombu's after-fork hook) refuses every later acquire."""
    from config.celery import app

    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def broker_pools_closed() -> bool:
    from config.celery import app

    amqp = app.__dict__.get("amqp")
    producers = getattr(amqp, "_producer_pool", None)
    # The producer pool holds its own reference to a connection pool (perhaps an older
    # one than ``app._pool``): any of them closed refuses the next publish.
    pools = [app._pool, producers, getattr(producers, "connections", None)]
    return any(getattr(pool, "_closed", False) for pool in pools if pool is not None)
