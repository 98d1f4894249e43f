"""Who may reverse what: moderators never, staff only with ``commerce.reverse_transfer``,
a payout's transfers never; ``ledger_check`` catches earnings paid out twice."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client

from commerce.models import Account, PayoutRequest, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import refund_transfer, send_tip
from commerce.services.ledger import LegSpec, user_account, write_transfer
from config.errors import ConflictError, DomainError
from tests.community.moderation_helpers import make_moderator
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


def transfer_permission(codename: str) -> Permission:
    """A permission on commerce.Transfer, as ``migrate`` creates it. A transactional test
    elsewhere on this worker may have flushed the table (and re-numbered the content
    types the process caches), so it is looked up fresh and created when missing."""
    ContentType.objects.clear_cache()
    content_type, _created = ContentType.objects.get_or_create(
        app_label="commerce", model="transfer"
    )
    permission, _created = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": codename}
    )
    return permission


def balance(user, kind=Account.Kind.EARNINGS_AVAILABLE, currency="KRW") -> int:
    return user_account(user_id=user.pk, kind=kind, currency=currency).balance


def web(user) -> Client:
    client = client_for(user, session=True)
    return client


def reverser(make_user, username="ledger-clerk"):
    """Staff holding exactly the explicit commerce permission (and what the admin needs)."""
    user = make_user(username)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(transfer_permission("reverse_transfer"))
    user.user_permissions.add(transfer_permission("view_transfer"))
    return user


@pytest.fixture
def approved_payout(settings, make_user, fund, admin_client):
    """A creator tipped 1000, released 900, asked for a payout of 900 (API), approved."""
    fan, creator = make_user(), make_user()
    fund(fan, 5000)
    send_tip(sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle)
    settings.COMMERCE_EARNINGS_HOLD = timedelta(seconds=0)
    call_command("commerce_jobs", only="mature")
    response = client_for(creator).post(
        "/api/v1/payouts/",
        {"amount": 900, "currency": "KRW"},
        format="json",
        headers={"Idempotency-Key": "payout-1"},
    )
    assert response.status_code == 201, response.content
    payout = PayoutRequest.objects.get(pk=response.json()["id"])
    admin_client.post(
        "/admin/commerce/payoutrequest/", {"action": "approve", "_selected_action": [payout.pk]}
    )
    payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.APPROVED
    posting = Transfer.objects.get(resolves=payout.hold)
    return creator, fan, payout, posting


def second_payout(client, key="payout-2"):
    return client.post(
        "/api/v1/payouts/",
        {"amount": 900, "currency": "KRW"},
        format="json",
        headers={"Idempotency-Key": key},
    )


def test_a_moderator_cannot_reverse_an_approved_payout(approved_payout, make_user):
    creator, _fan, payout, posting = approved_payout
    moderator = make_moderator(make_user, "mod")
    response = web(moderator).post(f"/wallet/refund/{posting.pk}/", follow=True)
    assert response.status_code == 200
    assert b"No such transfer" in response.content
    assert not Transfer.objects.filter(reverses=posting).exists()
    assert balance(creator) == 0
    payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.APPROVED
    # The same money cannot be asked for twice.
    assert second_payout(client_for(creator)).status_code == 422
    assert check_ledger() == []


def test_a_moderator_cannot_refund_a_tip_either(approved_payout, make_user):
    _creator, fan, _payout, _posting = approved_payout
    tip = Transfer.objects.get(kind=Transfer.Kind.TIP)
    web(make_moderator(make_user, "mod")).post(f"/wallet/refund/{tip.pk}/")
    assert not Transfer.objects.filter(reverses=tip).exists()
    assert balance(fan, kind=Account.Kind.WALLET) == 4000


def test_staff_without_the_permission_reverse_nothing(approved_payout, make_user):
    _creator, _fan, _payout, _posting = approved_payout
    tip = Transfer.objects.get(kind=Transfer.Kind.TIP)
    staff = make_user("plain-staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    staff.user_permissions.add(transfer_permission("view_transfer"))
    client = web(staff)
    client.post(f"/wallet/refund/{tip.pk}/")
    changelist = client.get("/admin/commerce/transfer/")
    assert changelist.status_code == 200
    assert b'value="refund"' not in changelist.content
    client.post("/admin/commerce/transfer/", {"action": "refund", "_selected_action": [tip.pk]})
    assert not Transfer.objects.filter(reverses=tip).exists()


def test_nobody_reverses_a_payouts_transfers(approved_payout, make_user, admin_client):
    creator, _fan, payout, posting = approved_payout
    clerk = web(reverser(make_user))
    for client in (clerk, admin_client):
        response = client.post(f"/wallet/refund/{posting.pk}/", follow=True)
        assert b"never reversed" in response.content
    admin_client.post(
        "/admin/commerce/payoutrequest/", {"action": "settle", "_selected_action": [payout.pk]}
    )
    payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.SETTLED
    maturation = Transfer.objects.get(kind=Transfer.Kind.MATURATION)
    for transfer in (posting, payout.settlement, maturation):
        admin_client.post(
            "/admin/commerce/transfer/", {"action": "refund", "_selected_action": [transfer.pk]}
        )
        clerk.post(f"/wallet/refund/{transfer.pk}/")
    assert not Transfer.objects.filter(kind=Transfer.Kind.REVERSAL).exists()
    assert balance(creator) == 0
    assert check_ledger() == []


def test_a_refund_never_takes_released_earnings(approved_payout, make_user):
    _creator, _fan, _payout, _posting = approved_payout
    tip = Transfer.objects.get(kind=Transfer.Kind.TIP)
    clerk = web(reverser(make_user))
    # The creator's pending earnings were released, so nothing is left to take back.
    response = clerk.post(f"/wallet/refund/{tip.pk}/", follow=True)
    assert b"Insufficient funds" in response.content
    assert not Transfer.objects.filter(reverses=tip).exists()


def test_a_refund_is_the_exact_mirror_and_happens_once(make_user, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 5000)
    tip, _ = send_tip(
        sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle
    )
    clerk = reverser(make_user)
    reversal = refund_transfer(actor=clerk, transfer_id=tip.transfer_id)
    original = {leg.account_id: (leg.amount, leg.gross, leg.fee) for leg in tip.transfer.legs.all()}
    mirrored = {leg.account_id: (leg.amount, leg.gross, leg.fee) for leg in reversal.legs.all()}
    assert mirrored == {key: tuple(-v for v in value) for key, value in original.items()}
    with pytest.raises(ConflictError):
        refund_transfer(actor=clerk, transfer_id=tip.transfer_id)
    with pytest.raises(DomainError) as caught:
        refund_transfer(actor=clerk, transfer_id=reversal.pk)
    assert caught.value.code == "not_reversible"
    assert balance(fan, kind=Account.Kind.WALLET) == 5000
    assert check_ledger() == []


def test_moderators_group_has_no_commerce_permission():
    from tests.community.moderation_helpers import moderators_group

    assert not moderators_group().permissions.filter(content_type__app_label="commerce").exists()


# --- ledger_check catches the old attack's shape -------------------------------------------


def _reverse_the_old_way(posting: Transfer) -> None:
    """What the old refund path wrote: the payout posting's mirror, with no checks."""
    with transaction.atomic():
        write_transfer(
            kind=Transfer.Kind.REVERSAL,
            legs=[
                LegSpec(account=leg.account, amount=-leg.amount, gross=-leg.gross)
                for leg in posting.legs.select_related("account")
            ],
            reverses=posting,
        )


def test_ledger_check_catches_earnings_paid_out_twice(approved_payout, admin_client, capsys):
    creator, _fan, _payout, posting = approved_payout
    call_command("ledger_check")  # healthy so far
    _reverse_the_old_way(posting)
    assert balance(creator) == 900
    response = second_payout(client_for(creator))
    assert response.status_code == 201
    admin_client.post(
        "/admin/commerce/payoutrequest/",
        {"action": "approve", "_selected_action": [response.json()["id"]]},
    )
    assert PayoutRequest.objects.filter(status=PayoutRequest.Status.APPROVED).count() == 2
    capsys.readouterr()
    with pytest.raises(CommandError):
        call_command("ledger_check")
    err = capsys.readouterr().err
    assert "payouts_never_reversed: transfer" in err and f"transfer {posting.pk}" in err
    assert f"earnings_paid_out_at_most_once: user {creator.pk} was paid 1800 KRW out of 900" in err


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_of_one_tip_reverse_it_once(make_user):
    from commerce.services import create_topup

    fan, creator = make_user(), make_user()
    create_topup(user=fan, amount=5000, currency="KRW")
    tip, _ = send_tip(
        sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle
    )
    # A superuser (a transactional test's flush removed the permission rows).
    clerk = make_user("root")
    clerk.is_staff = clerk.is_superuser = True
    clerk.save(update_fields=["is_staff", "is_superuser"])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def work(actor):
        try:
            barrier.wait()
            refund_transfer(actor=actor, transfer_id=tip.transfer_id)
            outcomes.append("reversed")
        except DomainError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(actor,)) for actor in (clerk, creator, clerk, creator)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Counter(outcomes) == Counter({"reversed": 1, "already_reversed": 3})
    assert Transfer.objects.filter(reverses_id=tip.transfer_id).count() == 1
    assert balance(fan, kind=Account.Kind.WALLET) == 5000
    assert check_ledger() == []


# --- the same rules through the API ---------------------------------------------------------


def refund(client, transfer_id: int, key: str):
    return client.post(
        "/api/v1/refunds/",
        {"transfer": transfer_id},
        format="json",
        headers={"Idempotency-Key": key},
    )


def test_api_refunds_follow_the_same_rules(approved_payout, make_user):
    creator, fan, _payout, posting = approved_payout
    tip = Transfer.objects.get(kind=Transfer.Kind.TIP)
    moderator = client_for(make_moderator(make_user, "mod"))
    assert refund(moderator, posting.pk, "m1").status_code == 404
    assert refund(moderator, tip.pk, "m2").status_code == 404
    assert refund(client_for(fan), tip.pk, "f1").status_code == 404
    clerk = client_for(reverser(make_user))
    refused = refund(clerk, posting.pk, "c1")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "not_reversible"
    assert not Transfer.objects.filter(kind=Transfer.Kind.REVERSAL).exists()
    assert balance(creator) == 0


def test_a_creator_refunds_a_tip_through_the_api_once(make_user, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 5000)
    tip, _ = send_tip(
        sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle
    )
    api = client_for(creator)
    first = refund(api, tip.transfer_id, "r1")
    assert first.status_code == 201, first.content
    assert first.json()["reverses"] == tip.transfer_id
    replay = refund(api, tip.transfer_id, "r1")
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    again = refund(api, tip.transfer_id, "r2")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_reversed"
    assert balance(fan, kind=Account.Kind.WALLET) == 5000
    assert check_ledger() == []
