"""A transaction's broadcasts (config/realtime.py ``broadcast_on_commit``): after the
commit, one hand-off per group with its events in the order they were asked for."""

import pytest
from django.db import transaction

from config import realtime

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def handed_off(monkeypatch):
    sent: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(
        realtime,
        "send_now",
        lambda group, *events: sent.append((group, [e["type"] for e in events])) or True,
    )
    return sent


def test_one_groups_broadcasts_leave_together_in_order(handed_off):
    with transaction.atomic():
        realtime.broadcast_on_commit("room.1", {"type": "one"})
        realtime.broadcast_on_commit("user.9", {"type": "other group"})
        realtime.broadcast_on_commit("room.1", {"type": "two"}, {"type": "three"})
        assert handed_off == []
    assert handed_off == [("room.1", ["one", "two", "three"]), ("user.9", ["other group"])]


def test_outside_a_transaction_each_leaves_at_once(handed_off):
    realtime.broadcast_on_commit("room.1", {"type": "one"})
    realtime.broadcast_on_commit("room.1", {"type": "two"})
    assert handed_off == [("room.1", ["one"]), ("room.1", ["two"])]


def test_a_rolled_back_savepoint_takes_only_its_own_broadcasts(handed_off):
    with transaction.atomic():
        realtime.broadcast_on_commit("room.1", {"type": "kept"})
        with pytest.raises(RuntimeError), transaction.atomic():
            realtime.broadcast_on_commit("room.1", {"type": "rolled back"})
            raise RuntimeError
        realtime.broadcast_on_commit("room.1", {"type": "after"})
    assert handed_off == [("room.1", ["kept", "after"])]


def test_a_rolled_back_transaction_broadcasts_nothing(handed_off):
    with pytest.raises(RuntimeError), transaction.atomic():
        realtime.broadcast_on_commit("room.1", {"type": "gone"})
        raise RuntimeError
    assert handed_off == []
