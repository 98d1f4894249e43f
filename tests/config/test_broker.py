"""Celery publishes to a redis:// broker through config.broker's transport: one redis-py
client per channel (kombu built one per command), the same messages on the same queue."""

import uuid

import pytest
from kombu import Exchange, Queue

from config import broker
from config.celery import app as celery_app

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_broker(settings):
    if not settings.REDIS_URL or not celery_app.conf.broker_url.startswith("redis://"):
        pytest.skip("needs REDIS_URL (a real broker)")


def test_publishes_reuse_one_client_and_every_message_arrives(redis_broker):
    name = f"test-broker-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with celery_app.connection_for_write() as conn:
        assert isinstance(conn.transport, broker.Transport)
        channel = conn.channel()
        try:
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second
            producer = conn.Producer(channel)
            for number in range(3):
                producer.publish(
                    {"n": number},
                    exchange=queue.exchange,
                    routing_key=name,
                    declare=[queue],
                    serializer="json",
                )
            bound = queue(channel)
            received = []
            while (message := bound.get(no_ack=True)) is not None:
                received.append(message.payload["n"])
            assert received == [0, 1, 2]
            bound.delete()
        finally:
            channel.close()


def test_a_new_pool_gets_a_new_client(redis_broker):
    """A channel whose pool was dropped (a closed channel, a reconnect) never publishes
    through a client bound to the old, disconnected pool."""
    with celery_app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            with channel.conn_or_acquire() as before:
                assert before.connection_pool is channel.pool
            channel._disconnect_pools()
            with channel.conn_or_acquire() as after:
                assert after is not before
                assert after.connection_pool is channel.pool
                assert after.ping()
        finally:
            channel.close()


def test_a_client_passed_in_is_used_as_is(redis_broker):
    with celery_app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            own = channel._create_client()
            with channel.conn_or_acquire(own) as client:
                assert client is own
        finally:
            channel.close()
