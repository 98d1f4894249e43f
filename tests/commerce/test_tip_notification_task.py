"""A tip's recipient hears of it after the payment commits (through the notification
outbox: tests/commerce/test_tip_notification_outbox.py): exactly once (the task may run
twice), never for a payment that rolled back, and the payment's own transaction no
longer carries the notification's queries."""

import pytest
from django.db import OperationalError, connection, transaction

from commerce import tasks
from commerce.models import Tip
from commerce.services import send_tip
from tests.commerce.tipping import tip_through_api

pytestmark = pytest.mark.django_db

TIPS = "/api/v1/tips/"


def _notifications(client) -> list[dict]:
    return client.get("/api/v1/notifications/").json()["results"]


def test_the_recipient_is_notified_once_even_when_the_task_runs_twice(
    make_user, client_for, fund, eager_tasks, django_capture_on_commit_callbacks
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    with django_capture_on_commit_callbacks() as callbacks:
        response = tip_through_api(client_for(fan), creator, "tip-once")
    assert response.status_code == 201, response.content
    # Paid, answered, and nobody notified yet: that is the task's work.
    assert _notifications(client_for(creator)) == []
    for callback in callbacks:
        callback()
    tip = Tip.objects.get()
    listing = _notifications(client_for(creator))
    assert [(row["kind"], row["data"]["tip_id"]) for row in listing] == [("tip", tip.pk)]
    # A redelivered or retried task: no second notification.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.notify_tip.delay(tip.pk).get() is False
    assert len(_notifications(client_for(creator))) == 1
    unread = client_for(creator).get("/api/v1/me/unread/").json()
    assert unread["notifications"] == 1


def test_the_recipients_sockets_hear_of_the_tip_once(
    make_user, fund, eager_tasks, django_capture_on_commit_callbacks, me_events
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    with django_capture_on_commit_callbacks():  # the task queued on commit: not run
        tip, _recipient = send_tip(
            sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle
        )
    received = me_events(creator)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.notify_tip.delay(tip.pk)
    assert received() == ["notification.created", "unread.updated"]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.notify_tip.delay(tip.pk)
    assert received() == []
    assert tasks.notify_tip.delay(0).get() is False  # a tip that is not there: nothing


def test_a_payment_that_rolls_back_notifies_nobody(
    make_user, client_for, fund, eager_tasks, django_capture_on_commit_callbacks, me_events
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 500)
    received = me_events(creator)
    # Too little money: the tip row written before the balance update rolls back.
    with django_capture_on_commit_callbacks(execute=True):
        response = tip_through_api(client_for(fan), creator, "tip-broke", amount=1000)
    assert response.status_code == 422, response.content
    # A fault after the whole tip was written, before the commit.
    with (
        django_capture_on_commit_callbacks(execute=True) as more,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)
        raise RuntimeError("the request failed before the commit")
    assert more == []
    assert not Tip.objects.exists()
    assert _notifications(client_for(creator)) == []
    assert received() == []


def test_the_task_retries_a_database_fault_and_then_notifies_once(
    make_user, client_for, fund, eager_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    # Commit callbacks do not run here: the task is run by hand below.
    tip, _recipient = send_tip(
        sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle
    )
    failures = []
    real = tasks.tips.notify_tip

    def flaky(*, tip_id):
        if not failures:
            failures.append(tip_id)
            raise OperationalError("the server closed the connection")
        return real(tip_id=tip_id)

    monkeypatch.setattr(tasks.tips, "notify_tip", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        # As a worker runs it: the retry is run again (in process, without the backoff).
        result = tasks.notify_tip.apply(args=[tip.pk], throw=False)
    assert failures == [tip.pk]
    assert result.successful(), result.traceback
    assert len(_notifications(client_for(creator))) == 1


def test_the_tips_transaction_is_a_fixed_number_of_queries(
    make_user, fund, django_assert_num_queries
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)
    # Savepoint, profiles, accounts, then the transfer, the tip, its notification's
    # outbox row, the balances and the legs in one statement (on SQLite: the transfer,
    # the tip, the outbox row, an UPDATE per account and the legs' INSERT), release: no
    # notification query any more.
    expected = 5 if connection.vendor == "postgresql" else 11
    with django_assert_num_queries(expected):
        send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)


def test_a_handle_is_found_however_it_is_typed_and_an_unknown_one_is_404(
    make_user, client_for, fund
):
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    client = client_for(fan)
    typed = {"amount": 100, "currency": "KRW", "user": f" @{creator.profile.handle.upper()}"}
    response = client.post(TIPS, typed, format="json", HTTP_IDEMPOTENCY_KEY="typed")
    assert response.status_code == 201, response.content
    assert response.json()["recipient"]["handle"] == creator.profile.handle
    unknown = {**typed, "user": "nobody-has-this-handle"}
    response = client.post(TIPS, unknown, format="json", HTTP_IDEMPOTENCY_KEY="unknown")
    assert response.status_code == 404, response.content
