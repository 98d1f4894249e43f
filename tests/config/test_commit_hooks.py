"""Commit hooks that run once per transaction (config/commit_hooks.py)."""

import pytest
from django.db import transaction

from config.commit_hooks import on_commit_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_key_runs_once_after_the_commit_and_other_keys_run_too():
    ran: list[str] = []
    with transaction.atomic():
        on_commit_once(("room", 1), lambda: ran.append("room 1, first"))
        on_commit_once(("room", 1), lambda: ran.append("room 1, second"))
        on_commit_once(("room", 2), lambda: ran.append("room 2"))
        assert ran == []
    assert ran == ["room 1, first", "room 2"]
    with transaction.atomic():  # the next transaction asks afresh
        on_commit_once(("room", 1), lambda: ran.append("room 1, next"))
    assert ran[-1] == "room 1, next"


def test_a_rolled_back_transaction_runs_nothing():
    ran: list[str] = []
    with pytest.raises(RuntimeError), transaction.atomic():
        on_commit_once("key", lambda: ran.append("rolled back"))
        raise RuntimeError
    assert ran == []


def test_a_rolled_back_savepoint_lets_a_later_write_ask_again():
    ran: list[str] = []
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            on_commit_once("key", lambda: ran.append("in the savepoint"))
            raise RuntimeError
        on_commit_once("key", lambda: ran.append("after it"))
    assert ran == ["after it"]


def test_outside_a_transaction_it_runs_now():
    ran: list[str] = []
    on_commit_once("key", lambda: ran.append("now"))
    on_commit_once("key", lambda: ran.append("now again"))
    assert ran == ["now", "now again"]


def test_robust_hooks_log_and_go_on(caplog):
    ran: list[str] = []

    def fails():
        raise RuntimeError("the cache is down")

    with transaction.atomic():
        on_commit_once("failing", fails, robust=True)
        on_commit_once("other", lambda: ran.append("other"))
    assert ran == ["other"]
    assert "fails" in caplog.text


def test_it_runs_where_the_last_request_would_have_run_it():
    """Read counts asked for after each of a batch's messages go out after the last one."""
    ran: list[str] = []
    with transaction.atomic():
        transaction.on_commit(lambda: ran.append("message 1"))
        on_commit_once("counts", lambda: ran.append("counts"))
        transaction.on_commit(lambda: ran.append("message 2"))
        on_commit_once("counts", lambda: ran.append("counts, asked again"))
    assert ran == ["message 1", "message 2", "counts"]


def test_asked_again_in_a_savepoint_that_rolls_back_it_still_runs():
    ran: list[str] = []
    with transaction.atomic():
        on_commit_once("counts", lambda: ran.append("counts"))
        with pytest.raises(RuntimeError), transaction.atomic():
            on_commit_once("counts", lambda: ran.append("asked in the savepoint"))
            raise RuntimeError
    assert ran == ["counts"]
