"""Room tips at the same instant, on PostgreSQL: every tip pays once and shows once, and
the room's message sequence stays gap-free while members keep chatting."""

import threading
from collections import Counter

import pytest
from django.db import connection

from commerce.models import Tip
from commerce.reconciliation import check_ledger
from commerce.services import create_topup
from community.chat.models import Message
from community.chat.services import send_message
from community.rooms.models import Membership
from tests.support.accounts import client_for

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

TIPPERS = 6


def _run_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def runner(index: int):
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_simultaneous_room_tips_and_chat_keep_the_sequence_whole(make_user, make_room, make_member):
    room = make_room()
    creator = make_user()
    creator_member = make_member(room, creator, nickname="Minji")
    tippers = []
    for number in range(TIPPERS):
        fan = make_user()
        make_member(room, fan, nickname=f"Fan {number}")
        create_topup(user=fan, amount=10_000, currency="KRW")
        tippers.append(fan)

    def work(index: int):
        if index == TIPPERS:  # the creator keeps chatting meanwhile
            for line in range(5):
                send_message(membership=creator_member, body=f"line {line}")
            return 201
        response = client_for(tippers[index]).post(
            "/api/v1/tips/",
            {"membership": creator_member.pk, "amount": 1000, "currency": "KRW", "note": "hi"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"tip-{index}",
        )
        return response.status_code

    statuses = _run_threads(TIPPERS + 1, work)
    assert Counter(statuses) == {201: TIPPERS + 1}
    assert Tip.objects.count() == TIPPERS
    assert Message.objects.filter(room=room, kind=Message.Kind.TIP).count() == TIPPERS
    assert Tip.objects.filter(room_message__isnull=True).count() == 0
    seqs = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert check_ledger() == []


def test_a_retry_storm_of_one_room_tip_pays_and_posts_once(make_user, make_room, make_member):
    room = make_room()
    creator_member = make_member(room, make_user(), nickname="Minji")
    fan = make_user()
    make_member(room, fan, nickname="Haruto")
    create_topup(user=fan, amount=10_000, currency="KRW")

    def work(index: int):
        response = client_for(fan).post(
            "/api/v1/tips/",
            {"membership": creator_member.pk, "amount": 1000, "currency": "KRW"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="one-sheet",
        )
        return response.status_code

    statuses = _run_threads(6, work)
    assert set(statuses) <= {201, 409}
    assert Tip.objects.count() == 1
    assert Message.objects.filter(room=room, kind=Message.Kind.TIP).count() == 1
    assert Membership.objects.get(pk=creator_member.pk).state == Membership.State.ACTIVE
    assert check_ledger() == []
