"""A tip's notification goes through an outbox written with the payment: the relay
(beat, every second) notifies each paid tip's recipient at least once and never twice,
whatever the broker was doing when the payment committed."""

import threading

import pytest
from celery.app.task import Task
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection, transaction
from kombu.exceptions import OperationalError as BrokerError

from commerce import tasks
from commerce.models import Tip, TipNotificationOutbox
from commerce.services import send_tip
from config.celery import app as celery_app
from tests.commerce.tipping import tip_through_api
from tests.config.test_metrics import scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_broker():
    """Tasks go to a broker, as in production (beat runs the relay), whatever the
    test run's own configuration."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def broker_down(monkeypatch, with_broker):
    """Every publish fails, as when Redis is unreachable; the attempts are recorded."""
    attempts = []

    def refuse(task, *args, **kwargs):
        attempts.append(task.name)
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)
    return attempts


def _tip_notifications(client) -> list[int]:
    results = client.get("/api/v1/notifications/").json()["results"]
    return sorted(row["data"]["tip_id"] for row in results if row["kind"] == "tip")


def _relay(django_capture_on_commit_callbacks) -> int:
    """One relay run as a worker runs beat's task (its broadcasts sent on commit)."""
    with django_capture_on_commit_callbacks(execute=True):
        return tasks.relay_tip_notifications.apply(throw=True).get()


def test_beat_runs_the_relay_every_second():
    entry = settings.CELERY_BEAT_SCHEDULE["commerce-relay-tip-notifications"]
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] <= 1.0


def test_a_tip_paid_while_the_broker_is_down_is_notified_once_the_relay_runs(
    make_user,
    client_for,
    fund,
    broker_down,
    django_capture_on_commit_callbacks,
    monkeypatch,
    me_events,
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    received = me_events(creator)
    with django_capture_on_commit_callbacks(execute=True):
        response = tip_through_api(client_for(fan), creator, "tip-broker-down")
    assert response.status_code == 201, response.content
    # The payment needs no broker: nothing was published, nothing is lost.
    assert broker_down == []
    assert _tip_notifications(client_for(creator)) == []
    tip = Tip.objects.get()
    assert list(TipNotificationOutbox.objects.values_list("tip_id", flat=True)) == [tip.pk]
    # The broker is back (and with it the push channel's own task); beat's next relay
    # run delivers the notification.
    monkeypatch.undo()
    assert _relay(django_capture_on_commit_callbacks) == 1
    assert _tip_notifications(client_for(creator)) == [tip.pk]
    assert received() == ["notification.created", "unread.updated"]
    assert not TipNotificationOutbox.objects.exists()
    # Later runs: nothing left, nothing sent again.
    assert _relay(django_capture_on_commit_callbacks) == 0
    assert received() == []
    assert client_for(creator).get("/api/v1/me/unread/").json()["notifications"] == 1


def test_the_relays_runs_and_each_tips_wait_are_on_metrics(
    make_user, client_for, fund, with_broker, django_capture_on_commit_callbacks
):
    """Operators see the relay run (an alert when it stops: beat or the workers down)
    and how long tips waited for their notification."""
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    for key in ("tip-metric-1", "tip-metric-2"):
        with django_capture_on_commit_callbacks(execute=True):
            assert tip_through_api(client_for(fan), creator, key).status_code == 201
    before = scrape()
    assert _relay(django_capture_on_commit_callbacks) == 2
    assert _relay(django_capture_on_commit_callbacks) == 0
    after = scrape()
    runs = "moim_tip_outbox_relay_runs_total"
    delays = "moim_tip_notification_delay_seconds_count"
    assert value(after, runs) == value(before, runs) + 2
    assert value(after, delays) == value(before, delays) + 2  # the empty run observed none
    waited = "moim_tip_notification_delay_seconds_bucket"
    assert value(after, waited, le="60.0") == value(before, waited, le="60.0") + 2


def test_a_refused_or_rolled_back_payment_leaves_nothing_to_relay(
    make_user, client_for, fund, with_broker, django_capture_on_commit_callbacks
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 500)
    with django_capture_on_commit_callbacks(execute=True):
        response = tip_through_api(client_for(fan), creator, "tip-broke", amount=1000)
    assert response.status_code == 422, response.content
    with pytest.raises(RuntimeError), transaction.atomic():
        send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)
        assert TipNotificationOutbox.objects.count() == 1  # written with the payment
        raise RuntimeError("the request failed before the commit")
    assert not Tip.objects.exists()
    assert not TipNotificationOutbox.objects.exists()
    assert _relay(django_capture_on_commit_callbacks) == 0
    assert _tip_notifications(client_for(creator)) == []


def test_a_database_fault_mid_batch_rolls_it_back_and_the_next_run_delivers_each_once(
    make_user,
    client_for,
    fund,
    with_broker,
    django_capture_on_commit_callbacks,
    monkeypatch,
    me_events,
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    client = client_for(fan)
    for key in ("first", "second", "third"):
        assert tip_through_api(client, creator, key, amount=100).status_code == 201
    tip_ids = sorted(Tip.objects.values_list("pk", flat=True))
    received = me_events(creator)
    real = tasks.tips.notify_tip_received
    seen = []

    def dies_on_the_second(*, tip):
        seen.append(tip.pk)
        if len(seen) == 2:
            raise OperationalError("the server closed the connection unexpectedly")
        return real(tip=tip)

    monkeypatch.setattr(tasks.tips, "notify_tip_received", dies_on_the_second)
    with pytest.raises(OperationalError):
        _relay(django_capture_on_commit_callbacks)
    # The first tip's notification went with the batch: nothing half-done, nothing sent.
    assert seen == tip_ids[:2]
    assert _tip_notifications(client_for(creator)) == []
    assert received() == []
    assert TipNotificationOutbox.objects.count() == 3
    assert _relay(django_capture_on_commit_callbacks) == 3
    assert _tip_notifications(client_for(creator)) == tip_ids
    assert received() == ["notification.created", "unread.updated"] * 3


def test_a_tip_notified_already_is_not_notified_again(
    make_user, client_for, fund, with_broker, django_capture_on_commit_callbacks, me_events
):
    # A notification written by the task queued before the outbox existed, or a run
    # that notified and then lost its connection before it could say so.
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    assert tip_through_api(client_for(fan), creator, "tip-twice").status_code == 201
    tip = Tip.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.notify_tip.apply(args=[tip.pk], throw=True).get() is True
    received = me_events(creator)
    assert _relay(django_capture_on_commit_callbacks) == 1
    assert received() == []
    assert _tip_notifications(client_for(creator)) == [tip.pk]


def test_a_notification_that_fails_for_another_reason_does_not_hold_up_the_others(
    make_user, client_for, fund, with_broker, django_capture_on_commit_callbacks, monkeypatch
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    for key in ("first", "second"):
        assert tip_through_api(client_for(fan), creator, key, amount=100).status_code == 201
    first, second = sorted(Tip.objects.values_list("pk", flat=True))
    real = tasks.tips.notify_tip_received

    def broken_for_the_first(*, tip):
        if tip.pk == first:
            raise ValueError("a bug in the notification")
        return real(tip=tip)

    monkeypatch.setattr(tasks.tips, "notify_tip_received", broken_for_the_first)
    assert _relay(django_capture_on_commit_callbacks) == 2
    assert _tip_notifications(client_for(creator)) == [second]
    assert not TipNotificationOutbox.objects.exists()


def test_the_relay_takes_the_outbox_in_batches_until_its_time_is_up(
    make_user, client_for, fund, with_broker, django_capture_on_commit_callbacks, monkeypatch
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    for index in range(5):
        assert (
            tip_through_api(client_for(fan), creator, f"tip-{index}", amount=100).status_code == 201
        )
    monkeypatch.setattr(tasks.tips, "RELAY_BATCH", 2)
    monkeypatch.setattr(tasks.tips, "RELAY_BUDGET_SECONDS", 0)
    # Out of time after its first batch: the rest is the next run's.
    assert _relay(django_capture_on_commit_callbacks) == 2
    assert TipNotificationOutbox.objects.count() == 3
    monkeypatch.setattr(tasks.tips, "RELAY_BUDGET_SECONDS", 5)
    assert _relay(django_capture_on_commit_callbacks) == 3
    assert len(_tip_notifications(client_for(creator))) == 5


def test_without_a_broker_the_relay_runs_on_commit(
    make_user, client_for, fund, eager_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    # `make run`: eager tasks and no beat.
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    real = tasks.tips.notify_tip_received

    def database_gone(*, tip):
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(tasks.tips, "notify_tip_received", database_gone)
    with django_capture_on_commit_callbacks(execute=True):
        assert tip_through_api(client_for(fan), creator, "tip-eager-1").status_code == 201
    # Paid; its notification failed with the database and waits in the outbox.
    assert _tip_notifications(client_for(creator)) == []
    assert TipNotificationOutbox.objects.count() == 1
    monkeypatch.setattr(tasks.tips, "notify_tip_received", real)
    with django_capture_on_commit_callbacks(execute=True):
        assert tip_through_api(client_for(fan), creator, "tip-eager-2").status_code == 201
    assert _tip_notifications(client_for(creator)) == sorted(
        Tip.objects.values_list("pk", flat=True)
    )
    assert not TipNotificationOutbox.objects.exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_relays_share_the_outbox_without_waiting_or_repeating(make_user, client_for, fund):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        for key in ("first", "second"):
            assert tip_through_api(client_for(fan), creator, key, amount=100).status_code == 201
    finally:
        celery_app.conf.task_always_eager = previous
    first, second = sorted(Tip.objects.values_list("pk", flat=True))
    locked, release, outcome = threading.Event(), threading.Event(), {}

    def another_relay_holding_the_first():
        try:
            with transaction.atomic():
                TipNotificationOutbox.objects.select_for_update().get(tip_id=first)
                locked.set()
                release.wait(10)
        finally:
            close_old_connections()
            connection.close()

    other = threading.Thread(target=another_relay_holding_the_first)
    other.start()
    try:
        assert locked.wait(10)
        # Not blocked by the other's row: takes the second tip only.
        outcome["while_locked"] = tasks.relay_tip_notifications.apply(throw=True).get()
        outcome["left"] = list(TipNotificationOutbox.objects.values_list("tip_id", flat=True))
    finally:
        release.set()
        other.join(10)
    assert outcome == {"while_locked": 1, "left": [first]}
    assert tasks.relay_tip_notifications.apply(throw=True).get() == 1
    assert _tip_notifications(client_for(creator)) == [first, second]
